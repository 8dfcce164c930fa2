"""The exception every layer raises for a parameter that cannot be used.

A node's start-up (:func:`ness_ros.ros.startup.run`) turns it into its one ``[FATAL]`` line,
``[FATAL] [<node>]: cannot start: parameter <name>: <why>``, and exit code 1.
"""

from __future__ import annotations

__all__ = ["ParameterError"]


class ParameterError(ValueError):
    """The value of parameter ``name`` cannot be used; ``reason`` says why, in one line."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = " ".join(reason.split())
        super().__init__(f"parameter {name}: {self.reason}")
