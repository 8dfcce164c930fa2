"""``ness env``: what this environment has (ROS 2, interface packages, torch)."""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any

from ness_ros.report_tables import add_json_option, format_table, write_json

CHECKED_MODULES = [
    ("rclpy", "rclpy"),
    ("dvs_msgs", "dvs_msgs.msg"),
    ("event_camera_msgs", "event_camera_msgs.msg"),
    ("vision_msgs", "vision_msgs.msg"),
    ("sensor_msgs", "sensor_msgs.msg"),
    ("diagnostic_msgs", "diagnostic_msgs.msg"),
    ("torch", "torch"),
    ("snntorch", "snntorch"),
    ("numba", "numba"),
    ("rosbags", "rosbags"),
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("env", help="check the environment: ROS 2, interfaces, torch")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = []
    failed = 0
    for name, module in CHECKED_MODULES:
        start = time.perf_counter()
        try:
            mod = importlib.import_module(module)
            top = importlib.import_module(module.split(".")[0])
            version = getattr(top, "__version__", "") or getattr(mod, "__version__", "")
            status = "ok"
        except Exception as exc:  # report every failure, not just the first
            version, status = "", f"FAILED: {exc}"
            failed += 1
        rows.append({"package": name, "status": status, "version": str(version),
                     "import_ms": round((time.perf_counter() - start) * 1e3, 1)})
    print(format_table(rows, title="ness_ros environment"))
    write_json(args.json, {"packages": rows})
    return 1 if failed else 0
