"""``event_camera_msgs/EventPacket`` CDR bytes <-> events, one decoder per encoding.

The message: ``std_msgs/Header header; uint32 height; uint32 width; uint64 seq; uint64 time_base;
string encoding; bool is_bigendian; uint8[] events``. :func:`parse_event_packet` reads it without
copying the payload; :func:`make_decoder` picks the decoder for ``encoding`` (the factory of
ros-event-camera/event_camera_codecs); :class:`EventPacketDecoder` does both for a whole stream.

Encodings (all output ``t`` is int64 nanoseconds): ``evt3`` (:mod:`ness_ros.events.evt3`: sensor
time, ``time_base`` ignored as upstream), ``libcaer`` and ``mono``
(:mod:`ness_ros.events.packet_formats`: ``time_base`` in ns plus per-event offsets) and
``libcaer_cmp`` (:mod:`ness_ros.events.libcaer_cmp`, libcaer_driver's compressed format: decoded,
not encoded). External trigger events (evt3 0xA words) are counted per packet, not returned.

Only little-endian payloads are supported (``is_bigendian`` true raises EventError). Events outside
the sensor are returned; drop them with :meth:`EventBatch.within_bounds`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
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
from ness_ros.events.libcaer_cmp import LibcaerCmpDecoder
from ness_ros.events.packet_formats import LibcaerDecoder, MonoDecoder, encode_libcaer, encode_mono

Payload = BytesLike | NDArray[np.uint8]
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
    #: External trigger events in the last decoded payload (0 for formats without them).
    triggers: int

    def decode(self, payload: Payload, time_base: int = 0) -> EventBatch: ...

    def reset(self) -> None: ...


DECODERS: dict[str, type] = {"evt3": Evt3Decoder, "libcaer": LibcaerDecoder,
                             "libcaer_cmp": LibcaerCmpDecoder, "mono": MonoDecoder}
#: The encodings :class:`EventPacketEncoder` writes.
ENCODERS = ("evt3", "libcaer", "mono")


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
    counted in :attr:`lost_packets`; decoding simply goes on after them. External trigger events
    of all decoded packets add up in :attr:`trigger_events` (the last packet's: the decoder's
    ``triggers``).
    """

    def __init__(self) -> None:
        self.decoder: PacketDecoder | None = None
        self.lost_packets = 0
        self.packets = 0
        self.trigger_events = 0
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
        self.trigger_events += self.decoder.triggers
        return batch, info


class EventPacketEncoder:
    """Encodes batches of one sensor as consecutive EventPacket CDR messages (seq from 0).

    ``evt3`` packets carry sensor time since ``origin_ns`` (``time_base`` 0); ``libcaer`` and
    ``mono`` packets set ``time_base`` to the first event's time, so decoding them gives back
    the input times (libcaer: floored to whole microseconds).
    """

    def __init__(self, encoding: str, *, width: int, height: int, frame_id: str = "",
                 origin_ns: int = 0) -> None:
        if encoding not in ENCODERS:
            raise EventError(f"unknown event encoding {encoding!r} for encoding; supported: "
                             f"{', '.join(ENCODERS)}")
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
