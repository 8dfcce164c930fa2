"""Input streams of the segmentation nodes, ROS-free: serialized messages in, checked data out.

:class:`EventStream` decodes event messages (dvs_msgs/EventArray or event_camera_msgs/EventPacket
bytes), maps sensor time to message time, rejects or trims bad input with a reason, and keeps the
events in a bounded ring buffer. :func:`decode_frame` turns sensor_msgs/Image bytes into RGB.
:class:`StampGuard` rejects a stamp far from the clock in a stream whose stamps are live.
Every rejection raises :class:`~ness_ros.events.errors.InputError` (an
:class:`~ness_ros.events.errors.EventError`) whose ``kind`` names the reason; callers count it
per kind and go on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import CdrReader, Header
from ness_ros.events.dvs_codec import decode_event_array
from ness_ros.events.errors import EventError, InputError
from ness_ros.events.image_codec import ENCODINGS, decode_image_cdr, to_rgb8
from ness_ros.events.packet_codec import DECODERS, EventPacketDecoder, parse_event_packet
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
    reset: str = ""          # why the buffer was reset ("" when it was not)


class StampGuard:
    """Tells stamps far from the clock apart in a stream whose stamps are live.

    While the stream's accepted stamps lie within ``tolerance_ns`` of the clock (a live source),
    a stamp further than that (from the future, or stale) is refused. ``switch_after``
    consecutive refused stamps are taken as a change for good (a bag started, the clock was
    stepped): that stamp is accepted and the stream is no longer live. Replayed streams (stamps
    far from the clock from the start) are never refused.
    """

    def __init__(self, tolerance_ns: int, switch_after: int = 10) -> None:
        self.tolerance_ns, self.switch_after = int(tolerance_ns), int(switch_after)
        self.live: bool | None = None
        self._refused = 0

    def check(self, stamp_ns: int, now_ns: int) -> None:
        """Accept ``stamp_ns`` (ns, the clock's time base) or raise ``InputError("stamp")``."""
        offset = stamp_ns - now_ns
        live = abs(offset) <= self.tolerance_ns
        if self.live and not live and self._refused + 1 < self.switch_after:
            self._refused += 1
            side = "ahead of" if offset > 0 else "behind"
            raise InputError("stamp", f"stamp {stamp_ns} ns is {abs(offset) / 1e9:.3f} s {side} "
                                      f"the clock while the stream's stamps are live")
        self.live, self._refused = live, 0


class EventStream:
    """Decoded, checked events of one topic, in a bounded time-indexed buffer.

    Args:
        message_type: ``"dvs"`` (dvs_msgs/EventArray) or ``"packet"`` (EventPacket).
        max_events: most events buffered (oldest dropped first, counted).
        max_seconds: longest span buffered.
        max_skew_s: events more than this far from their message's header stamp are rejected.
        loop_tolerance_s: a message starting this much before the newest buffered event resets
            the buffer (a bag loop or a restarted driver); smaller overlaps are trimmed.
        live_tolerance_s: see :class:`StampGuard` (used when :meth:`push` is given the clock).
    """

    def __init__(self, message_type: str, *, max_events: int = 5_000_000,
                 max_seconds: float = 2.0, max_skew_s: float = 5.0,
                 loop_tolerance_s: float = 0.5, live_tolerance_s: float = 5.0) -> None:
        if message_type not in EVENT_ENCODINGS:
            raise ValueError(f"event message type must be one of {EVENT_ENCODINGS}, "
                             f"got {message_type!r}")
        self.message_type = message_type
        self.max_events, self.max_seconds = int(max_events), float(max_seconds)
        self.max_skew_ns = int(max_skew_s * 1e9)
        self.loop_tolerance_ns = int(loop_tolerance_s * 1e9)
        self.guard = StampGuard(int(live_tolerance_s * 1e9))
        self.buffer: EventRingBuffer | None = None
        self._packets = EventPacketDecoder()
        self._packet_decoder: object | None = None
        self._sensor_offset_ns: int | None = None
        self.counts: Counter[str] = Counter()

    @property
    def lost_packets(self) -> int:
        return self._packets.lost_packets

    @property
    def trigger_events(self) -> int:
        """External trigger events of every EventPacket so far (evt3 0xA words)."""
        return self._packets.trigger_events

    def push(self, data: bytes | memoryview, now_ns: int | None = None) -> PushResult:
        """Decode one serialized message and buffer its events.

        ``now_ns``, the clock's time, enables the :class:`StampGuard` check of the header stamp.

        Raises:
            InputError: nothing is kept; ``kind`` is ``malformed`` (bytes, field values),
                ``encoding`` (unknown or big-endian EventPacket encoding), ``payload`` (an
                EventPacket payload its decoder refuses, e.g. a truncated evt3 word), ``skew``
                (events further than ``max_skew_s`` from the header stamp) or ``stamp``.
        """
        batch, header = self._decode(data)
        if now_ns is not None:
            self.guard.check(header.stamp_ns, now_ns)
        self.counts["messages"] += 1
        result = PushResult(events=0, header=header)
        if len(batch) == 0:
            self.counts["empty_messages"] += 1
            return result
        t = batch.t
        t_min, t_max = int(t.min()), int(t.max())
        if t_min < header.stamp_ns - self.max_skew_ns or t_max > header.stamp_ns + \
                self.max_skew_ns:
            raise InputError("skew", f"event times {t_min}..{t_max} ns are more than "
                                     f"{self.max_skew_ns / 1e9:g} s from the header stamp "
                                     f"{header.stamp_ns} ns")
        batch, result.out_of_bounds = batch.within_bounds()
        first = t_min if result.out_of_bounds == 0 else (int(batch.t.min()) if len(batch)
                                                         else None)
        if self.buffer is None or (self.buffer.width, self.buffer.height) != (batch.width,
                                                                              batch.height):
            if self.buffer is not None:
                result.reset = (f"sensor size changed from {self.buffer.width} x "
                                f"{self.buffer.height} to {batch.width} x {batch.height}")
            self.buffer = EventRingBuffer(batch.width, batch.height, max_events=self.max_events,
                                          max_seconds=self.max_seconds)
        newest = self.buffer.newest_ns
        if newest is not None and first is not None and first < newest:
            if newest - first > self.loop_tolerance_ns:
                self.buffer.reset()
                self._sensor_offset_ns = None
                result.reset = (f"event time went back by {(newest - first) / 1e9:.3f} s "
                                "(bag loop or driver restart)")
            else:
                keep = batch.t >= newest
                result.late = int((~keep).sum())
                batch = EventBatch(batch.events[keep], batch.width, batch.height)
        # Events the count bound pushes out (before they age out of the time bound).
        self.counts["overflow"] += max(0, len(self.buffer) + len(batch) - self.max_events)
        self.buffer.append(batch)
        result.events = len(batch)
        self.counts["events"] += len(batch)
        self.counts["out_of_bounds"] += result.out_of_bounds
        self.counts["late"] += result.late
        self.counts["resets"] += int(bool(result.reset))
        return result

    def _decode(self, data: bytes | memoryview) -> tuple[EventBatch, Header]:
        if self.message_type == "dvs":
            try:
                batch, info = decode_event_array(data)
            except EventError as exc:
                raise InputError("malformed", str(exc)) from exc
            return batch, info.header
        try:
            batch, packet = self._packets.decode(data)
        except EventError as exc:
            raise InputError(_packet_error_kind(data), str(exc)) from exc
        if self._packets.decoder is not self._packet_decoder:  # new stream: sensor time restarts
            self._packet_decoder, self._sensor_offset_ns = self._packets.decoder, None
        return self._to_message_time(batch, packet.header.stamp_ns), packet.header

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
    def sensor_size(self) -> tuple[int, int] | None:
        """(width, height) of the buffered events' sensor (None before the first events)."""
        return None if self.buffer is None else (self.buffer.width, self.buffer.height)

    @property
    def dropped_events(self) -> int:
        """Events the buffer's bounds pushed out, the count bound (``counts["overflow"]``) and
        the time bound together (not the rejected ones)."""
        return 0 if self.buffer is None else self.buffer.dropped_events

    def reset(self) -> None:
        if self.buffer is not None:
            self.buffer.reset()
        self._sensor_offset_ns = None


def _packet_error_kind(data: bytes | memoryview) -> str:
    """Why an EventPacket failed to decode: ``malformed``, ``encoding`` or ``payload``."""
    try:
        info, _ = parse_event_packet(data)
    except EventError:
        return "malformed"
    if info.encoding not in DECODERS or info.is_bigendian:
        return "encoding"
    return "malformed" if info.width == 0 or info.height == 0 else "payload"


def decode_frame(data: bytes | memoryview) -> tuple[NDArray[np.uint8], Header, str]:
    """A sensor_msgs/Image as RGB (H, W, 3) uint8, its header and its encoding.

    Raises:
        InputError: ``kind`` is ``malformed`` (truncated or malformed bytes), ``encoding``
            (unsupported encoding), ``size`` (``step`` or data size not matching width,
            height and encoding), ``empty`` (no pixels) or ``nan`` (NaN pixels in a float image).
    """
    try:
        pixels, encoding, header = decode_image_cdr(data)
    except EventError as exc:
        raise InputError(_image_error_kind(data), str(exc)) from exc
    if pixels.size == 0:
        raise InputError("empty", f"empty image ({pixels.shape[1] if pixels.ndim > 1 else 0} x "
                                  f"{pixels.shape[0]} pixels)")
    if pixels.dtype.kind == "f" and np.isnan(pixels).any():
        raise InputError("nan", f"{encoding} image has {int(np.isnan(pixels).sum())} NaN pixels")
    return to_rgb8(pixels, encoding), header, encoding


def _image_error_kind(data: bytes | memoryview) -> str:
    """Why an Image failed to decode: ``malformed``, ``encoding`` or ``size``."""
    try:
        reader = CdrReader(data, "Image")
        reader.header()
        reader.u32("height")
        reader.u32("width")
        encoding = reader.string("encoding")
        reader.boolean("is_bigendian")
        reader.u32("step")
        count = reader.sequence("data", 1)
        reader.finish(reader.pos + count, "data")
    except EventError:
        return "malformed"
    return "size" if encoding in ENCODINGS else "encoding"
