"""Minimal CDR (little-endian, XCDR1 plain) reading and writing shared by the message codecs.

ROS 2 serialized messages start with a 4-byte encapsulation header: ``00 01`` (CDR little-endian)
and two option bytes. Every primitive is aligned to its own size, counted from the first byte
*after* that header. Strings are a uint32 length (NUL included), the bytes and a NUL; sequences are
a uint32 element count followed by the elements. rclpy leaves alignment padding uninitialised; the
writer here fills it with zeros, so encoded messages equal rclpy's byte for byte except in padding.

Every failure raises :class:`EventError` naming the message and the field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.errors import EventError

#: Offset of the CDR origin: alignment is counted from here.
ORIGIN = 4
ENCAPSULATION_LE = b"\x00\x01\x00\x00"
#: Trailing bytes tolerated after the last field (end padding some writers add).
MAX_TRAILING = 3

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_STAMP = struct.Struct("<iII")  # sec, nanosec, frame_id length
BytesLike = bytes | bytearray | memoryview


@dataclass(slots=True)
class Header:
    """``std_msgs/Header``: stamp (seconds + nanoseconds) and frame id."""

    stamp_sec: int = 0
    stamp_nanosec: int = 0
    frame_id: str = ""

    @property
    def stamp_ns(self) -> int:
        """The stamp as integer nanoseconds."""
        return self.stamp_sec * 1_000_000_000 + self.stamp_nanosec

    @classmethod
    def from_ns(cls, stamp_ns: int, frame_id: str = "") -> Header:
        sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
        return cls(sec, nanosec, frame_id)


def as_buffer(data: BytesLike | NDArray[np.uint8]) -> bytes | bytearray | memoryview:
    """Any bytes-like object as something struct and np.frombuffer accept (no copy)."""
    if isinstance(data, bytes | bytearray):
        return data
    try:
        # ndarray declares __buffer__ in numpy's stubs only for Python >= 3.12
        return memoryview(data).cast("B")  # type: ignore[arg-type]
    except TypeError as exc:
        raise EventError(f"expected serialized bytes, got {type(data).__name__}") from exc


class CdrReader:
    """Sequential reader over one serialized message; ``pos`` is an absolute byte offset."""

    __slots__ = ("data", "message", "pos", "size")

    def __init__(self, data: BytesLike | NDArray[np.uint8], message: str) -> None:
        self.data = as_buffer(data)
        self.message = message
        self.size = len(self.data)
        if self.size < ORIGIN:
            raise EventError(f"{message}: {self.size} bytes is shorter than the 4-byte "
                             "encapsulation header")
        if self.data[0] != 0 or self.data[1] != 1:
            raise EventError(f"{message}: encapsulation id {bytes(self.data[:2]).hex()} is not "
                             "CDR little-endian (0001)")
        self.pos = ORIGIN

    def need(self, nbytes: int, field: str) -> None:
        if nbytes < 0 or self.pos + nbytes > self.size:
            raise EventError(f"{self.message}: truncated at field '{field}': needs {nbytes} "
                             f"bytes at offset {self.pos}, message has {self.size}")

    def align(self, n: int) -> None:
        self.pos += (-(self.pos - ORIGIN)) % n

    def u8(self, field: str) -> int:
        self.need(1, field)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def boolean(self, field: str) -> bool:
        value = self.u8(field)
        if value > 1:
            raise EventError(f"{self.message}: field '{field}' is a bool but holds {value}")
        return bool(value)

    def u32(self, field: str) -> int:
        self.align(4)
        self.need(4, field)
        (value,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return value

    def u64(self, field: str) -> int:
        self.align(8)
        self.need(8, field)
        (value,) = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return value

    def string(self, field: str) -> str:
        length = self.u32(f"{field} length")
        if length == 0:
            raise EventError(f"{self.message}: field '{field}' has length 0 (no NUL terminator)")
        self.need(length, field)
        end = self.pos + length - 1
        if self.data[end] != 0:
            raise EventError(f"{self.message}: field '{field}' is not NUL-terminated")
        try:
            value = str(self.data[self.pos:end], "utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"{self.message}: field '{field}' is not UTF-8") from exc
        self.pos = end + 1
        return value

    def header(self) -> Header:
        self.need(12, "header.stamp")  # pos is ORIGIN here: already 4-aligned
        sec, nanosec, _ = _STAMP.unpack_from(self.data, self.pos)
        self.pos += 8
        return Header(sec, nanosec, self.string("header.frame_id"))

    def sequence(self, field: str, item_size: int) -> int:
        """Read a sequence length and check that ``count * item_size`` bytes follow."""
        count = self.u32(f"{field} length")
        if count * item_size > self.size - self.pos:
            raise EventError(f"{self.message}: truncated at field '{field}': {count} elements of "
                             f"{item_size} byte(s) claimed, {self.size - self.pos} bytes remain")
        return count

    def finish(self, end: int, field: str) -> None:
        """Check that the message ends at ``end`` (up to :data:`MAX_TRAILING` padding bytes)."""
        if end > self.size:
            raise EventError(f"{self.message}: truncated at field '{field}': message needs {end} "
                             f"bytes, has {self.size}")
        if self.size - end > MAX_TRAILING:
            raise EventError(f"{self.message}: {self.size - end} unexpected trailing bytes "
                             f"after the last field (message ends at {end})")


class CdrWriter:
    """Appends fields to a bytearray that starts with the little-endian encapsulation header."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray(ENCAPSULATION_LE)

    def align(self, n: int) -> None:
        self.buf += bytes((-(len(self.buf) - ORIGIN)) % n)

    def u8(self, value: int) -> None:
        self.buf.append(value)

    def u32(self, value: int) -> None:
        self.align(4)
        self.buf += _U32.pack(value)

    def i32(self, value: int) -> None:
        self.align(4)
        self.buf += _I32.pack(value)

    def u64(self, value: int) -> None:
        self.align(8)
        self.buf += _U64.pack(value)

    def string(self, value: str) -> None:
        raw = value.encode("utf-8")
        if b"\x00" in raw:
            raise EventError(f"string {value!r} contains a NUL character")
        self.u32(len(raw) + 1)
        self.buf += raw + b"\x00"

    def header(self, header: Header) -> None:
        try:
            self.i32(header.stamp_sec)
            self.u32(header.stamp_nanosec)
        except struct.error as exc:
            raise EventError(f"header stamp {header.stamp_sec} s {header.stamp_nanosec} ns does "
                             "not fit int32 seconds / uint32 nanoseconds") from exc
        self.string(header.frame_id)

    def pos(self) -> int:
        return len(self.buf)


def check_uint(value: int, bits: int, field: str) -> int:
    """``value`` if it fits an unsigned integer of ``bits`` bits, else EventError."""
    if not 0 <= value < (1 << bits):
        raise EventError(f"field '{field}' = {value} does not fit uint{bits}")
    return int(value)
