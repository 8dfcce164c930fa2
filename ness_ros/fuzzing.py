"""Fuzzing the input decoders with hypothesis, for a given time (``ness fuzz``). ROS-free.

Every input, random bytes or a mutation of a valid message (an EventArray, EventPackets in evt3,
libcaer and mono, Images in several encodings, raw evt3 and libcaer_cmp word streams), goes to
every target:

- the codecs of :mod:`ness_ros.events`: ``decode_event_array``, ``EventPacketDecoder`` (which
  dispatches to the evt3, libcaer, libcaer_cmp and mono decoders), the payload decoders
  ``Evt3Decoder`` and ``LibcaerCmpDecoder`` (one instance each for the whole run: garbage must
  not break the state they carry), ``LibcaerDecoder`` and ``MonoDecoder``,
  ``decode_image_cdr``, and ``parse_event_packet`` (its fast path must agree with the
  field-by-field one);
- the node's input checks of :mod:`ness_ros.events.stream`: ``EventStream.push``
  (dvs and packet streams, one each for the whole run, given the clock) and ``decode_frame``.

A target may refuse an input with :class:`~ness_ros.events.errors.EventError`; any other
exception, or a result that breaks the target's contract, is a crash. Crashes are grouped by
target, exception type and the line that raised, each with the first input that caused it.
"""

from __future__ import annotations

import struct
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ness_ros.events import (
    EVENT_DTYPE,
    EventBatch,
    EventError,
    EventPacketDecoder,
    EventPacketEncoder,
    Evt3Decoder,
    Header,
    LibcaerCmpDecoder,
    LibcaerDecoder,
    MonoDecoder,
    decode_event_array,
    decode_image_cdr,
    encode_event_array,
    encode_image_cdr,
    parse_event_packet,
)
from ness_ros.events.packet_codec import _parse_checked
from ness_ros.events.stream import EventStream, decode_frame

#: Values that break size and offset arithmetic, written by the u32 mutation.
INTERESTING_U32 = [0, 1, 2, 3, 7, 255, 256, 65535, 2**31 - 1, 2**31, 2**32 - 1, 12345]
MAX_RANDOM_BYTES = 300
_CRASH_INPUT_BYTES = 256


def seed_messages() -> list[bytes]:
    """Valid messages of every decoded type, small enough to mutate quickly."""
    rng = np.random.default_rng(0)
    n = 9
    batch = EventBatch.from_arrays(10**9 + np.sort(rng.integers(0, 10**6, n)),
                                   rng.integers(0, 64, n), rng.integers(0, 48, n),
                                   rng.integers(0, 2, n), width=64, height=48)
    seeds = [encode_event_array(batch, Header.from_ns(10**9, "cam")),
             encode_event_array(EventBatch.empty(3, 3), Header(0, 0, ""))]
    for encoding in ("evt3", "libcaer", "mono"):
        encoder = EventPacketEncoder(encoding, width=64, height=48, frame_id="e")
        seeds.append(encoder.encode(batch, stamp_ns=10**9))
    for encoding, pixels in [("rgb8", rng.integers(0, 255, (3, 4, 3)).astype(np.uint8)),
                             ("bgra8", rng.integers(0, 255, (2, 2, 4)).astype(np.uint8)),
                             ("mono16", rng.integers(0, 9999, (2, 3)).astype(np.uint16)),
                             ("32FC1", rng.random((2, 2), dtype=np.float32))]:
        seeds.append(encode_image_cdr(pixels, encoding, Header(1, 4, "img")))
    big_endian = bytearray(seeds[-2])
    big_endian[-4 * 3 - 4 - 4 - 1] = 1  # mono16's is_bigendian byte (before step and data)
    seeds.append(bytes(big_endian))
    words = np.array([0x8001, 0x6002, 0x0005, 0x3010, 0x4FFF, 0x50F0, 0x2801, 0xA000, 0x8FFF],
                     "<u2")
    seeds.append(words.tobytes())
    # libcaer_cmp: time high and low, x, y with polarity, a vector base and its 8-bit mask.
    seeds.append(np.array([0x0001, 0x1010, 0x2005, 0x3803, 0x4802, 0x50F0], "<u2").tobytes())
    return seeds


def mutate(data: bytes, ops: bytes, other: bytes) -> bytes:
    """Apply the 4-byte operations in ``ops`` (kind, position: 2 bytes, value) to ``data``:
    set a byte, write an interesting uint32, insert, delete, truncate, or splice in a slice of
    ``other``."""
    buf = bytearray(data)
    for i in range(0, len(ops) - 3, 4):
        kind, value = ops[i] % 6, ops[i + 3]
        pos = (ops[i + 1] | ops[i + 2] << 8) % (len(buf) + 1)
        if kind == 0 and pos < len(buf):
            buf[pos] = value
        elif kind == 1:
            buf[pos:pos + 4] = struct.pack("<I", INTERESTING_U32[value % len(INTERESTING_U32)])
        elif kind == 2:
            buf[pos:pos] = bytes([value]) * (1 + value % 5)
        elif kind == 3:
            del buf[pos:pos + 1 + value % 7]
        elif kind == 4:
            del buf[pos:]
        else:
            start = value % (len(other) + 1)
            buf[pos:pos + 8] = other[start:start + 8 + value % 24]
    return bytes(buf)


def _check_batch(result: Any) -> None:
    batch = result[0] if isinstance(result, tuple) else result
    if not isinstance(batch, EventBatch) or batch.events.dtype != EVENT_DTYPE \
            or batch.events.ndim != 1:
        raise AssertionError(f"contract: expected a 1-D EventBatch, got {type(batch).__name__}")


def _check_image(result: Any) -> None:
    pixels = result[0]
    if pixels.ndim not in (2, 3) or not isinstance(result[2], Header):
        raise AssertionError(f"contract: image of shape {pixels.shape}")


def _check_frame(result: Any) -> None:
    rgb = result[0]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.size == 0:
        raise AssertionError(f"contract: frame of shape {rgb.shape}, dtype {rgb.dtype}")


def _parse_agrees(data: bytes) -> None:
    fast = parse_event_packet(data)
    checked = _parse_checked(data)
    if fast[0] != checked[0] or bytes(fast[1]) != bytes(checked[1]):
        raise AssertionError("contract: parse_event_packet's fast path disagrees with the "
                             "checked one")


def make_targets() -> dict[str, Callable[[bytes], None]]:
    """Name -> a call that feeds one input to the target and checks its result's contract."""
    evt3 = Evt3Decoder(64, 48)
    compressed = LibcaerCmpDecoder(64, 48)
    dvs_stream = EventStream("dvs", max_events=100_000)
    packet_stream = EventStream("packet", max_events=100_000)
    packets = EventPacketDecoder()  # one decoder for the run: a stream of garbage packets

    def checked(call: Callable[[bytes], Any], check: Callable[[Any], None] | None
                ) -> Callable[[bytes], None]:
        def target(data: bytes) -> None:
            result = call(data)
            if check is not None:
                check(result)
        return target

    now = 10**9
    return {
        "decode_event_array": checked(decode_event_array, _check_batch),
        "EventPacketDecoder": checked(packets.decode, _check_batch),
        "parse_event_packet": _parse_agrees,
        "Evt3Decoder": checked(evt3.decode, _check_batch),
        "LibcaerCmpDecoder": checked(lambda d: compressed.decode(d, 10**15), _check_batch),
        "LibcaerDecoder": checked(lambda d: LibcaerDecoder(64, 48).decode(d, 10**15),
                                  _check_batch),
        "MonoDecoder": checked(lambda d: MonoDecoder(64, 48).decode(d, 10**15), _check_batch),
        "decode_image_cdr": checked(decode_image_cdr, _check_image),
        "EventStream.push (dvs)": checked(lambda d: dvs_stream.push(d, now), None),
        "EventStream.push (packet)": checked(lambda d: packet_stream.push(d, now), None),
        "decode_frame": checked(decode_frame, _check_frame),
    }


@dataclass
class Crash:
    target: str
    error: str
    where: str
    input_hex: str
    input_size: int
    count: int = 1


@dataclass
class TargetStats:
    inputs: int = 0
    refused: int = 0      # EventError: the documented way to refuse
    crashes: int = 0


@dataclass
class FuzzReport:
    seconds: float
    stats: dict[str, TargetStats] = field(default_factory=dict)
    crashes: dict[tuple[str, str, str], Crash] = field(default_factory=dict)


def _feed(report: FuzzReport, targets: dict[str, Callable[[bytes], None]], data: bytes) -> None:
    for name, target in targets.items():
        stats = report.stats[name]
        stats.inputs += 1
        try:
            target(data)
        except EventError:
            stats.refused += 1
        except Exception as exc:  # anything else is what we look for
            stats.crashes += 1
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
            key = (name, type(exc).__name__, where)
            if key in report.crashes:
                report.crashes[key].count += 1
            else:
                report.crashes[key] = Crash(name, f"{type(exc).__name__}: {exc}"[:300], where,
                                            data[:_CRASH_INPUT_BYTES].hex(), len(data))


def fuzz(seconds: float, *, seed: int | None = None, chunk: int = 100) -> FuzzReport:
    """Feed hypothesis-generated inputs to every target for ``seconds`` seconds.

    Args:
        seconds: time to fuzz (checked between chunks of ``chunk`` examples).
        seed: hypothesis seed of the first chunk (the next ones use seed + 1, ...); None:
            random.
        chunk: examples per hypothesis run.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    seeds = seed_messages()
    targets = make_targets()
    report = FuzzReport(seconds=0.0, stats={name: TargetStats() for name in targets})
    inputs = st.one_of(
        st.binary(max_size=MAX_RANDOM_BYTES),
        st.binary(max_size=MAX_RANDOM_BYTES).map(lambda b: b"\x00\x01\x00\x00" + b),
        st.builds(mutate, st.sampled_from(seeds), st.binary(min_size=4, max_size=24),
                  st.sampled_from(seeds)))
    config = settings(max_examples=chunk, deadline=None, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        run = config(given(data=inputs)(lambda data: _feed(report, targets, data)))
        if seed is not None:
            run = hypothesis_seed(seed + index)(run)
        run()
        index += 1
    report.seconds = time.monotonic() - start
    return report
