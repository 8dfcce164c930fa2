"""The interface packages built from msg/ work over real DDS between two processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import rclpy

from helpers.interface_messages import ALL

HELPERS = Path(__file__).resolve().parent / "helpers"


def test_messages_cross_processes_intact():
    rclpy.init()
    node = rclpy.create_node("interface_subscriber")
    received: dict[str, object] = {}
    expected = {topic: build() for topic, build in ALL.items()}
    for topic, msg in expected.items():
        node.create_subscription(type(msg), topic,
                                 lambda m, t=topic: received.setdefault(t, m), 10)
    publisher = subprocess.Popen([sys.executable, str(HELPERS / "publish_interfaces.py")],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20.0
        while len(received) < len(expected) and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
            assert publisher.poll() is None, publisher.stdout.read()
    finally:
        publisher.terminate()
        publisher.wait(timeout=10)
        node.destroy_node()
        rclpy.shutdown()
    assert set(received) == set(expected), f"received only {sorted(received)}"
    for topic, msg in expected.items():
        # Generated messages compare every field, nested sequences included.
        assert received[topic] == msg, topic
    events = received["events"]
    assert len(events.events) == 37 and events.events[3].polarity is True
    assert received["packets"].time_base == 2**63 + 11
    assert [c.class_name for c in received["labels"].class_map][-1] == "vehicle"
