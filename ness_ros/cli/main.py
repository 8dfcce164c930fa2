"""Entry point of ``ness``: one sub-command per verb, in the manner of ``ros2 VERB``.

Each verb lives in its own module ``ness_ros/cli/<name>_verb.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` to the callable that runs it.
Verb modules are found by name, so adding a verb touches no other file. They import their heavy
dependencies (torch, rclpy) inside the functions they run, so ``ness --help`` stays fast.

Errors: a verb raises (:class:`~ness_ros.cli.errors.CliError`, or lets the error of the layer
that refused through); :func:`main` prints it as one line ``ness <verb> [<command>]: <why>`` on
stderr and returns the exit status (1, or 2 for a command line that cannot be run as written).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import ness_ros.cli
from ness_ros.cli.errors import USAGE, CliError
from ness_ros.malloc_tuning import tune_malloc

#: The layers' exceptions that end a verb with one error line and exit status 1, by module. They
#: are looked up in ``sys.modules`` (where they are once raised) rather than imported here: their
#: packages are heavy and ``ness --help`` stays fast.
LAYER_ERRORS = (("ness_ros.bag.errors", "BagError"), ("ness_ros.data.errors", "DataError"),
                ("ness_ros.events.errors", "EventError"), ("ness_ros.models.errors", "ModelError"),
                ("ness_ros.errors", "ParameterError"))
#: The same for the layers' exceptions of a setting that cannot be used: exit status 2.
LAYER_USAGE_ERRORS = (("ness_ros.training.errors", "TrainingError"),
                      ("ness_ros.bench.errors", "BenchError"))


def verb_modules() -> list[str]:
    """Names of the verb modules, sorted, so ``ness --help`` lists verbs alphabetically."""
    found = pkgutil.iter_modules(ness_ros.cli.__path__)
    return sorted(f"ness_ros.cli.{info.name}" for info in found if info.name.endswith("_verb"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ness",
        description="ness_ros tools: benchmarks, data, training, evaluation, bags, fuzzing.",
    )
    subparsers = parser.add_subparsers(title="verbs", dest="verb", metavar="VERB")
    for module_name in verb_modules():
        importlib.import_module(module_name).register(subparsers)
    return parser


def exit_status(exc: BaseException) -> int | None:
    """The exit status :func:`main` ends with on ``exc``, None for an error it does not know
    (a bug: its traceback is worth more than one line)."""
    if isinstance(exc, CliError):
        return exc.status
    for errors, status in ((LAYER_USAGE_ERRORS, USAGE), (LAYER_ERRORS, 1)):
        for module, name in errors:
            kind = getattr(sys.modules.get(module), name, None)
            if kind is not None and isinstance(exc, kind):
                return status
    return None


def command_words(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The verb and sub-commands that ``argv`` starts with (``["bag", "replay"]``)."""
    words: list[str] = []
    for word in argv:
        commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not commands or word not in commands[0].choices:
            break
        words.append(word)
        parser = commands[0].choices[word]
    return words


def main(argv: list[str] | None = None) -> int:
    tune_malloc()  # evaluations and benchmarks allocate as the nodes do
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.verb is None else USAGE
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        status = exit_status(exc)
        if status is None:
            raise
        print(" ".join(["ness", *command_words(parser, argv)]) + f": {exc}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
