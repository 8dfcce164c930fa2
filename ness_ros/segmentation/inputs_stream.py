"""Input streams of the segmentation nodes, ROS-free: serialized messages in, checked data out.

:class:`EventStream` decodes event messages (dvs_msgs/EventArray or event_camera_msgs/EventPacket
bytes), maps sensor time to message time, rejects or trims bad input with a reason, and keeps the
events in a bounded ring buffer. :func:`decode_frame` turns sensor_msgs/Image bytes into RGB.
Every rejection raises :class:`~ness_ros.events.errors.EventError`; callers count it and go on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import decode_event_array
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import decode_image_cdr, to_rgb8
from ness_ros.events.packet_codec import EventPacketDecoder
from ness_ros.events.ring_buffer import EventRingBuffer

#: Event message types by the name used in parameters.
EVENT_ENCODINGS = ("dvs", "packet")


@dataclass
class PushResult:
    """What :meth:`EventStream.push` did with one message."""

    events: int              # events kept
    header: Header
    out_of_bounds: int = 0   # dropped: outside the sensor
    late: int = 0            # dropped: older than events already buffered
    reset: bool = False      # time went backwards (bag loop) or the sensor changed: buffer reset


class EventStream:
    """Decoded, checked events of one topic, in a bounded time-indexed buffer.

    Args:
        message_type: ``"dvs"`` (dvs_msgs/EventArray) or ``"packet"`` (EventPacket).
        max_events: most events buffered (oldest dropped first, counted).
        max_seconds: longest span buffered.
        max_skew_s: events more than this far from their message's header stamp are rejected.
        loop_tolerance_s: a message starting this much before the newest buffered event resets
            the buffer (a bag loop or a restarted driver); smaller overlaps are trimmed.
    """

    def __init__(self, message_type: str, *, max_events: int = 5_000_000,
                 max_seconds: float = 2.0, max_skew_s: float = 5.0,
                 loop_tolerance_s: float = 0.5) -> None:
        if message_type not in EVENT_ENCODINGS:
            raise ValueError(f"event message type must be one of {EVENT_ENCODINGS}, "
                             f"got {message_type!r}")
        self.message_type = message_type
        self.max_events, self.max_seconds = int(max_events), float(max_seconds)
        self.max_skew_ns = int(max_skew_s * 1e9)
        self.loop_tolerance_ns = int(loop_tolerance_s * 1e9)
        self.buffer: EventRingBuffer | None = None
        self._packets = EventPacketDecoder()
        self._sensor_offset_ns: int | None = None
        self.counts: Counter[str] = Counter()

    @property
    def lost_packets(self) -> int:
        return self._packets.lost_packets

    def push(self, data: bytes | memoryview) -> PushResult:
        """Decode one serialized message and buffer its events.

        Raises:
            EventError: the message is malformed or its stamps are implausible (nothing kept).
        """
        if self.message_type == "dvs":
            batch, info = decode_event_array(data)
            header = info.header
        else:
            batch, packet = self._packets.decode(data)
            header = packet.header
            batch = self._to_message_time(batch, header.stamp_ns)
        self.counts["messages"] += 1
        result = PushResult(events=0, header=header)
        if len(batch) == 0:
            return result
        t = batch.t
        if abs(int(t[0]) - header.stamp_ns) > self.max_skew_ns or \
                abs(int(t[-1]) - header.stamp_ns) > self.max_skew_ns:
            raise EventError(f"event times {int(t[0])}..{int(t[-1])} ns are more than "
                             f"{self.max_skew_ns / 1e9:g} s from the header stamp "
                             f"{header.stamp_ns} ns")
        batch, result.out_of_bounds = batch.within_bounds()
        if self.buffer is None or (self.buffer.width, self.buffer.height) != (batch.width,
                                                                              batch.height):
            result.reset = self.buffer is not None
            self.buffer = EventRingBuffer(batch.width, batch.height, max_events=self.max_events,
                                          max_seconds=self.max_seconds)
        newest = self.buffer.newest_ns
        if newest is not None and len(batch) and int(batch.t.min()) < newest:
            if newest - int(batch.t.min()) > self.loop_tolerance_ns:
                self.buffer.reset()
                self._sensor_offset_ns = None
                result.reset = True
            else:
                keep = batch.t >= newest
                result.late = int((~keep).sum())
                batch = EventBatch(batch.events[keep], batch.width, batch.height)
        self.buffer.append(batch)
        result.events = len(batch)
        self.counts["events"] += len(batch)
        self.counts["out_of_bounds"] += result.out_of_bounds
        self.counts["late"] += result.late
        self.counts["resets"] += int(result.reset)
        return result

    def _to_message_time(self, batch: EventBatch, stamp_ns: int) -> EventBatch:
        """EventPacket times are sensor time; anchor them to the header stamp of the first packet
        (the host time of its first event's arrival) and keep that offset."""
        if len(batch) == 0:
            return batch
        if self._sensor_offset_ns is None:
            self._sensor_offset_ns = stamp_ns - int(batch.t[0])
        events = batch.events.copy()
        events["t"] += self._sensor_offset_ns
        return EventBatch(events, batch.width, batch.height)

    def query(self, t0_ns: int, t1_ns: int) -> EventBatch | None:
        """Events with ``t0_ns <= t < t1_ns`` (None before the first event message)."""
        return None if self.buffer is None else self.buffer.query(t0_ns, t1_ns)

    @property
    def newest_ns(self) -> int | None:
        return None if self.buffer is None else self.buffer.newest_ns

    @property
    def dropped_events(self) -> int:
        """Events the buffer's bounds pushed out (not the rejected ones)."""
        return 0 if self.buffer is None else self.buffer.dropped_events

    def reset(self) -> None:
        if self.buffer is not None:
            self.buffer.reset()
        self._sensor_offset_ns = None


def decode_frame(data: bytes | memoryview) -> tuple[NDArray[np.uint8], Header, str]:
    """A sensor_msgs/Image as RGB (H, W, 3) uint8, its header and its encoding.

    Raises:
        EventError: unsupported encoding, size not matching step and height, an empty image, or
            NaN pixels in a float image.
    """
    pixels, encoding, header = decode_image_cdr(data)
    if pixels.size == 0:
        raise EventError(f"empty image ({pixels.shape[1] if pixels.ndim > 1 else 0} x "
                         f"{pixels.shape[0]} pixels)")
    if pixels.dtype.kind == "f" and np.isnan(pixels).any():
        raise EventError(f"{encoding} image has {int(np.isnan(pixels).sum())} NaN pixels")
    return to_rgb8(pixels, encoding), header, encoding
