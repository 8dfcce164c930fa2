"""Deterministic example messages of the interface packages under msg/, shared by a test and the
publisher process it starts, so both sides know exactly what must arrive."""

from __future__ import annotations

import numpy as np


def event_array():
    from builtin_interfaces.msg import Time
    from dvs_msgs.msg import Event, EventArray

    rng = np.random.default_rng(7)
    msg = EventArray()
    msg.header.stamp = Time(sec=1_700_000_000, nanosec=123_456_789)
    msg.header.frame_id = "event_camera_optical_frame"
    msg.height, msg.width = 260, 346
    for i in range(37):  # an odd count exercises CDR padding
        msg.events.append(Event(
            x=int(rng.integers(0, 346)), y=int(rng.integers(0, 260)),
            ts=Time(sec=1_700_000_000, nanosec=int(1000 * i + 5)),
            polarity=bool(i % 3 == 0)))
    return msg


def event_packet():
    from builtin_interfaces.msg import Time
    from event_camera_msgs.msg import EventPacket

    msg = EventPacket()
    msg.header.stamp = Time(sec=42, nanosec=999_999_999)
    msg.header.frame_id = "prophesee"
    msg.height, msg.width = 480, 640
    msg.seq = 2**40 + 3
    msg.time_base = 2**63 + 11
    msg.encoding = "evt3"
    msg.is_bigendian = False
    msg.events = bytes(np.arange(1001, dtype=np.uint32).astype(np.uint8))
    return msg


def label_info():
    from vision_msgs.msg import LabelInfo, VisionClass

    msg = LabelInfo()
    msg.header.frame_id = "camera"
    msg.class_map = [VisionClass(class_id=i, class_name=name) for i, name in
                     enumerate(["flat", "background", "object", "vegetation", "human", "vehicle"])]
    msg.threshold = 0.25
    return msg


ALL = {"events": event_array, "packets": event_packet, "labels": label_info}
