"""Which executor runs a node's callbacks, and the loop that spins it.

rclpy's ``SingleThreadedExecutor`` rebuilds its wait set in Python for every callback. With
events arriving at 100 messages/s, profiling the hybrid node (py-spy) found its main thread
holding the GIL for about half of the wall time, competing with the segmentation worker for
the interpreter and for the cores. rclpy's ``EventsExecutor`` dispatches callbacks from C++
(see the README's latency table for what it changed).

How a node process stops: a terminal's Ctrl-C sends SIGINT to every process of its group and
``ros2 launch`` sends each node one more, so a node gets a second signal while it cleans up.
:func:`init_ros` leaves rclpy's signal handlers out (they shut the context down from a thread of
their own, at a moment the main thread does not choose) and installs handlers that act on the
first SIGINT or SIGTERM only: while :func:`spin` runs, it ends the spin loop (within 0.1 s);
elsewhere (loading a model, generating or playing a sequence) it raises ``KeyboardInterrupt`` in
the main thread. Later signals, and any once the clean-up began (:func:`ignore_stop_signals`),
do nothing: no ``KeyboardInterrupt`` breaks ``destroy_node()`` or ``shutdown()``. :func:`spin`
shuts its executor down, so that no executor thread of C++ is destroyed while it runs
(``terminate called without an active exception``); :func:`exit_process` ends the process.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import NoReturn

import rclpy
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from ness_ros.errors import ParameterError
from ness_ros.ros.params import ParamSpec

#: Values of the ``executor`` parameter.
EXECUTORS = ("events", "single_threaded")

EXECUTOR_PARAM = ParamSpec(
    "executor", "events", "callback executor, read at start-up: events (rclpy's "
    "EventsExecutor, callbacks dispatched from C++; ROS 2 Kilted and later, else single_threaded "
    "with a warning) or single_threaded (rclpy's SingleThreadedExecutor)")


#: Set by the first stop signal, or when the clean-up begins: signals from then on do nothing.
_stopping = False
#: While :func:`spin` runs, a stop signal only ends its loop: an exception raised inside a
#: callback would be caught and logged by the executor, not end the node.
_spinning = False


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    global _stopping
    if _stopping:
        return
    _stopping = True
    if not _spinning:
        raise KeyboardInterrupt


def init_ros(args: list[str] | None = None) -> None:
    """``rclpy.init(args)`` with the stop signals of this module instead of rclpy's."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_stop_signal)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def ignore_stop_signals() -> None:
    """From now on SIGINT and SIGTERM do nothing (the clean-up has begun)."""
    global _stopping
    _stopping = True


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` once its node is destroyed and the ROS context shut down,
    skipping the interpreter's finalisation: with torch and DDS loaded it takes 1-2 s, which
    would spoil a clean stop within 2 s of SIGINT/SIGTERM, and it would destroy what C++ threads
    of the middleware are still running. Standard streams are flushed first."""
    ignore_stop_signals()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def check_executor(kind: str) -> None:
    """Raise ParameterError for an unknown ``executor`` value."""
    if kind not in EXECUTORS:
        raise ParameterError("executor", f"must be one of {', '.join(EXECUTORS)}, got {kind!r}")


def spin(node: Node, kind: str) -> None:
    """Run ``node``'s callbacks with the executor ``kind`` until the context shuts down or a
    stop signal comes.

    The events executor is spun with a timeout: with rclpy 9.1, its ``spin()`` and a
    ``spin_once()`` without a timeout never ran our subscriptions' callbacks and kept a core
    busy. Either executor returns to Python at least every 0.1 s, where the handler of a stop
    signal runs and the loop sees it.
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
    global _spinning
    _spinning = True  # from here a stop signal only ends the loop, so the finally always runs
    executor: Executor | None = None
    try:
        if kind == "events":
            executor = EventsExecutor(context=node.context)
        else:
            executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        while node.context.ok() and not _stopping:
            executor.spin_once(timeout_sec=0.1)
    finally:
        _spinning = False
        ignore_stop_signals()
        if executor is not None:
            if node in executor.get_nodes():
                executor.remove_node(node)
            executor.shutdown()  # joins the executor's threads before it is destroyed
