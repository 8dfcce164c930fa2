"""The one exception type of the benchmarks."""

from __future__ import annotations

__all__ = ["BenchError"]


class BenchError(ValueError):
    """A benchmark option that cannot be used (out of range, an unknown choice); the message
    names the option, what it takes and what it got. ``ness`` prints it as one line and exits
    with 2, as for any other bad command line."""
