"""The one exception type of the command line.

A verb raises :class:`CliError` where it cannot go on; :func:`ness_ros.cli.main.main` prints it,
and the other layers' errors that reach it (bag, data, event, model, benchmark, parameter),
as one line ``ness <verb> [<command>]: <why>`` on stderr and returns its exit status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["USAGE", "CliError", "option_errors"]

#: The exit status of a command line that cannot be run as written (argparse's own).
USAGE = 2


class CliError(ValueError):
    """A verb that cannot go on; the message says why in one line, ``status`` is the exit
    status (1: what was asked failed; :data:`USAGE`: the command line is wrong)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def option_errors(status: int = 1) -> Iterator[None]:
    """Turn the ``ValueError`` of an option that does not validate (a configuration's own
    check: gating, ROI, upsampling) into a :class:`CliError` of ``status``; a ``CliError``
    passes as it is."""
    try:
        yield
    except CliError:
        raise
    except ValueError as exc:
        raise CliError(str(exc), status) from exc
