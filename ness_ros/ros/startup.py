"""One start-up path for every node: ``main()`` is ``run(NodeClass, args)``.

:func:`run` initialises ROS with the stop signals of :mod:`ness_ros.ros.spin`, makes the node,
calls its ``run()`` (spin, or play a sequence or a bag) and, however that ends, its ``close()``,
then shuts ROS down and ends the process:

- exit code 0 when ``run()`` returns or on SIGINT/SIGTERM, however many come;
- exit code 1 and exactly one line on stdout when the node cannot start or stops on an error it
  expects: ``[FATAL] [<node>]: cannot start: parameter <name>: <why>`` for a parameter
  (:class:`~ness_ros.errors.ParameterError`, raised by the parameter table for a value out of
  range or of another type and by each node's own checks), ``[FATAL] [<node>]: cannot start:
  <why>`` for another error while the node is made (a packaged model file that is missing),
  ``[FATAL] [<node>]: <why>`` for one while it runs (a bag that cannot be read);
- anything else is a bug: its traceback, exit code 1.

A node whose ``__init__`` raised is destroyed before ROS shuts down, like a finished one: left
to the garbage collector, its half-made handles were freed while the middleware's threads ran,
and a start in CI ended in SIGSEGV after its ``[FATAL]`` line. A crash in native
code prints the Python stack of every thread (``faulthandler``) before the process dies.
"""

from __future__ import annotations

import faulthandler
from typing import Any, ClassVar, NoReturn, Protocol

from rclpy import try_shutdown
from rclpy.executors import ExternalShutdownException

from ness_ros.bag.errors import BagError
from ness_ros.malloc_tuning import tune_malloc
from ness_ros.ros.spin import exit_process, ignore_stop_signals, init_ros

#: What a node may raise for bad configuration or input it cannot do without: ParameterError,
#: ModelError, EventError, DataError are ValueErrors.
EXPECTED_ERRORS = (ValueError, BagError)


class RunnableNode(Protocol):
    node_name: ClassVar[str]
    #: Runs a model on every frame: glibc malloc is tuned before anything loads.
    runs_a_model: ClassVar[bool]

    def run(self) -> None:
        """The node's work, until it is done or a stop signal ends it."""

    def close(self) -> None:
        """Release the node (destroy it), after ``run()`` ended however it did."""


def fatal(node_name: str, reason: str) -> None:
    """Print the one ``[FATAL]`` line of a node that stops on an error."""
    print(f"[FATAL] [{node_name}]: {' '.join(reason.split())}", flush=True)


def run(node_class: type[Any], args: list[str] | None = None) -> NoReturn:
    """The ``main()`` of every node: see the module notes."""
    exit_process(_run(node_class, args))


def _run(node_class: type[RunnableNode], args: list[str] | None) -> int:
    if getattr(node_class, "runs_a_model", False):
        tune_malloc()
    faulthandler.enable()
    init_ros(args)
    # Made in two steps so that a node whose __init__ raises can still be destroyed.
    node = node_class.__new__(node_class)
    started = False
    try:
        node.__init__()
        started = True
        node.run()
    except EXPECTED_ERRORS as exc:
        ignore_stop_signals()
        fatal(node_class.node_name, str(exc) if started else f"cannot start: {exc}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ignore_stop_signals()
        if started:
            node.close()
        else:
            _destroy_half_made(node)
        try_shutdown()
    return 0


def _destroy_half_made(node: Any) -> None:
    """Destroy what the ROS part of a node whose ``__init__`` raised had made (its publishers,
    services, timers and the node handle); nothing when ``Node.__init__`` itself did not get as
    far as a handle."""
    try:
        node.handle  # noqa: B018 - raises when Node.__init__ made none
    except AttributeError:
        return
    node.destroy_node()
