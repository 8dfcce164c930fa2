"""``ness bench NAME``: benchmarks, each a module of :mod:`ness_ros.bench`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any

import ness_ros.bench


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks measured side by side in one run")
    benches = parser.add_subparsers(title="benchmarks", dest="bench", metavar="NAME")
    for info in sorted(pkgutil.iter_modules(ness_ros.bench.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"ness_ros.bench.{info.name}")
        if hasattr(module, "register"):  # a benchmark (not bench.errors)
            module.register(benches)
    parser.set_defaults(func=lambda args: _missing_name(parser, args))


def _missing_name(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help()
    return 2
