"""Driving nodes that run in processes of their own from a node of this process, over DDS: what
``ness bag replay``, ``ness bench load``'s monitor and the tests that talk to real nodes share.

:class:`NodeHarness` starts the node processes (:class:`~ness_ros.graph_runner.GraphProcesses`:
the domain of :mod:`ness_ros.domain`, one log file each), holds this process's node, subscribes
to a node's ``~/mask``, ``~/latency`` and its ``/diagnostics`` status, spins until a condition
holds (failing fast with the log's tail when a process ends), waits for discovery and stops
everything in order: the processes (SIGINT, so that they end cleanly), then this side's ROS.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from ness_msgs.msg import SegmentationLatency
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.publisher import Publisher
from sensor_msgs.msg import Image

from ness_ros.graph import NodeSpec
from ness_ros.graph_runner import GraphProcesses, start_process, stop_processes
from ness_ros.ros.qos import OUTPUT_QOS

__all__ = ["LOG_TAIL", "NodeFailed", "NodeHarness", "discovered", "spin_until",
           "start_process", "stop_processes", "subscribe_outputs"]

#: Characters of a node's log quoted when it failed.
LOG_TAIL = 3000


class NodeFailed(RuntimeError):
    """A node process ended, or did not come up in time, while it was waited on; the message
    names it and ends with the tail of its log."""


def spin_until(node: Node, condition: Callable[[], bool], timeout: float,
               check: Callable[[], None] | None = None, *,
               executor: Executor | None = None) -> bool:
    """Spin ``node`` (with ``executor``, default rclpy's global one) until ``condition()``
    holds or ``timeout`` s pass; ``check()`` runs between spins and raises to give up early (a
    process that died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rclpy.spin_once(node, executor=executor, timeout_sec=0.05)
        if condition():
            return True
        if check is not None:
            check()
    return condition()


def discovered(publishers: Iterable[Publisher], node: Node | None = None,
               published: Sequence[str] = ()) -> bool:
    """Every one of ``publishers`` has a subscriber and every topic of ``published`` a publisher
    (seen from ``node``): both ends of the inputs and outputs of a node under test."""
    return all(p.get_subscription_count() for p in publishers) and \
        all(node is not None and node.count_publishers(t) for t in published)


def subscribe_outputs(node: Node, name: str, *, mask: Callable[[bytes], None] | None = None,
                      latency: Callable[[Any], None] | None = None,
                      diagnostics: Callable[[Any, dict[str, str]], None] | None = None) -> None:
    """Subscribe ``node`` to what the segmentation node ``name`` publishes: ``/<name>/mask`` as
    raw CDR bytes, ``/<name>/latency`` and its own status of ``/diagnostics`` (``diagnostics``
    gets the status and its key-value pairs as a dict)."""
    if mask is not None:
        node.create_subscription(Image, f"/{name}/mask", mask, OUTPUT_QOS, raw=True)
    if latency is not None:
        node.create_subscription(SegmentationLatency, f"/{name}/latency", latency, OUTPUT_QOS)
    if diagnostics is not None:
        def on_diagnostics(msg: DiagnosticArray) -> None:
            for status in msg.status:
                if status.name.rsplit("/", 1)[-1] == name:  # "/<name>" or "/<ns>/<name>"
                    diagnostics(status, {kv.key: kv.value for kv in status.values})

        node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, OUTPUT_QOS)


class NodeHarness:
    """Node processes and a node of this process talking to them.

    Args:
        specs: the nodes to run, each in a process of its own.
        log_dir: their logs, ``<name>.log`` (or the files of ``log_files``).
        node_name: the name of this process's node.
        env: variables the processes get on top of this process's and the domain's.
        log_files: the log file of a node, by name, where it is not ``log_dir/<name>.log``.
        own_context: this side gets a ROS context of its own (initialised here, shut down by
            :meth:`stop`); else rclpy's default one, which the caller initialised.
    """

    def __init__(self, specs: Sequence[NodeSpec], log_dir: Path, node_name: str, *,
                 env: dict[str, str] | None = None, log_files: Mapping[str, Path] | None = None,
                 own_context: bool = False) -> None:
        self.graph = GraphProcesses(specs, log_dir, env=env, log_files=log_files)
        self.context: rclpy.Context | None = None
        self.executor: Executor | None = None  # None: rclpy's global one (default context)
        if own_context:
            self.context = rclpy.Context()
            rclpy.init(context=self.context)
            self.executor = SingleThreadedExecutor(context=self.context)
        self.node = rclpy.create_node(node_name, context=self.context)
        self._spinning: threading.Thread | None = None

    def start(self) -> None:
        """Start the node processes."""
        self.graph.start()

    def process(self, name: str) -> subprocess.Popen:
        return self.graph.processes[name]

    def log(self, name: str) -> str:
        """The tail of the log of ``name``."""
        return self.graph.log_text(name)[-LOG_TAIL:]

    def check(self, *, failures_only: bool = False) -> None:
        """Raise :class:`NodeFailed` when a process ended (with ``failures_only``: with a
        non-zero code)."""
        for name, proc in self.graph.processes.items():
            code = proc.poll()
            if code is not None and (code != 0 or not failures_only):
                raise NodeFailed(f"{name} exited with {code}:\n{self.log(name)}")

    # -- spinning ---------------------------------------------------------------------------
    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Spin this side until ``condition()`` holds or ``timeout`` s pass (False); raises
        :class:`NodeFailed` as soon as a process ended."""
        return spin_until(self.node, condition, timeout, self.check, executor=self.executor)

    def spin_once(self, timeout: float) -> None:
        """Run what came for this side, waiting ``timeout`` s at the most."""
        rclpy.spin_once(self.node, executor=self.executor, timeout_sec=timeout)

    def spin_in_background(self) -> None:
        """Spin this side on a thread of its own (own context only) until :meth:`stop`."""
        context, executor = self.context, self.executor
        if context is None or executor is None:
            raise RuntimeError("a background spin needs a context of its own (own_context)")
        executor.add_node(self.node)

        def spin() -> None:
            while context.ok():
                try:
                    executor.spin_once(timeout_sec=0.05)
                except Exception:  # the context went down under the executor: stopping
                    if context.ok():
                        raise
                    return

        self._spinning = threading.Thread(target=spin, daemon=True)
        self._spinning.start()

    def wait_ready(self, ready: Callable[[], bool], timeout: float, *,
                   failures_only: bool = False, settle_s: float = 0.0) -> None:
        """Wait until ``ready()`` (e.g. :func:`discovered`), spinning this side unless it spins
        in the background; then ``settle_s`` more (both ends of every match settle).

        Raises:
            NodeFailed: a process ended first (see :meth:`check`), or ``timeout`` s passed.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check(failures_only=failures_only)
            if ready():
                time.sleep(settle_s)
                return
            if self._spinning is None:
                self.spin_once(0.05)
            else:
                time.sleep(0.1)
        names = ", ".join(self.graph.processes)
        raise NodeFailed(f"{names} did not come up within {timeout:g} s:\n"
                         + "\n".join(self.log(name) for name in self.graph.processes))

    # -- stopping ---------------------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> dict[str, int]:
        """Stop the processes (SIGINT, SIGKILL after ``timeout`` s), then this side's node (and
        its own context); returns the processes' exit codes."""
        codes = self.graph.stop(timeout)
        if self.context is None:
            self.node.destroy_node()
        else:
            rclpy.try_shutdown(context=self.context)
            if self._spinning is not None:
                self._spinning.join(timeout=2.0)
        return codes

