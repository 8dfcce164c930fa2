"""``ness bench load``'s measuring side in ROS: the node's ~/latency, /diagnostics and
label_info subscribed, its memory and CPU sampled between spins (:class:`Monitor`); what it
collects and how it is summarised are :mod:`ness_ros.bench.load`'s (ROS-free)."""

from __future__ import annotations

import time
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from ness_msgs.msg import SegmentationLatency
from vision_msgs.msg import LabelInfo

from ness_ros.bench.load import NODE_NAME, LoadSamples
from ness_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS


def start_ros() -> None:
    """rclpy's default context, for the :class:`Monitor` of this process."""
    rclpy.init()


def stop_ros() -> None:
    """Shut rclpy's default context down (if it is up)."""
    rclpy.try_shutdown()


class Monitor(LoadSamples):
    """Collects the node's ~/latency and /diagnostics and samples its memory."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.node = rclpy.create_node(f"{NODE_NAME}_monitor")
        self.node.create_subscription(SegmentationLatency, f"/{NODE_NAME}/latency",
                                      self._on_latency, OUTPUT_QOS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                      OUTPUT_QOS)
        self.node.create_subscription(LabelInfo, f"/{NODE_NAME}/label_info",
                                      lambda _: setattr(self, "ready", True), LATCHED_QOS)

    def _on_latency(self, msg: Any) -> None:
        self.latency.append((time.monotonic(), msg.processing_ms, msg.end_to_end_ms,
                             msg.keyframe))

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.endswith(NODE_NAME):
                self.diagnostics.append((time.monotonic(),
                                         {kv.key: kv.value for kv in status.values},
                                         status.message))

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            self.sample(now)
            if now >= end:
                return
            rclpy.spin_once(self.node, timeout_sec=min(0.05, end - now))
