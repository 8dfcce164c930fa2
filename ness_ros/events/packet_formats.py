"""The ``libcaer`` and ``mono`` payloads of ``event_camera_msgs/EventPacket``.

Both are stateless: each packet stands alone. Output ``t`` is int64 nanoseconds.

- ``libcaer``: 8 bytes per event, ``uint32 data, int32 t_us`` little-endian; x = data bits 17-31,
  y = bits 2-16, polarity = bit 1 (bit 0 is libcaer's valid mark, ignored).
  ``t = time_base + 1000 * t_us`` with ``time_base`` in ns and ``t_us`` in microseconds; when
  ``t_us`` decreases within a packet the 31-bit counter rolled over and 2^31 us are added from
  there on (as upstream). Negative ``t_us`` raises EventError.
- ``mono``: 8 bytes per event, one little-endian uint64 ``p``: ``t = time_base + (p & 0xFFFFFFFF)``
  (both ns), x = bits 32-47, y = bits 48-62, polarity = bit 63 (upstream's mono codec).

Both follow ros-event-camera/event_camera_codecs; a time that overflows int64 ns raises EventError.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.cdr import BytesLike
from ness_ros.events.errors import EventError

Payload = BytesLike | NDArray[np.uint8]
_INT64_END = 2**63
_LIBCAER = np.dtype([("data", "<u4"), ("t_us", "<i4")])


def _check_time_range(time_base: int, t_max_offset: int, encoding: str) -> None:
    if time_base + t_max_offset >= _INT64_END:
        raise EventError(f"{encoding}: time_base {time_base} ns plus event times up to "
                         f"{t_max_offset} ns overflows int64 nanoseconds")


def _records(payload: Payload, dtype: np.dtype | str, encoding: str) -> NDArray:
    nbytes = payload.nbytes if isinstance(payload, np.ndarray) else len(payload)
    size = np.dtype(dtype).itemsize
    if nbytes % size:
        raise EventError(f"{encoding} payload of {nbytes} bytes is not a whole number of "
                         f"{size}-byte events")
    return np.frombuffer(payload, dtype=dtype)


class LibcaerDecoder:
    """``libcaer`` polarity events (stateless apart from geometry)."""

    encoding = "libcaer"
    triggers = 0  # the format carries no trigger events

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)

    def reset(self) -> None:
        """Nothing to forget: each packet stands alone."""

    def decode(self, payload: Payload, time_base: int = 0) -> EventBatch:
        rec = _records(payload, _LIBCAER, self.encoding)
        out = np.empty(len(rec), dtype=EVENT_DTYPE)
        if len(rec):
            t_us = rec["t_us"].astype(np.int64)
            if t_us.min() < 0:
                raise EventError(f"libcaer: negative timestamp {int(t_us.min())} us")
            t_us[1:] += np.cumsum(t_us[1:] < t_us[:-1]) << 31
            _check_time_range(time_base, int(t_us[-1]) * 1000, self.encoding)
            np.multiply(t_us, 1000, out=out["t"])
            out["t"] += time_base
            data = rec["data"]
            out["x"] = data >> 17
            out["y"] = (data >> 2) & 0x7FFF
            out["polarity"] = (data >> 1) & 1
        return EventBatch(out, self.width, self.height)


class MonoDecoder:
    """``mono`` events: one uint64 per event (stateless apart from geometry)."""

    encoding = "mono"
    triggers = 0  # the format carries no trigger events

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = int(width), int(height)

    def reset(self) -> None:
        """Nothing to forget: each packet stands alone."""

    def decode(self, payload: Payload, time_base: int = 0) -> EventBatch:
        p = _records(payload, "<u8", self.encoding)
        out = np.empty(len(p), dtype=EVENT_DTYPE)
        if len(p):
            dt = (p & 0xFFFFFFFF).astype(np.int64)
            _check_time_range(time_base, int(dt.max()), self.encoding)
            np.add(dt, time_base, out=out["t"])
            out["x"] = (p >> 32) & 0xFFFF
            out["y"] = (p >> 48) & 0x7FFF
            out["polarity"] = p >> 63
        return EventBatch(out, self.width, self.height)


def encode_libcaer(batch: EventBatch, time_base: int) -> bytes:
    """``libcaer`` payload: times as whole microseconds after ``time_base`` ns (< 2^31 us)."""
    dt_us = (batch.t - time_base) // 1000
    if len(batch) and (dt_us.min() < 0 or dt_us.max() >= 2**31 or not batch.is_time_sorted()):
        raise EventError(f"libcaer: event times must be sorted and within 2^31 us after "
                         f"time_base {time_base} ns")
    if len(batch) and max(int(batch.x.max()), int(batch.y.max())) >= 1 << 15:
        raise EventError("libcaer: x and y must be < 32768")
    rec = np.empty(len(batch), dtype=_LIBCAER)
    rec["data"] = ((batch.x.astype(np.uint32) << 17) | (batch.y.astype(np.uint32) << 2)
                   | ((batch.polarity != 0).astype(np.uint32) << 1) | 1)
    rec["t_us"] = dt_us
    return rec.tobytes()


def encode_mono(batch: EventBatch, time_base: int) -> bytes:
    """``mono`` payload: times as nanoseconds after ``time_base`` (< 2^32 ns), y < 32768."""
    dt = batch.t - time_base
    if len(batch) and (dt.min() < 0 or dt.max() >= 2**32 or int(batch.y.max()) >= 1 << 15):
        raise EventError(f"mono: times must be within 2^32 ns after time_base {time_base} ns "
                         "and y < 32768")
    p = (dt.astype(np.uint64) | (batch.x.astype(np.uint64) << np.uint64(32))
         | (batch.y.astype(np.uint64) << np.uint64(48))
         | ((batch.polarity != 0).astype(np.uint64) << np.uint64(63)))
    return p.astype("<u8").tobytes()
