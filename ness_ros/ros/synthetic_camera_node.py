"""synthetic_camera: publishes the synthetic driving sequence live, as a camera driver would.

Publishes ``image`` (sensor_msgs/Image rgb8, 20 Hz), ``events`` (dvs_msgs/EventArray, or
event_camera_msgs/EventPacket with ``event_message: packet``) every ``event_period_s``, and the
ground truth on ``labels`` (mono8, same stamp as its frame). Stamps are the node clock at start
plus sequence time; with ``rate`` 1.0 messages go out in real time. The sequence comes from the
on-disk cache (generated on first use, about a minute at 346 x 260: logged once). Plays it again
and again with stamps going on (``loop``, the default: the scene cuts back to its start, as in an
edited video) or once, then exits.

A period with more than ``max_events_per_message`` events goes out as several messages, each
stamped with its newest event and the last with the period's end, as drivers that publish by
size do. Large messages are late: with Fast DDS, an EventArray of 40 k events (640 kB) published
just before a frame reached a subscriber after the frame in 79 of 100 frames, about one period
(10 ms) late, and a node waiting for the events up to the frame's stamp waited for it. With
16384 events per message the hybrid node still waited about 10 ms for 5 % of its frames; with
8192 (128 kB), its p95 wait was 0.03 ms in six runs.
"""

from __future__ import annotations

import time
from typing import Any

import rclpy
from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from rclpy.node import Node
from sensor_msgs.msg import Image

from ness_ros.data.cache import cached_sequence, is_cached
from ness_ros.data.sequence import SequenceConfig
from ness_ros.errors import ParameterError
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import encode_event_array
from ness_ros.events.image_codec import encode_image_cdr
from ness_ros.events.packet_codec import ENCODERS, EventPacketEncoder
from ness_ros.ros.params import ParamSpec, declare
from ness_ros.ros.qos import SENSOR_QOS
from ness_ros.ros.startup import run

PARAMS = [
    ParamSpec("seed", 1000, "seed of the sequence", 0, 2**31 - 1),
    ParamSpec("duration_s", 20.0, "length of the sequence, s", 0.1, 3600.0),
    ParamSpec("width", 346, "image width, pixels", 16, 4096),
    ParamSpec("height", 260, "image height, pixels", 16, 4096),
    ParamSpec("rate", 1.0, "playback rate (1.0 = real time)", 0.01, 100.0),
    ParamSpec("event_message", "dvs", "dvs (dvs_msgs/EventArray) or packet (EventPacket)"),
    ParamSpec("packet_encoding", "evt3", "EventPacket encoding: evt3, libcaer or mono"),
    ParamSpec("event_period_s", 0.01, "events are published in messages of this span, s",
              0.0005, 1.0),
    ParamSpec("max_events_per_message", 8192, "a period holding more events is published "
              "in several messages of at most this many (see the module notes)", 1, 10_000_000),
    ParamSpec("frame_id", "camera", "frame_id of every message"),
    ParamSpec("loop", True, "play the sequence again when it ends (false: exit)"),
    ParamSpec("wait_for_subscribers_s", 60.0, "before playing, wait up to this long until "
              "image, events and labels each have a subscriber, s", 0.0, 3600.0),
    ParamSpec("start_delay_s", 0.5, "then wait this long more (late joiners), s", 0.0, 60.0),
]


class SyntheticCameraNode(Node):
    node_name = "synthetic_camera"
    runs_a_model = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.node_name, **kwargs)
        p = self.params = declare(self, PARAMS)
        if p["event_message"] not in ("dvs", "packet"):
            raise ParameterError("event_message", f"must be dvs or packet, got "
                                                  f"{p['event_message']!r}")
        if p["event_message"] == "packet" and p["packet_encoding"] not in ENCODERS:
            raise ParameterError("packet_encoding", f"must be one of {', '.join(ENCODERS)}, "
                                                    f"got {p['packet_encoding']!r}")
        self.image_pub = self.create_publisher(Image, "image", SENSOR_QOS)
        self.labels_pub = self.create_publisher(Image, "labels", SENSOR_QOS)
        event_type = EventArray if p["event_message"] == "dvs" else EventPacket
        self.events_pub = self.create_publisher(event_type, "events", SENSOR_QOS)
        config = SequenceConfig(width=p["width"], height=p["height"],
                                duration_s=p["duration_s"])
        if not is_cached(p["seed"], config):
            self.get_logger().info(
                f"generating the sequence of seed {p['seed']} ({p['width']} x {p['height']}, "
                f"{p['duration_s']} s) before playing: up to a minute or two, once (cached)")
        self.sequence = cached_sequence(p["seed"], config, progress=False)
        self.packets = (EventPacketEncoder(p["packet_encoding"], width=p["width"],
                                           height=p["height"], frame_id=p["frame_id"])
                        if p["event_message"] == "packet" else None)
        self.get_logger().info(f"sequence ready: {len(self.sequence)} frames, "
                               f"{self.sequence.event_rate / 1e6:.2f} M events/s")

    def _publish_events(self, events: EventBatch, stamp_ns: int) -> None:
        if self.packets is not None:
            self.events_pub.publish(self.packets.encode(events, stamp_ns))
        else:
            header = Header.from_ns(stamp_ns, self.params["frame_id"])
            self.events_pub.publish(encode_event_array(events, header))

    def _publish_period(self, events: EventBatch, shift_ns: int, end_ns: int) -> None:
        """Publish one period's events (sequence time + ``shift_ns``) in messages of at most
        ``max_events_per_message``; the last is stamped ``end_ns``, the others with their newest
        event, so that no message claims events it does not hold."""
        limit = self.params["max_events_per_message"]
        count = len(events)
        for start in range(0, max(count, 1), limit):
            part = events.events[start:start + limit].copy()
            part["t"] += shift_ns
            last = start + limit >= count
            stamp = end_ns if last else int(part["t"][-1])
            self._publish_events(EventBatch(part, events.width, events.height), stamp)

    def play(self) -> None:
        """Publish the whole sequence (again and again with ``loop``), pacing by ``rate``."""
        p, seq = self.params, self.sequence
        self._wait_for_subscribers(p["wait_for_subscribers_s"])
        time.sleep(p["start_delay_s"])
        origin = self.get_clock().now().nanoseconds
        wall0 = time.monotonic()
        period_ns = int(p["event_period_s"] * 1e9)
        t_prev = 0
        offset = 0
        while rclpy.ok():
            for i in range(len(seq)):
                t_frame = int(seq.stamps_ns[i])
                chunk_start = t_prev
                while chunk_start < t_frame:  # events in (t_prev, t_frame], in short messages
                    chunk_end = min(chunk_start + period_ns, t_frame)
                    self._sleep_until(wall0, offset + chunk_end, p["rate"])
                    events = seq.events.time_slice(chunk_start + 1, chunk_end + 1)
                    self._publish_period(events, origin + offset, origin + offset + chunk_end)
                    chunk_start = chunk_end
                header = Header.from_ns(origin + offset + t_frame, p["frame_id"])
                self.image_pub.publish(encode_image_cdr(seq.frames[i], "rgb8", header))
                self.labels_pub.publish(encode_image_cdr(seq.labels[i], "mono8", header))
                t_prev = t_frame
                if not rclpy.ok():
                    return
            if not p["loop"]:
                return
            offset += int(seq.stamps_ns[-1])
            t_prev = 0

    def run(self) -> None:
        self.play()
        if rclpy.ok():
            self.get_logger().info("sequence finished")

    def close(self) -> None:
        self.destroy_node()

    def _wait_for_subscribers(self, timeout_s: float) -> None:
        publishers = (self.image_pub, self.events_pub, self.labels_pub)
        deadline = time.monotonic() + timeout_s
        while rclpy.ok() and time.monotonic() < deadline:
            if all(pub.get_subscription_count() > 0 for pub in publishers):
                return
            time.sleep(0.05)
        if timeout_s > 0:
            missing = [pub.topic_name for pub in publishers if pub.get_subscription_count() == 0]
            self.get_logger().warning(f"playing without subscribers on {missing}")

    @staticmethod
    def _sleep_until(wall0: float, seq_ns: int, rate: float) -> None:
        delay = wall0 + seq_ns / 1e9 / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def main(args: list[str] | None = None) -> None:
    """Exit code 0 at the end of the sequence (no ``loop``) or on SIGINT/SIGTERM however many
    come (see :mod:`ness_ros.ros.startup`)."""
    run(SyntheticCameraNode, args)


if __name__ == "__main__":
    main()
