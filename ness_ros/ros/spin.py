"""Which executor runs a node's callbacks, and the loop that spins it.

rclpy's ``SingleThreadedExecutor`` rebuilds its wait set in Python for every callback. With
events arriving at 100 messages/s, profiling the hybrid node (py-spy) found its main thread
holding the GIL for about half of the wall time, competing with the segmentation worker for
the interpreter and for the cores. rclpy's ``EventsExecutor`` dispatches callbacks from C++
(see the README's latency table for what it changed).
"""

from __future__ import annotations

import rclpy
from rclpy.node import Node

from ness_ros.ros.params import ParamSpec

#: Values of the ``executor`` parameter.
EXECUTORS = ("events", "single_threaded")

EXECUTOR_PARAM = ParamSpec(
    "executor", "events", "callback executor, read at start-up: events (rclpy's "
    "EventsExecutor, callbacks dispatched from C++; ROS 2 Kilted and later, else single_threaded "
    "with a warning) or single_threaded (rclpy's SingleThreadedExecutor)")


def check_executor(kind: str) -> None:
    """Raise ValueError for an unknown ``executor`` value."""
    if kind not in EXECUTORS:
        raise ValueError(f"parameter executor must be one of {EXECUTORS}, got {kind!r}")


def spin(node: Node, kind: str) -> None:
    """Run ``node``'s callbacks with the executor ``kind`` until the context shuts down.

    The events executor is spun with a timeout: with rclpy 9.1, its ``spin()`` and a
    ``spin_once()`` without a timeout never ran our subscriptions' callbacks and kept a core
    busy.
    """
    check_executor(kind)
    if kind == "events":
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:
            node.get_logger().warning("executor events: this rclpy has no "
                                      "rclpy.experimental.EventsExecutor (ROS 2 Kilted and later "
                                      "have it); using single_threaded")
            kind = "single_threaded"
    if kind == "single_threaded":
        rclpy.spin(node)
        return
    executor = EventsExecutor(context=node.context)
    executor.add_node(node)
    try:
        while node.context.ok():
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.remove_node(node)
