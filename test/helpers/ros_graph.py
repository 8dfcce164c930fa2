"""Test helpers for real nodes in their own processes, talked to over DDS from the test."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.node import Node

from ness_ros.graph import NodeSpec
from ness_ros.graph_runner import executable_path


def start_node(spec: NodeSpec, log_path: Path) -> subprocess.Popen:
    """Start ``spec`` as ``ros2 run`` would; output goes to ``log_path``."""
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process by the OS
    return subprocess.Popen([str(executable_path(spec)), *spec.ros_args()], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_node(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(2)  # SIGINT
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def spin_until(node: Node, condition: Callable[[], bool], timeout: float,
               proc: subprocess.Popen | None = None, log_path: Path | None = None) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout`` s pass; fail fast if ``proc``
    died (its log in the message)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if condition():
            return True
        if proc is not None and proc.poll() is not None:
            log = log_path.read_text() if log_path else ""
            raise AssertionError(f"node exited with {proc.returncode}:\n{log[-3000:]}")
    return condition()
