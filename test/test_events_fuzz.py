"""Every decoder, fed random bytes and mutated valid messages, raises nothing but EventError."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ness_ros.events import (
    EventBatch,
    EventError,
    EventPacketDecoder,
    EventPacketEncoder,
    Evt3Decoder,
    Header,
    LibcaerDecoder,
    MonoDecoder,
    decode_event_array,
    decode_image_cdr,
    encode_event_array,
    encode_image_cdr,
    parse_event_packet,
)
from ness_ros.events.packet_codec import _parse_checked

# Random bytes: 3,000 examples x 2 inputs; mutations: 1,000 examples x 12 seed messages. With the
# seeds' own decoders that is 18,000 inputs to every decoder, in well under 20 s.
RANDOM_EXAMPLES = 3000
MUTATION_EXAMPLES = 1000


def seed_messages() -> list[bytes]:
    rng = np.random.default_rng(0)
    n = 9
    batch = EventBatch.from_arrays(np.sort(rng.integers(0, 10**9, n)), rng.integers(0, 64, n),
                                   rng.integers(0, 48, n), rng.integers(0, 2, n),
                                   width=64, height=48)
    messages = [encode_event_array(batch, Header(1, 2, "cam")),
                encode_event_array(EventBatch.empty(3, 3), Header(0, 0, ""))]
    for encoding in ("evt3", "libcaer", "mono"):
        encoder = EventPacketEncoder(encoding, width=64, height=48, frame_id="e")
        messages.append(encoder.encode(batch, stamp_ns=5))
    for encoding, pixels in [("rgb8", rng.integers(0, 255, (3, 4, 3)).astype(np.uint8)),
                             ("mono16", rng.integers(0, 9999, (2, 3)).astype(np.uint16)),
                             ("32FC1", rng.random((2, 2), dtype=np.float32))]:
        messages.append(encode_image_cdr(pixels, encoding, Header(3, 4, "img")))
    vectors = np.array([0x8001, 0x6002, 0x0005, 0x3010, 0x4FFF, 0x50F0, 0x2801, 0xA000],
                       "<u2")
    messages.append(vectors.tobytes())
    return messages


SEEDS = seed_messages()
EVT3 = Evt3Decoder(64, 48)  # shared on purpose: garbage must not break its carried state


def only_event_errors(data: bytes) -> None:
    calls = [
        lambda: decode_event_array(data),
        lambda: EventPacketDecoder().decode(data),
        lambda: decode_image_cdr(data),
        lambda: EVT3.decode(data),
        lambda: LibcaerDecoder(64, 48).decode(data, 10**15),
        lambda: MonoDecoder(64, 48).decode(data, 10**15),
    ]
    for call in calls:
        try:
            result = call()
        except EventError:
            continue
        batch = result[0] if isinstance(result, tuple) else result
        if isinstance(batch, EventBatch):
            assert batch.events.ndim == 1
    try:
        fast = parse_event_packet(data)
    except EventError:
        return
    checked = _parse_checked(data)  # the fast path must agree with the field-by-field one
    assert fast[0] == checked[0] and bytes(fast[1]) == bytes(checked[1])


@settings(max_examples=RANDOM_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200))
def test_random_bytes(data):
    only_event_errors(data)
    only_event_errors(b"\x00\x01\x00\x00" + data)  # past the encapsulation check


U32_VALUES = [0, 1, 2, 7, 255, 2**31, 2**32 - 1, 12345]


def mutate(data: bytes, ops: bytes) -> bytes:
    """Apply the 4-byte operations in ``ops``: kind, position (2 bytes), value."""
    buf = bytearray(data)
    for i in range(0, len(ops) - 3, 4):
        kind, pos, value = ops[i] % 5, (ops[i + 1] | ops[i + 2] << 8) % (len(buf) + 1), ops[i + 3]
        if kind == 0 and pos < len(buf):
            buf[pos] = value
        elif kind == 1:
            buf[pos:pos + 4] = struct.pack("<I", U32_VALUES[value % len(U32_VALUES)])
        elif kind == 2:
            buf[pos:pos] = bytes([value]) * (1 + value % 5)
        elif kind == 3:
            del buf[pos:pos + 1 + value % 7]
        else:
            del buf[pos:]
    return bytes(buf)


@settings(max_examples=MUTATION_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.binary(min_size=4, max_size=16))
def test_mutated_messages(ops):
    for seed in SEEDS:
        only_event_errors(mutate(seed, ops))


def test_seeds_are_valid():
    assert len(decode_event_array(SEEDS[0])[0]) == 9
    for raw in SEEDS[2:5]:
        assert len(EventPacketDecoder().decode(raw)[0]) == 9
    for raw in SEEDS[5:8]:
        decode_image_cdr(raw)
