"""``dvs_msgs/EventArray`` CDR bytes <-> :class:`EventBatch`, vectorised (no per-event Python).

Layout after the header, height and width: a uint32 event count (4-aligned, at offset ``s``) and
the events. Each event is ``uint16 x, uint16 y, int32 ts.sec, uint32 ts.nanosec, bool polarity``
with every field aligned to its size, so for event k: ``ts.sec`` at ``s + 4 + 16 k``,
``ts.nanosec`` at ``s + 8 + 16 k``, ``polarity`` at ``s + 12 + 16 k``; ``x``/``y`` at
``s``/``s + 2``
for k = 0 and at ``s - 2 + 16 k``/``s + 16 k`` for k >= 1 (a 2-byte pad then sits before ``ts``).
The events take ``13 + 16 (n - 1)`` bytes. Decoding is a handful of strided NumPy copies.

Times: ``t = ts.sec * 1e9 + ts.nanosec`` as int64 nanoseconds. Polarity bytes other than 0/1 are
rejected. Coordinates outside ``width`` x ``height`` are returned as they are; use
:meth:`EventBatch.within_bounds` to drop and count them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.cdr import BytesLike, CdrReader, CdrWriter, Header, check_uint
from ness_ros.events.errors import EventError

STRIDE = 16
_NS = np.int64(1_000_000_000)
_TAIL = np.dtype({"names": ["sec", "nanosec", "polarity"], "formats": ["<i4", "<u4", "u1"],
                  "offsets": [0, 4, 8], "itemsize": 9})
_XY = np.dtype({"names": ["x", "y"], "formats": ["<u2", "<u2"], "offsets": [0, 2],
                "itemsize": 4})
_INT32_MIN_NS = -(2**31) * 1_000_000_000
_INT32_END_NS = 2**31 * 1_000_000_000


@dataclass(slots=True)
class EventArrayInfo:
    """Everything of a ``dvs_msgs/EventArray`` except the events.

    Attributes:
        header: stamp and frame id.
        width: sensor width in pixels (the message's ``width``).
        height: sensor height in pixels.
    """

    header: Header
    width: int
    height: int

    @property
    def stamp_ns(self) -> int:
        return self.header.stamp_ns

    @property
    def frame_id(self) -> str:
        return self.header.frame_id


def events_nbytes(count: int) -> int:
    """Bytes taken by ``count`` serialized events (13 for the first, 16 for each further one)."""
    return 0 if count == 0 else 13 + STRIDE * (count - 1)


def decode_event_array(data: BytesLike | NDArray[np.uint8]) -> tuple[EventBatch, EventArrayInfo]:
    """Decode the CDR bytes of a ``dvs_msgs/EventArray`` (what a ``raw=True`` subscription gets).

    Returns:
        The events (a new array of :data:`EVENT_DTYPE`, shape (N,), t in int64 ns) with the
        message's width/height, and the header information.

    Raises:
        EventError: truncated or malformed bytes, polarity other than 0/1, zero sensor size.
    """
    reader = CdrReader(data, "EventArray")
    header = reader.header()
    height = reader.u32("height")
    width = reader.u32("width")
    count = reader.sequence("events", 1)
    start = reader.pos
    reader.finish(start + events_nbytes(count), "events")
    if width == 0 or height == 0:
        raise EventError(f"EventArray: sensor size {width} x {height} must be positive")
    events = np.empty(count, dtype=EVENT_DTYPE)
    if count:
        buf = reader.data
        tail = np.ndarray((count,), _TAIL, buffer=buf, offset=start + 4, strides=(STRIDE,))
        polarity = tail["polarity"]
        if polarity.max() > 1:
            bad = int(np.flatnonzero(polarity > 1)[0])
            raise EventError(f"EventArray: events[{bad}].polarity is {polarity[bad]}, "
                             "expected 0 or 1")
        t = events["t"]
        np.multiply(tail["sec"], _NS, out=t)
        t += tail["nanosec"]
        first = np.frombuffer(buf, dtype=_XY, count=1, offset=start)
        events[:1]["x"], events[:1]["y"] = first["x"], first["y"]
        if count > 1:
            rest = np.ndarray((count - 1,), _XY, buffer=buf, offset=start + 14,
                              strides=(STRIDE,))
            events["x"][1:] = rest["x"]
            events["y"][1:] = rest["y"]
        events["polarity"] = polarity
    return EventBatch(events, width, height), EventArrayInfo(header, width, height)


def encode_event_array(batch: EventBatch, header: Header | None = None) -> bytes:
    """Serialize ``batch`` as a ``dvs_msgs/EventArray`` in CDR (encapsulation header included).

    The result equals ``rclpy.serialization.serialize_message`` of the same message except that
    alignment padding is zero here (rclpy leaves it uninitialised). Times must lie within the
    int32-seconds range of ``builtin_interfaces/Time``; polarity is written as ``polarity != 0``.
    """
    header = header or Header()
    writer = CdrWriter()
    writer.header(header)
    writer.u32(check_uint(batch.height, 32, "height"))
    writer.u32(check_uint(batch.width, 32, "width"))
    count = len(batch)
    writer.u32(check_uint(count, 32, "events length"))
    start = writer.pos()
    out = np.zeros(start + events_nbytes(count), dtype=np.uint8)
    out[:start] = np.frombuffer(writer.buf, dtype=np.uint8)
    if count:
        t = batch.t
        t_min, t_max = int(t.min()), int(t.max())
        if t_min < _INT32_MIN_NS or t_max >= _INT32_END_NS:
            raise EventError(f"event times {t_min}..{t_max} ns do not fit int32 seconds")
        tail = np.ndarray((count,), _TAIL, buffer=out, offset=start + 4, strides=(STRIDE,))
        sec, nanosec = np.divmod(t, _NS)
        tail["sec"] = sec
        tail["nanosec"] = nanosec
        tail["polarity"] = batch.polarity != 0
        first = np.ndarray((1,), _XY, buffer=out, offset=start)
        first["x"], first["y"] = batch.x[:1], batch.y[:1]
        if count > 1:
            rest = np.ndarray((count - 1,), _XY, buffer=out, offset=start + 14,
                              strides=(STRIDE,))
            rest["x"] = batch.x[1:]
            rest["y"] = batch.y[1:]
    return out.tobytes()
