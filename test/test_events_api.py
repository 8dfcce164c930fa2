"""The event layer's surface: exports, no rclpy import, and the ``ness bench events`` parser."""

from __future__ import annotations

import argparse
import subprocess
import sys

import ness_ros.events
from ness_ros.bench import events as bench_events


def test_event_layer_imports_no_rclpy():
    code = ("import sys, ness_ros.events; "
            "sys.exit(any(m.split('.')[0] == 'rclpy' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_exports_exist():
    assert all(hasattr(ness_ros.events, name) for name in ness_ros.events.__all__)


def test_bench_events_registers_its_parser(tmp_path):
    # Only this module's parser: the whole ``ness`` CLI also loads other teams' verbs.
    parser = argparse.ArgumentParser()
    bench_events.register(parser.add_subparsers())
    args = parser.parse_args(["events", "--repeats", "2", "--json", str(tmp_path / "e.json"),
                              "--bag", str(tmp_path)])
    assert args.func is bench_events.run
    assert args.repeats == 2 and args.bag == tmp_path
