"""Entry point of ``ness``: one sub-command per verb, in the manner of ``ros2 VERB``.

Each verb lives in its own module ``ness_ros/cli/<name>_verb.py`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` to the callable that runs it.
Verb modules are found by name, so adding a verb touches no other file. They import their heavy
dependencies (torch, rclpy) inside the functions they run, so ``ness --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import ness_ros.cli
from ness_ros.malloc_tuning import tune_malloc


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


def main(argv: list[str] | None = None) -> int:
    tune_malloc()  # evaluations and benchmarks allocate as the nodes do
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.verb is None else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
