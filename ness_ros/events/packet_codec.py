"""``event_camera_msgs/EventPacket`` CDR bytes <-> events, one decoder per encoding.

The message: ``std_msgs/Header header; uint32 height; uint32 width; uint64 seq; uint64 time_base;
string encoding; bool is_bigendian; uint8[] events``. :func:`parse_event_packet` reads it without
copying the payload; :func:`make_decoder` picks the decoder for ``encoding`` (the factory of
ros-event-camera/event_camera_codecs); :class:`EventPacketDecoder` does both for a whole stream.

Encodings (all output ``t`` is int64 nanoseconds):

- ``evt3``: see :mod:`ness_ros.events.evt3`; sensor time, ``time_base`` ignored (as upstream).
- ``libcaer``: 8 bytes per event, ``uint32 data, int32 t_us`` little-endian; x = data bits 17-31,
  y = bits 2-16, polarity = bit 1. ``t = time_base + 1000 * t_us`` with ``time_base`` in ns and
  ``t_us`` in microseconds; when ``t_us`` decreases within a packet the 31-bit counter rolled
  over and 2^31 us are added from there on (as upstream). Negative ``t_us`` raises EventError.
- ``mono``: 8 bytes per event, one little-endian uint64 ``p``: ``t = time_base + (p & 0xFFFFFFFF)``
  (both ns), x = bits 32-47, y = bits 48-62, polarity = bit 63 (upstream's mono codec).

Only little-endian payloads are supported (``is_bigendian`` true raises EventError). Events outside
the sensor are returned; drop them with :meth:`EventBatch.within_bounds`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.cdr import (
    MAX_TRAILING,
    ORIGIN,
    BytesLike,
    CdrReader,
    CdrWriter,
    Header,
    as_buffer,
    check_uint,
)
from ness_ros.events.errors import EventError
from ness_ros.events.evt3 import Evt3Decoder, Evt3Encoder

Payload = BytesLike | NDArray[np.uint8]
_INT64_END = 2**63
_LIBCAER = np.dtype([("data", "<u4"), ("t_us", "<i4")])
_STAMP = struct.Struct("<iII")
_U32 = struct.Struct("<I")
_U32X2 = struct.Struct("<II")
_TAIL = struct.Struct("<QQI")  # seq, time_base, encoding length (8-aligned: no padding inside)


@dataclass(slots=True)
class PacketInfo:
    """Everything of an ``event_camera_msgs/EventPacket`` except the payload."""

    header: Header
    width: int
    height: int
    seq: int
    time_base: int
    encoding: str
    is_bigendian: bool = False


def parse_event_packet(data: Payload) -> tuple[PacketInfo, memoryview]:
    """Read an EventPacket's CDR bytes; the payload is a memoryview into ``data`` (no copy).

    Raises:
        EventError: naming the field where the bytes are truncated or malformed.
    """
    buf = as_buffer(data)
    try:
        parsed = _parse_fast(buf)
    except (struct.error, IndexError, UnicodeDecodeError):
        parsed = None
    return parsed if parsed is not None else _parse_checked(buf)


def _parse_fast(buf: bytes | bytearray | memoryview) -> tuple[PacketInfo, memoryview] | None:
    """The common case in few calls; None (or a parse exception) hands over to the checked path."""
    size = len(buf)
    if buf[0] != 0 or buf[1] != 1:
        return None
    sec, nanosec, length = _STAMP.unpack_from(buf, ORIGIN)
    pos = ORIGIN + 12 + length
    if length == 0 or pos > size or buf[pos - 1] != 0:
        return None
    frame_id = str(buf[ORIGIN + 12:pos - 1], "utf-8")
    pos += -pos % 4
    height, width = _U32X2.unpack_from(buf, pos)
    pos += 8 + (-(pos + 8 - ORIGIN) % 8)
    seq, time_base, length = _TAIL.unpack_from(buf, pos)
    pos += 20
    end = pos + length
    if length == 0 or end > size or buf[end - 1] != 0:
        return None
    encoding = str(buf[pos:end - 1], "utf-8")
    is_bigendian = buf[end]
    pos = end + 1
    pos += -pos % 4
    (count,) = _U32.unpack_from(buf, pos)
    pos += 4
    if is_bigendian > 1 or not 0 <= size - pos - count <= MAX_TRAILING:
        return None
    info = PacketInfo(Header(sec, nanosec, frame_id), width, height, seq, time_base, encoding,
                      bool(is_bigendian))
    return info, memoryview(buf)[pos:pos + count]


def _parse_checked(buf: bytes | bytearray | memoryview) -> tuple[PacketInfo, memoryview]:
    reader = CdrReader(buf, "EventPacket")
    header = reader.header()
    height = reader.u32("height")
    width = reader.u32("width")
    seq = reader.u64("seq")
    time_base = reader.u64("time_base")
    encoding = reader.string("encoding")
    is_bigendian = reader.boolean("is_bigendian")
    count = reader.sequence("events", 1)
    start = reader.pos
    reader.finish(start + count, "events")
    payload = memoryview(reader.data)[start:start + count]
    return PacketInfo(header, width, height, seq, time_base, encoding, is_bigendian), payload


def encode_event_packet(info: PacketInfo, payload: Payload) -> bytes:
    """Serialize an EventPacket (equal to rclpy's ``serialize_message`` except zero padding)."""
    writer = CdrWriter()
    writer.header(info.header)
    writer.u32(check_uint(info.height, 32, "height"))
    writer.u32(check_uint(info.width, 32, "width"))
    writer.u64(check_uint(info.seq, 64, "seq"))
    writer.u64(check_uint(info.time_base, 64, "time_base"))
    writer.string(info.encoding)
    writer.u8(1 if info.is_bigendian else 0)
    raw = payload.tobytes() if isinstance(payload, np.ndarray) else bytes(payload)
    writer.u32(len(raw))
    writer.buf += raw
    return bytes(writer.buf)


class PacketDecoder(Protocol):
    """What every per-encoding decoder offers."""

    encoding: str

    def decode(self, payload: Payload, time_base: int = 0) -> EventBatch: ...

    def reset(self) -> None: ...


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


class _Evt3PacketDecoder(Evt3Decoder):
    def decode(self, payload: Payload, time_base: int = 0) -> EventBatch:  # time_base unused
        return super().decode(payload)


DECODERS: dict[str, type] = {"evt3": _Evt3PacketDecoder, "libcaer": LibcaerDecoder,
                             "mono": MonoDecoder}


def make_decoder(encoding: str, width: int, height: int) -> PacketDecoder:
    """A new decoder for ``encoding``; EventError names the supported ones otherwise."""
    try:
        cls = DECODERS[encoding]
    except KeyError:
        raise EventError(f"unknown event encoding {encoding!r}; supported: "
                         f"{', '.join(sorted(DECODERS))}") from None
    return cls(width, height)


class EventPacketDecoder:
    """Decodes the EventPacket CDR messages of one topic, in order.

    The per-encoding decoder is created on the first packet and again whenever encoding or sensor
    size change, or ``seq`` goes backwards (a restarted driver). Skipped ``seq`` numbers are
    counted in :attr:`lost_packets`; decoding simply goes on after them.
    """

    def __init__(self) -> None:
        self.decoder: PacketDecoder | None = None
        self.lost_packets = 0
        self.packets = 0
        self._key: tuple[str, int, int] | None = None
        self._last_seq: int | None = None

    def decode(self, data: Payload) -> tuple[EventBatch, PacketInfo]:
        """Events (t in int64 ns) and the packet's metadata. Raises EventError on bad input."""
        info, payload = parse_event_packet(data)
        if info.is_bigendian:
            raise EventError(f"{info.encoding}: big-endian payloads (is_bigendian) are not "
                             "supported")
        if info.width == 0 or info.height == 0:
            raise EventError(f"EventPacket: sensor size {info.width} x {info.height} must be "
                             "positive")
        key = (info.encoding, info.width, info.height)
        restarted = self._last_seq is not None and info.seq <= self._last_seq
        if self.decoder is None or key != self._key or restarted:
            self.decoder = make_decoder(*key)
            self._key = key
        elif self._last_seq is not None:
            self.lost_packets += info.seq - self._last_seq - 1
        batch = self.decoder.decode(payload, info.time_base)
        self._last_seq = info.seq
        self.packets += 1
        return batch, info


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


class EventPacketEncoder:
    """Encodes batches of one sensor as consecutive EventPacket CDR messages (seq from 0).

    ``evt3`` packets carry sensor time since ``origin_ns`` (``time_base`` 0); ``libcaer`` and
    ``mono`` packets set ``time_base`` to the first event's time, so decoding them gives back
    the input times (libcaer: floored to whole microseconds).
    """

    def __init__(self, encoding: str, *, width: int, height: int, frame_id: str = "",
                 origin_ns: int = 0) -> None:
        if encoding not in DECODERS:
            raise EventError(f"unknown event encoding {encoding!r}; supported: "
                             f"{', '.join(sorted(DECODERS))}")
        self.encoding, self.width, self.height = encoding, int(width), int(height)
        self.frame_id = frame_id
        self.seq = 0
        self._evt3 = Evt3Encoder(origin_ns=origin_ns)

    def encode(self, batch: EventBatch, stamp_ns: int) -> bytes:
        """One EventPacket for ``batch`` (sorted by time), header stamp ``stamp_ns``."""
        time_base = max(int(batch.t[0]), 0) if len(batch) else 0
        if self.encoding == "evt3":
            payload, time_base = self._evt3.encode(batch), 0
        elif self.encoding == "libcaer":
            payload = encode_libcaer(batch, time_base)
        else:
            payload = encode_mono(batch, time_base)
        info = PacketInfo(Header.from_ns(stamp_ns, self.frame_id), self.width, self.height,
                          self.seq, time_base, self.encoding)
        self.seq += 1
        return encode_event_packet(info, payload)
