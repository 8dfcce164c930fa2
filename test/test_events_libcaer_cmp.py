"""libcaer_cmp: packets written word by word from the format's definition (libcaer_driver's
compression), decoded exactly, and streams checked against a plain-Python decoding loop."""

from __future__ import annotations

import numpy as np
import pytest
import rclpy.serialization as rclpy_serialization
from builtin_interfaces.msg import Time
from event_camera_msgs.msg import EventPacket
from hypothesis import given, settings
from hypothesis import strategies as st

from ness_ros.events import (
    EventBatch,
    EventError,
    EventPacketDecoder,
    EventPacketEncoder,
    LibcaerCmpDecoder,
    make_decoder,
    parse_event_packet,
)


# -- the words, from the format's definition (code in bits 12-15) ---------------------------------
def time_high(t):
    return 0x0000 | t


def time_low(t):
    return 0x1000 | t


def addr_x(x):
    return 0x2000 | x


def addr_y(y, p):
    return 0x3000 | p << 11 | y


def vect_base_y(y, p):
    return 0x4000 | p << 11 | y


def vect_8(mask):
    return 0x5000 | mask


def as_bytes(words):
    return np.asarray(words, dtype="<u2").tobytes()


def encode(t_us, x, y, p):
    """Events as libcaer_driver compresses them: ``t_us`` (microseconds after the packet's
    time_base, < 2^24) sorted, and within one (t, x, polarity) run y ascending. Time and x words
    only when they change (time starts at 0 in every packet, x is always written first); a
    polarity change or a new group of 8 rows closes the current run; a run of one event is an
    ADDR_Y word, a longer one VECT_BASE_Y + VECT_8."""
    words, high, low, cur_x, pol, group, mask = [], 0, 0, None, None, None, 0

    def flush():
        nonlocal mask
        if mask:
            if mask & (mask - 1) == 0:
                words.append(addr_y(group | mask.bit_length() - 1, pol))
            else:
                words.extend([vect_base_y(group, pol), vect_8(mask)])
            mask = 0

    for t, ex, ey, ep in zip(t_us, x, y, p, strict=True):
        t, ex, ey, ep = int(t), int(ex), int(ey), int(ep)
        if t >> 12 != high:
            flush()
            high = t >> 12
            words.append(time_high(high))
        if t & 0xFFF != low:
            flush()
            low = t & 0xFFF
            words.append(time_low(low))
        if ex != cur_x:
            flush()
            cur_x = ex
            words.append(addr_x(ex))
        if ep != pol or ey & ~7 != group:
            flush()
            pol, group = ep, ey & ~7
        mask |= 1 << (ey & 7)
    flush()
    return words


def reference(words, time_base, state=(0, 0, 0)):
    """Decoding as one plain loop (upstream's, without its bounds filter): events and the state
    (x, base y, vector polarity) carried to the next packet."""
    x, base_y, vpol = state
    high = low = 0
    out = []
    for w in words:
        code, t = w >> 12, time_base + (high | low) * 1000
        if code == 0:
            high = (w & 0xFFF) << 12
        elif code == 1:
            low = w & 0xFFF
        elif code == 2:
            x = w & 0x7FF
        elif code == 3:
            out.append((t, x, w & 0x7FF, w >> 11 & 1))
        elif code == 4:
            base_y, vpol = w & 0x7FF, w >> 11 & 1
        elif code == 5:
            out += [(t, x, (base_y + b) & 0xFFFF, vpol) for b in range(8) if w >> b & 1]
            base_y = (base_y + 8) & 0xFFFF
    return out, (x, base_y, vpol)


def decode(decoder, words, time_base=0):
    return [tuple(e) for e in decoder.decode(as_bytes(words), time_base).events.tolist()]


def random_events(rng, n, span_us, width=640, height=480):
    """``n`` distinct events sorted as :func:`encode` needs them (t, x, polarity, y)."""
    t = rng.integers(0, span_us, n)
    x, y, p = rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n)
    order = np.lexsort((y, p, x, t))
    t, x, y, p = t[order], x[order], y[order], p[order]
    keep = np.ones(n, bool)
    keep[1:] = (np.diff(t) != 0) | (np.diff(x) != 0) | (np.diff(y) != 0) | (np.diff(p) != 0)
    return t[keep], x[keep], y[keep], p[keep]


# -- each word layout ---------------------------------------------------------------------
def test_addr_y_emits_at_current_x_and_time_with_its_polarity():
    tb = 1_700_000_000 * 10**9
    words = [addr_x(639), addr_y(479, 1), addr_y(0, 0), time_low(0xFFF), addr_y(7, 1),
             time_high(0xFFF), addr_x(0x7FF | 0x800), addr_y(0x7FF, 0)]  # x bit 11 is unused
    assert decode(LibcaerCmpDecoder(640, 480), words, tb) == [
        (tb, 639, 479, 1), (tb, 639, 0, 0), (tb + 0xFFF * 1000, 639, 7, 1),
        (tb + ((1 << 24) - 1) * 1000, 0x7FF, 0x7FF, 0)]  # the largest offset: 2^24 - 1 us


def test_vectors_from_base_y_then_base_advances_by_8():
    words = [time_high(2), time_low(3), addr_x(10), vect_base_y(100, 1), vect_8(0b1000_0101),
             vect_8(0b0000_0010),  # no new base: rows 108-115
             addr_x(11), vect_8(0x01),  # base 116, x changed, polarity kept
             vect_base_y(0x7FF, 0), vect_8(0xFF)]  # base y past 11 bits: 2047..2054
    t = (2 << 12 | 3) * 1000
    expected = ([(t, 10, 100, 1), (t, 10, 102, 1), (t, 10, 107, 1), (t, 10, 109, 1),
                 (t, 11, 116, 1)] + [(t, 11, 2047 + b, 0) for b in range(8)])
    assert decode(LibcaerCmpDecoder(640, 480), words) == expected
    assert reference(words, 0)[0] == expected


def test_time_restarts_each_packet_and_x_and_vector_state_carry_over():
    decoder = LibcaerCmpDecoder(640, 480)
    first = [time_high(1), time_low(5), addr_x(20), vect_base_y(40, 1), addr_y(3, 0)]
    assert decode(decoder, first, 10**9) == [(10**9 + (1 << 12 | 5) * 1000, 20, 3, 0)]
    # No time, x or base words: time offset 0 after the new time_base, x 20, base 40, ON.
    assert decode(decoder, [addr_y(4, 1), vect_8(0b11)], 2 * 10**9) == [
        (2 * 10**9, 20, 4, 1), (2 * 10**9, 20, 40, 1), (2 * 10**9, 20, 41, 1)]
    decoder.reset()
    assert decode(decoder, [vect_8(0b1)], 0) == [(0, 0, 0, 0)]


def test_encoder_written_packets_decode_exactly():
    rng = np.random.default_rng(3)
    decoder = EventPacketDecoder()
    cdr = []
    expected = []
    for seq, (n, span_us, size) in enumerate([
            (3000, 20_000, (640, 480)), (1, 1, (640, 480)), (0, 1, (640, 480)),
            (5000, 1 << 24, (640, 480)),
            (2000, 4, (4, 480)), (2000, 4, (4, 24))]):  # dense: many VECT_8 runs
        t_us, x, y, p = random_events(rng, n, span_us, *size)
        time_base = 1_700_000_000 * 10**9 + seq * 10**9 + 123
        words = encode(t_us, x, y, p)
        cdr.append(packet(as_bytes(words), time_base, seq))
        expected.append(np.rec.fromarrays([time_base + t_us * 1000, x, y, p]).tolist()
                        if len(t_us) else [])
    kinds = set()
    for data, want in zip(cdr, expected, strict=True):
        batch, info = decoder.decode(data)
        assert info.encoding == "libcaer_cmp" and (batch.width, batch.height) == (640, 480)
        assert [tuple(e) for e in batch.events.tolist()] == [tuple(e) for e in want]
        kinds |= set((np.frombuffer(bytes(parse_event_packet(data)[1]), "<u2") >> 12).tolist())
    assert kinds == {0, 1, 2, 3, 4, 5}  # every word type was written and read
    assert decoder.lost_packets == 0 and decoder.trigger_events == 0


word_st = st.one_of(
    st.integers(0, 0xFFF).map(time_high), st.integers(0, 0xFFF).map(time_low),
    st.integers(0, 0xFFF).map(addr_x), st.builds(addr_y, st.integers(0, 0x7FF), st.integers(0, 1)),
    st.builds(vect_base_y, st.integers(0, 0x7FF), st.integers(0, 1)),
    st.integers(0, 0xFFF).map(vect_8))


@settings(max_examples=200, deadline=None)
@given(packets=st.lists(st.lists(word_st, max_size=60), max_size=4))
def test_random_packets_match_the_plain_loop(packets):
    decoder = LibcaerCmpDecoder(2048, 2048)
    state = (0, 0, 0)
    for i, words in enumerate(packets):
        expected, state = reference(words, i * 10**9, state)
        assert decode(decoder, words, i * 10**9) == expected


# -- bad payloads: rejected, state kept ---------------------------------------------------------
@pytest.mark.parametrize(("payload", "time_base", "match"), [
    (b"\x01\x20\x03", 0, r"odd number of bytes \(3\)"),
    (as_bytes([addr_x(5), 0x6001, addr_y(1, 1), 0xF000]), 0,
     r"2 word\(s\) with an undefined code, the first at word 1 \(0x6001, code 0x6"),
    (as_bytes([addr_y(1, 1)]), 2**63 - 1000, "overflows int64"),
])
def test_bad_payload_rejected_without_touching_state(payload, time_base, match):
    decoder = LibcaerCmpDecoder(640, 480)
    decode(decoder, [addr_x(9), vect_base_y(16, 1)])
    with pytest.raises(EventError, match=match):
        decoder.decode(payload, time_base)
    assert decode(decoder, [vect_8(1), addr_y(2, 0)]) == [(0, 9, 16, 1), (0, 9, 2, 0)]


def test_factory_and_encoder_refusal():
    assert isinstance(make_decoder("libcaer_cmp", 4, 4), LibcaerCmpDecoder)
    assert len(LibcaerCmpDecoder(4, 4).decode(b"")) == 0
    with pytest.raises(EventError, match="unknown event encoding 'libcaer_cmp' for encoding"):
        EventPacketEncoder("libcaer_cmp", width=4, height=4)


def packet(payload: bytes, time_base: int, seq: int) -> bytes:
    """An EventPacket serialized by rclpy itself (not the project's CDR writer)."""
    msg = EventPacket(encoding="libcaer_cmp", width=640, height=480, seq=seq,
                      time_base=time_base, events=payload)
    msg.header.stamp = Time(sec=time_base // 10**9, nanosec=time_base % 10**9)
    return rclpy_serialization.serialize_message(msg)


def test_batch_type():
    batch = LibcaerCmpDecoder(8, 8).decode(as_bytes([addr_x(9), addr_y(1, 1)]))
    assert isinstance(batch, EventBatch) and batch.within_bounds()[1] == 1
