"""The event layer's surface: exports, no rclpy import, and ``ness bench events`` registered."""

from __future__ import annotations

import subprocess
import sys

import ness_ros.events
from ness_ros.cli.main import build_parser


def test_event_layer_imports_no_rclpy():
    code = ("import sys, ness_ros.events; "
            "sys.exit(any(m.split('.')[0] == 'rclpy' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_exports_exist():
    assert all(hasattr(ness_ros.events, name) for name in ness_ros.events.__all__)


def test_bench_events_is_registered(tmp_path):
    args = build_parser().parse_args(["bench", "events", "--repeats", "2", "--json",
                                      str(tmp_path / "e.json"), "--bag", str(tmp_path)])
    assert args.func.__module__ == "ness_ros.bench.events"
    assert args.repeats == 2 and args.bag == tmp_path
