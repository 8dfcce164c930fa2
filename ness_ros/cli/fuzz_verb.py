"""``ness fuzz``: fuzz the event and image decoders and the node's input checks with hypothesis.

Runs :func:`ness_ros.fuzzing.fuzz` for ``--seconds`` (60 by default) and prints, per target,
the inputs tried, how many it refused with EventError (the documented refusal) and the crashes
(any other exception, or a broken contract), then each distinct crash with its first input.
Exit code 1 when anything crashed. Not part of the default test run (a short run is).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from ness_ros.report_tables import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fuzz", help="fuzz the event/image decoders and the node's input checks (hypothesis)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=None,
                        help="hypothesis seed, for a reproducible run (default: random)")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ness_ros.fuzzing import fuzz

    report = fuzz(max(float(args.seconds), 0.0), seed=args.seed)
    rows = [{"target": name, "inputs": s.inputs,
             "inputs/s": s.inputs / report.seconds if report.seconds else 0.0,
             "refused (EventError)": s.refused, "accepted": s.inputs - s.refused - s.crashes,
             "crashes": s.crashes} for name, s in report.stats.items()]
    total = sum(s.crashes for s in report.stats.values())
    print(format_table(rows, title=f"ness fuzz: {report.seconds:.1f} s, every input to every "
                                   f"target; crashes: {total}"))
    for crash in report.crashes.values():
        print(f"\nCRASH in {crash.target} ({crash.count}x) at {crash.where}: {crash.error}\n"
              f"  first input ({crash.input_size} bytes): {crash.input_hex}")
    write_json(args.json, {"seconds": report.seconds, "seed": args.seed,
                           "targets": rows, "crashes": [asdict(c) for c in
                                                        report.crashes.values()]})
    return 1 if total else 0
