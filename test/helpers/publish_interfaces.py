"""Publisher process for test_interfaces_dds: publishes each example message on its own topic
at 20 Hz until it is terminated (or for 30 s at most)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rclpy  # noqa: E402

from helpers.interface_messages import ALL  # noqa: E402


def main() -> None:
    rclpy.init()
    node = rclpy.create_node("interface_publisher")
    publishers = {}
    for topic, build in ALL.items():
        msg = build()
        publishers[topic] = (node.create_publisher(type(msg), topic, 10), msg)
    deadline = time.monotonic() + 30.0
    print("publishing", flush=True)
    try:
        while time.monotonic() < deadline:
            for publisher, msg in publishers.values():
                publisher.publish(msg)
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
