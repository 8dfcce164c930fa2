"""``ness bench load``'s publisher: its own process (``python -m ness_ros.ros.load_publisher
--publish CONFIG_JSON``, started by :func:`ness_ros.bench.load.run`) sending the load's event
messages and frames on schedule; the messages are :mod:`ness_ros.bench.load`'s (ROS-free)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import rclpy
from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from sensor_msgs.msg import Image

from ness_ros.bench.load import (
    HEADER_STAMP,
    HEIGHT,
    MAX_LAG_NS,
    NODE_NAME,
    TOPICS,
    WIDTH,
    bench_frames,
    restamped,
)
from ness_ros.ros.qos import SENSOR_QOS


def publish(config: dict[str, Any]) -> dict[str, Any]:
    """Publish the load described by ``config``; returns what was published."""
    packets = config.get("event_message", "dvs") == "packet"
    events, period_ns, per_message = restamped(config)
    frame_ns = int(round(1e9 / config["frame_rate"])) if config["frame_rate"] > 0 else 0
    frames = bench_frames(WIDTH, HEIGHT)
    rclpy.init()
    node = rclpy.create_node(f"{NODE_NAME}_publisher")
    event_pub = node.create_publisher(EventPacket if packets else EventArray, TOPICS["events"],
                                      SENSOR_QOS)
    image_pub = node.create_publisher(Image, TOPICS["image"], SENSOR_QOS)
    deadline = time.monotonic() + 120.0  # the node starts at the same time
    while (event_pub.get_subscription_count() == 0 or image_pub.get_subscription_count() == 0) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    print("started", flush=True)
    t0 = time.time_ns() // 1000 * 1000  # whole microseconds: evt3 and libcaer times
    mono0 = time.monotonic_ns()
    end = mono0 + int(config["duration"] * 1e9)
    k = j = sent = skipped = frames_sent = frames_skipped = 0
    busy_ns = 0
    while True:
        now = time.monotonic_ns()
        if now >= end:
            break
        target = mono0 + k * period_ns
        if now < target:
            time.sleep((target - now) / 1e9)
        elif now - target > MAX_LAG_NS:
            behind = (now - mono0) // period_ns - k
            k += behind
            skipped += behind
            if frame_ns:
                next_frame = -(-(k * period_ns) // frame_ns)
                frames_skipped += next_frame - j
                j = next_frame
        began = time.monotonic_ns()
        event_pub.publish(events.message(k, t0 + k * period_ns, sent))
        sent += 1
        k += 1
        while frame_ns and j * frame_ns <= k * period_ns:
            frame = frames[j % len(frames)]
            HEADER_STAMP.pack_into(frame, 4, *divmod(t0 + j * frame_ns, 1_000_000_000))
            image_pub.publish(bytes(frame))
            frames_sent += 1
            j += 1
        busy_ns += time.monotonic_ns() - began
    elapsed = (time.monotonic_ns() - mono0) / 1e9
    node.destroy_node()
    rclpy.try_shutdown()
    return {"messages": sent, "messages_skipped": skipped, "events": sent * per_message,
            "events_per_message": per_message, "frames": frames_sent,
            "frames_skipped": frames_skipped, "elapsed_s": elapsed,
            "publisher_busy_fraction": busy_ns / 1e9 / elapsed if elapsed else 0.0,
            "bytes_per_event": events.bytes_per_event,
            "payload_bytes_per_event": (events.payload_bytes / per_message if packets
                                        else 16.0)}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--publish":
        print(json.dumps(publish(json.loads(sys.argv[2]))), flush=True)
    else:
        sys.exit("usage: python -m ness_ros.ros.load_publisher --publish CONFIG_JSON (run by "
                 "ness bench load)")
