"""The events subscription of the segmentation nodes: its message type, given or found in the graph.

``event_message`` picks the type of the ``events`` topic: ``dvs`` (dvs_msgs/msg/EventArray, the
ROS 1 driver's format, bridged), ``packet`` (event_camera_msgs/msg/EventPacket, what the ROS 2
drivers metavision_driver and libcaer_driver publish) or ``auto`` (the default). With ``auto``
the node looks up the publishers of its resolved (remapped) events topic in the ROS graph, takes
their type, logs once which one it took, and subscribes; until a publisher of one of the two
types appears it polls the graph from a timer (the executor keeps serving frames and diagnostics)
and logs that it is waiting (again every :data:`WAIT_LOG_S`). The type, once taken, stays for the
node's life. Publishers of both types at once, or of another type only, are not guessed between:
the node warns and keeps waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from rclpy.node import Node

#: Values of the ``event_message`` parameter.
EVENT_MESSAGES = ("auto", "dvs", "packet")
#: Message type of each explicit value.
MESSAGE_TYPES: dict[str, type] = {"dvs": EventArray, "packet": EventPacket}
#: Graph type names -> explicit value.
TYPE_NAMES = {"dvs_msgs/msg/EventArray": "dvs", "event_camera_msgs/msg/EventPacket": "packet"}
_TYPE_OF = {message: name for name, message in TYPE_NAMES.items()}
#: How often ``auto`` looks at the graph while no publisher is found, s.
POLL_S = 0.1
#: How often ``auto`` repeats that it is still waiting, s.
WAIT_LOG_S = 10.0


def choose(type_names: list[str]) -> tuple[str | None, str]:
    """The ``event_message`` for the publishers' type names, or None and why not."""
    found = sorted({TYPE_NAMES[name] for name in type_names if name in TYPE_NAMES})
    if len(found) == 1:
        return found[0], ""
    if not type_names:
        return None, "no publisher yet"
    if found:
        return None, f"publishers of both event types ({', '.join(sorted(set(type_names)))})"
    return None, (f"its publishers' type {', '.join(sorted(set(type_names)))} is not "
                  f"{' or '.join(TYPE_NAMES)}")


class EventSubscription:
    """Subscribes ``callback`` (raw CDR bytes) to ``node``'s ``events`` topic.

    Args:
        node: the node; its logger says what was chosen.
        event_message: ``dvs``, ``packet`` or ``auto`` (see the module docstring).
        callback: called with each message's serialized bytes.
        on_chosen: called with ``dvs`` or ``packet`` once, before the subscription exists.
        qos, qos_overriding_options: as for ``Node.create_subscription``.

    Attributes:
        message: the chosen ``dvs`` or ``packet``; ``auto`` while waiting.
    """

    def __init__(self, node: Node, event_message: str, callback: Callable[[bytes], None],
                 on_chosen: Callable[[str], None], qos: Any, qos_overriding_options: Any) -> None:
        if event_message not in EVENT_MESSAGES:
            raise ValueError(f"parameter event_message must be one of {EVENT_MESSAGES}, got "
                             f"{event_message!r}")
        self.node, self.callback, self.on_chosen = node, callback, on_chosen
        self.qos, self.overrides = qos, qos_overriding_options
        self.message = event_message
        self.topic = node.resolve_topic_name("events")
        self.subscription = None
        self._timer = None
        self._last_log: tuple[str, float] | None = None
        if event_message != "auto":
            self._subscribe(event_message)
        elif not self._poll():
            self._timer = node.create_timer(POLL_S, self._poll)

    def _subscribe(self, message: str) -> None:
        self.message = message
        self.on_chosen(message)
        self.subscription = self.node.create_subscription(
            MESSAGE_TYPES[message], "events", self.callback, self.qos, raw=True,
            qos_overriding_options=self.overrides)

    def _poll(self) -> bool:
        """One look at the graph; True once subscribed."""
        if self.subscription is not None:
            return True
        names = [info.topic_type for info in self.node.get_publishers_info_by_topic(self.topic)]
        message, why = choose(names)
        logger = self.node.get_logger()
        if message is None:
            now = time.monotonic()
            if self._last_log is None or self._last_log[0] != why or \
                    now - self._last_log[1] >= WAIT_LOG_S:
                self._last_log = (why, now)
                log = logger.info if why == "no publisher yet" else logger.warning
                log(f"event_message auto: waiting for a publisher of {' or '.join(TYPE_NAMES)} "
                    f"on {self.topic} ({why})")
            return False
        if self._timer is not None:
            self._timer.cancel()  # not destroyed from inside its own callback
        logger.info(f"event_message auto: {self.topic} carries {_TYPE_OF[message]}: subscribed "
                    f"as event_message {message}")
        self._subscribe(message)
        return True
