"""``ness bench events`` is registered under ``ness bench`` (running it takes seconds: not here)."""

from __future__ import annotations

from ness_ros.cli.main import build_parser


def test_bench_events_is_registered(tmp_path):
    args = build_parser().parse_args(["bench", "events", "--repeats", "2", "--json",
                                      str(tmp_path / "e.json"), "--bag", str(tmp_path)])
    assert args.func.__module__ == "ness_ros.bench.events"
    assert args.repeats == 2 and args.bag == tmp_path
