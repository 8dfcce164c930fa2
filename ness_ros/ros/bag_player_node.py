"""bag_player: plays a rosbag2 folder's topics in real time with their stamps, for where
``ros2 bag play`` is absent (the PyPI wheels have no ROS 2 command line).

    bag_player --ros-args -p bag:=runs/bags/drive -p rate:=1.0 [-r __ns:=/robot1]
    python -m ness_ros.ros.bag_player_node --ros-args -p bag:=runs/bags/drive

Messages come from :func:`ness_ros.bag.reader.read_messages` (rosbags: mcap or sqlite3) and go
out as the recorded CDR bytes, header stamps untouched, at ``rate`` times the pace of their
receive times. Topics are published by relative names (``/camera/image`` as ``camera/image``),
so the node's namespace and remappings apply to them as to any node's (the graph remaps the
bag's camera topics onto its inputs). Playing starts once every topic of ``wait_for`` (default:
all) has a subscriber, or after ``wait_for_subscribers_s`` with a warning naming the topics
nobody took: a graph needs seconds to load its models, and a short bag would be over before it
listens. The bag is played once; the node then exits 0. ``clock``: rosgraph_msgs/Clock
on /clock with each message's receive time, for nodes with use_sim_time. A missing or unreadable
bag: one error line, exit 1. No executor runs: the node only publishes.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from ness_ros.bag.errors import BagError
from ness_ros.bag.reader import bag_info, read_messages
from ness_ros.errors import ParameterError
from ness_ros.ros.params import ParamSpec, declare
from ness_ros.ros.startup import run

PARAMS = [
    ParamSpec("bag", "", "rosbag2 folder to play (mcap or sqlite3)"),
    ParamSpec("rate", 1.0, "playback rate (1.0 = the recorded pace)", 0.01, 100.0),
    ParamSpec("clock", False, "publish /clock with the messages' receive times (use_sim_time)"),
    ParamSpec("wait_for_subscribers_s", 60.0, "start once every topic of wait_for has a "
              "subscriber, or after this long, s (0: at once)", 0.0, 3600.0),
    ParamSpec("wait_for", "", "the bag's topics to wait for subscribers on, comma-separated "
              "recorded names (empty: every topic played)"),
]

#: Reliable, as ros2 bag play offers by default: matches best-effort and reliable subscribers.
PLAY_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE)


def message_type(msgtype: str) -> Any:
    """The rclpy message class of a bag's type name (``sensor_msgs/msg/Image``).

    Raises:
        BagError: the type's interface package is not installed.
    """
    package, _, name = msgtype.rpartition("/")
    try:
        return getattr(importlib.import_module(package.replace("/", ".")), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise BagError(f"message type {msgtype} is not installed") from exc


class BagPlayerNode(Node):
    node_name = "bag_player"
    runs_a_model = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.node_name, **kwargs)
        self.params = declare(self, PARAMS)
        if not self.params["bag"]:
            raise ParameterError("bag", "empty: name a rosbag2 folder (-p bag:=<path>)")
        try:
            self.info = bag_info(self.params["bag"])
        except BagError as exc:
            raise ParameterError("bag", str(exc)) from exc
        self.publishers_by_topic = {}
        for topic, (msgtype, count) in self.info.topics.items():
            try:
                kind = message_type(msgtype)
            except BagError as exc:  # as ros2 bag play does: the other topics still play
                self.get_logger().warning(f"not playing {topic} ({count} messages): {exc}")
                continue
            self.publishers_by_topic[topic] = self.create_publisher(kind, topic.lstrip("/"),
                                                                    PLAY_QOS)
        if not self.publishers_by_topic:
            raise ParameterError("bag", f"{self.params['bag']}: no topic of an installed "
                                        "message type")
        self.clock = (self.create_publisher(Clock, "/clock", PLAY_QOS)
                      if self.params["clock"] else None)
        self.wait_for = [t.strip() for t in self.params["wait_for"].split(",") if t.strip()]
        unknown = [t for t in self.wait_for if t not in self.publishers_by_topic]
        if unknown:
            raise ParameterError("wait_for", f"names {', '.join(unknown)}, which the bag does "
                                             f"not play (it plays "
                                             f"{', '.join(self.publishers_by_topic)})")

    def wait_for_subscribers(self) -> None:
        """Until every topic of ``wait_for`` has a subscriber, or ``wait_for_subscribers_s``
        passed."""
        watched = [self.publishers_by_topic[t] for t in self.wait_for] or \
            list(self.publishers_by_topic.values())
        wait_s = self.params["wait_for_subscribers_s"]
        if wait_s:
            topics = ", ".join(p.topic_name for p in watched)
            self.get_logger().info(f"waiting up to {wait_s:g} s for subscribers on {topics}")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() for p in watched):
                time.sleep(0.5)  # both ends of every match settle
                return
            time.sleep(0.1)
        lonely = [p.topic_name for p in watched if not p.get_subscription_count()]
        if lonely:
            self.get_logger().warning(f"playing with no subscriber on {', '.join(lonely)}")

    def run(self) -> None:
        self.wait_for_subscribers()
        started = time.monotonic()
        sent = self.play()
        self.get_logger().info(f"played {sent} messages in {time.monotonic() - started:.1f} s")

    def close(self) -> None:
        self.destroy_node()

    def play(self) -> int:
        """Publish every message at the recorded pace; returns how many went out."""
        rate, sent, first = self.params["rate"], 0, None
        self.get_logger().info(f"playing {self.info.path} ({self.info.message_count} messages, "
                               f"{self.info.duration_s:.1f} s) at rate {rate:g}")
        for topic, bag_ns, data in read_messages(self.info.path, self.publishers_by_topic):
            if first is None:
                first = (time.monotonic(), bag_ns)
            delay = first[0] + (bag_ns - first[1]) / 1e9 / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self.clock is not None:
                self.clock.publish(Clock(clock=Time(sec=bag_ns // 10**9,
                                                    nanosec=bag_ns % 10**9)))
            self.publishers_by_topic[topic].publish(bytes(data))
            sent += 1
        return sent


def main(args: list[str] | None = None) -> None:
    """Exit 0 once the bag is played or on SIGINT/SIGTERM; 1 with one ``[FATAL]`` line for a
    bag that cannot be played (see :mod:`ness_ros.ros.startup`)."""
    run(BagPlayerNode, args)


if __name__ == "__main__":
    main()
