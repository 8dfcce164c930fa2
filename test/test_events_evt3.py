"""EVT 3.0: streams built word by word against a plain-Python port of the reference decoder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ness_ros.events import EventBatch, EventError, Evt3Decoder, Evt3Encoder


def addr_y(y):
    return 0x0000 | y


def addr_x(x, p):
    return 0x2000 | p << 11 | x


def vect_base_x(x, p):
    return 0x3000 | p << 11 | x


def vect_12(mask):
    return 0x4000 | mask


def vect_8(mask):
    return 0x5000 | mask


def time_low(t):
    return 0x6000 | t


def time_high(t):
    return 0x8000 | t


TRIGGER = 0xA000 | 0x21


def update_high(t, high):
    last = (high >> 12) & 0xFFF
    if t < last and last - t > 10:
        high += 1 << 24
    return (high & ~((1 << 24) - 1)) | (t << 12)


def reference(words):
    """ros-event-camera/event_camera_codecs evt3::Decoder as one loop, no bounds filter."""
    y = high = low = base_x = vpol = 0
    valid = seen_high = False
    out = []
    for w in words:
        code = w >> 12
        if not valid:
            if code == 0x6:
                low = w & 0xFFF
                valid = seen_high
            elif code == 0x8:
                high, seen_high = update_high(w & 0xFFF, high), True
            continue
        t = (high | low) * 1000
        if code == 0x2:
            out.append((t, w & 0x7FF, y, (w >> 11) & 1))
        elif code == 0x0:
            y = w & 0x7FF
        elif code == 0x6:
            low = w & 0xFFF
        elif code == 0x8:
            high = update_high(w & 0xFFF, high)
        elif code == 0x3:
            base_x, vpol = w & 0x7FF, (w >> 11) & 1
        elif code in (0x4, 0x5):
            bits = 12 if code == 0x4 else 8
            out += [(t, (base_x + b) & 0xFFFF, y, vpol) for b in range(bits) if w >> b & 1]
            base_x = (base_x + bits) & 0xFFFF
    return out


def as_bytes(words):
    return np.asarray(words, dtype="<u2").tobytes()


def decode(words, splits=()):
    decoder = Evt3Decoder(2048, 2048)
    data = as_bytes(words)
    edges = [0, *sorted(2 * s for s in splits), len(data)]
    batches = [decoder.decode(data[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [tuple(e) for e in EventBatch.concatenate(batches).events.tolist()]


def test_events_before_first_time_high_then_low_are_dropped():
    words = [addr_y(5), addr_x(1, 1), time_low(7), addr_x(2, 0),  # no TIME_HIGH yet
             time_high(3), addr_y(9), addr_x(3, 1),  # TIME_HIGH, but no TIME_LOW after it
             time_low(8), addr_x(4, 1), addr_y(6), addr_x(5, 0)]
    expected = [((3 << 12 | 8) * 1000, 4, 0, 1), ((3 << 12 | 8) * 1000, 5, 6, 0)]
    assert reference(words) == expected  # y stays 0: ADDR_Y before valid time is not read
    assert decode(words) == expected
    for split in range(len(words) + 1):
        assert decode(words, [split]) == expected


def test_vectors():
    words = [time_high(1), time_low(2), addr_y(40), vect_base_x(100, 1),
             vect_12(0b1000_0000_0101), vect_8(0b1000_0001), addr_x(7, 0),
             vect_base_x(2040, 0), vect_12(0xFFF), vect_8(0x01)]
    t = (1 << 12 | 2) * 1000
    expected = ([(t, 100, 40, 1), (t, 102, 40, 1), (t, 111, 40, 1), (t, 112, 40, 1),
                 (t, 119, 40, 1), (t, 7, 40, 0)] + [(t, 2040 + b, 40, 0) for b in range(12)]
                + [(t, 2052, 40, 0)])
    assert reference(words) == expected
    assert decode(words) == expected
    assert decode(words, [4, 5, 8]) == expected


def test_time_wraps_and_small_drops():
    words = [time_high(4090), time_low(5), addr_x(1, 1),
             time_high(5), addr_x(2, 1),  # drop by 4085 > 10: a wrap; time low kept
             time_high(0), addr_x(3, 0),  # drop by 5: no wrap
             time_high(4095), time_low(0xFFF), time_high(4084), addr_x(4, 1),  # drop 11: wrap
             TRIGGER, 0xE000, 0x7000, 0xF000, 0x1000, 0x9000, addr_x(5, 0)]
    got = decode(words)
    assert got == reference(words)
    us = [t // 1000 for t, *_ in got]
    assert us == [4090 << 12 | 5, 1 << 24 | 5 << 12 | 5, 1 << 24 | 5,
                  2 << 24 | 4084 << 12 | 0xFFF, 2 << 24 | 4084 << 12 | 0xFFF]


word_st = st.one_of(
    st.integers(0, 2047).map(addr_y), st.builds(addr_x, st.integers(0, 2047), st.integers(0, 1)),
    st.builds(vect_base_x, st.integers(0, 2047), st.integers(0, 1)),
    st.integers(0, 0xFFF).map(vect_12), st.integers(0, 0xFF).map(vect_8),
    st.integers(0, 0xFFF).map(time_low), st.integers(0, 0xFFF).map(time_high),
    st.integers(0, 0xFFFF))


@settings(max_examples=300, deadline=None)
@given(words=st.lists(word_st, max_size=120), cuts=st.lists(st.integers(0, 120), max_size=4))
def test_random_streams_match_reference_however_split(words, cuts):
    expected = reference(words)
    assert decode(words) == expected
    assert decode(words, [c for c in cuts if c <= len(words)]) == expected


def test_odd_payload_rejected_without_touching_state():
    decoder = Evt3Decoder(640, 480)
    decoder.decode(as_bytes([time_high(1), time_low(1)]))
    with pytest.raises(EventError, match="odd number of bytes"):
        decoder.decode(b"\x01\x20\x03")
    assert decoder.has_valid_time
    assert len(decoder.decode(as_bytes([addr_x(1, 1)]))) == 1


def test_reset_forgets_time():
    decoder = Evt3Decoder(640, 480)
    decoder.decode(as_bytes([time_high(1), time_low(1)]))
    decoder.reset()
    assert len(decoder.decode(as_bytes([addr_x(1, 1)]))) == 0


def sorted_batch(rng, n, span_us, width=640, height=480):
    t = np.sort(rng.integers(0, span_us, n)) * 1000
    return EventBatch.from_arrays(t, rng.integers(0, width, n), rng.integers(0, height, n),
                                  rng.integers(0, 2, n), width=width, height=height)


@pytest.mark.parametrize("resync", [True, False])
@pytest.mark.parametrize("span_us", [10_000, 2**24 * 3 + 77, 2**40])
def test_encoder_round_trip_over_packets(resync, span_us):
    rng = np.random.default_rng(span_us)
    batch = sorted_batch(rng, 3000, span_us)
    encoder, decoder = Evt3Encoder(resync=resync), Evt3Decoder(640, 480)
    cuts = [0, 1, 500, 501, 2999, 3000]
    out = [decoder.decode(encoder.encode(EventBatch(batch.events[a:b], 640, 480)))
           for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    assert np.array_equal(EventBatch.concatenate(out).events, batch.events)


def test_encoder_origin_and_validation():
    batch = EventBatch.from_arrays([5_000_123, 6_000_999], [1, 2], [3, 4], [1, 0],
                                   width=640, height=480)
    decoded = Evt3Decoder(640, 480).decode(Evt3Encoder(origin_ns=1_000_000).encode(batch))
    assert decoded.t.tolist() == [4_000_000, 5_000_000]
    with pytest.raises(EventError, match="sorted"):
        Evt3Encoder().encode(EventBatch(batch.events[::-1].copy(), 640, 480))
    encoder = Evt3Encoder()
    encoder.encode(batch)
    with pytest.raises(EventError, match="previous packet"):
        encoder.encode(EventBatch(batch.events[:1], 640, 480))
    wide = EventBatch.from_arrays([0], [2048], [0], [1], width=4096, height=10)
    with pytest.raises(EventError, match="x and y < 2048"):
        Evt3Encoder().encode(wide)
    assert Evt3Encoder().encode(EventBatch.empty(640, 480)) == b""


def test_empty_payload():
    decoder = Evt3Decoder(640, 480)
    batch = decoder.decode(b"")
    assert len(batch) == 0 and (batch.width, batch.height) == (640, 480)
    assert not decoder.has_valid_time


def with_triggers(payload, rng, k):
    """``payload`` (an Evt3Encoder packet, which starts with TIME_HIGH, TIME_LOW) with ``k``
    external trigger words (channel 0-15, either edge) inserted after its first two words."""
    words = np.frombuffer(payload, "<u2")
    trig = 0xA000 | rng.integers(0, 16, k) << 8 | rng.integers(0, 2, k)
    at = np.sort(rng.integers(2, len(words) + 1, k))
    return np.insert(words, at, trig).astype("<u2").tobytes()


def test_trigger_words_counted_per_packet_events_unchanged():
    rng = np.random.default_rng(11)
    batch = sorted_batch(rng, 2000, 50_000)
    encoder, decoder = Evt3Encoder(), Evt3Decoder(640, 480)
    out, counts = [], []
    for (a, b), k in zip([(0, 700), (700, 701), (701, 2000)], [5, 0, 37], strict=True):
        out.append(decoder.decode(with_triggers(
            encoder.encode(EventBatch(batch.events[a:b], 640, 480)), rng, k)))
        counts.append(decoder.triggers)
    assert counts == [5, 0, 37]
    assert np.array_equal(EventBatch.concatenate(out).events, batch.events)
    # Before the first valid time nothing is read, trigger words included (as events).
    words = [TRIGGER, time_high(1), TRIGGER, time_low(2), TRIGGER, addr_x(3, 1), TRIGGER]
    decoder = Evt3Decoder(640, 480)
    assert len(decoder.decode(as_bytes(words))) == 1 and decoder.triggers == 2
    with pytest.raises(EventError, match="odd number"):
        decoder.decode(as_bytes([TRIGGER])[:1])
    assert decoder.triggers == 2  # a refused payload changes nothing
