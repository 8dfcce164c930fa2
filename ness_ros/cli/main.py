"""Entry point of ``ness``: one sub-command per verb, in the manner of ``ros2 VERB``.

Each verb lives in its own module under :mod:`ness_ros.cli` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to the callable that runs it. Verb modules import their
heavy dependencies (torch, rclpy) inside the functions they run, so ``ness --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Verb modules, in the order `ness --help` lists them.
VERB_MODULES = [
    "ness_ros.cli.env_verb",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ness",
        description="ness_ros tools: benchmarks, data, training, evaluation, bags, fuzzing.",
    )
    subparsers = parser.add_subparsers(title="verbs", dest="verb", metavar="VERB")
    for module_name in VERB_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.verb is None else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
