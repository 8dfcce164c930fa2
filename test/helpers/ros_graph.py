"""Test helpers for real nodes in their own processes, talked to over DDS from the test: the
names the tests use for :mod:`ness_ros.ros.harness` on one process and its log file."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from rclpy.node import Node

from ness_ros.graph import NodeSpec
from ness_ros.graph_runner import executable_path
from ness_ros.ros import harness


def start_node(spec: NodeSpec, log_path: Path) -> subprocess.Popen:
    """Start ``spec`` as ``ros2 run`` would; output goes to ``log_path``."""
    return harness.start_process([str(executable_path(spec)), *spec.ros_args()], log_path)


def stop_node(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT ``proc`` (SIGKILL after ``timeout`` s); its exit code."""
    harness.stop_processes([proc], timeout)
    return proc.returncode


def spin_until(node: Node, condition: Callable[[], bool], timeout: float,
               proc: subprocess.Popen | None = None, log_path: Path | None = None) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout`` s pass; fail fast if ``proc``
    died (its log in the message)."""
    def check() -> None:
        if proc is not None and proc.poll() is not None:
            log = log_path.read_text() if log_path else ""
            raise harness.NodeFailed(f"node exited with {proc.returncode}:\n"
                                     f"{log[-harness.LOG_TAIL:]}")

    return harness.spin_until(node, condition, timeout, check)
