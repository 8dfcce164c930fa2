"""The node's /diagnostics status, built from its statistics (about once a second)."""

from __future__ import annotations

from collections.abc import Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from ness_ros.ros.qos import OUTPUT_QOS


class DiagnosticsPublisher:
    """Publishes one DiagnosticStatus named after the node on ``/diagnostics``."""

    def __init__(self, node: Node, hardware_id: str = "") -> None:
        self.node = node
        self.hardware_id = hardware_id
        self.publisher = node.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)

    def publish(self, level: int, message: str, values: Mapping[str, object]) -> None:
        status = DiagnosticStatus(level=bytes([level]), name=self.node.get_fully_qualified_name(),
                                  message=message, hardware_id=self.hardware_id)
        status.values = [KeyValue(key=k, value=_text(v)) for k, v in values.items()]
        array = DiagnosticArray()
        array.header.stamp = self.node.get_clock().now().to_msg()
        array.status = [status]
        self.publisher.publish(array)


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
