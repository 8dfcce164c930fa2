"""event_camera_msgs/EventPacket: the real evt3 bag, libcaer, mono, the factory and the CDR."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rclpy.serialization as rclpy_serialization
from builtin_interfaces.msg import Time
from event_camera_msgs.msg import EventPacket
from rosbags.rosbag2 import Reader
from test_events_dvs_codec import assert_equal_but_padding, padding_positions

from conftest import SHARED_DATA
from ness_ros.events import (
    EventBatch,
    EventError,
    EventPacketDecoder,
    EventPacketEncoder,
    Evt3Decoder,
    Header,
    LibcaerDecoder,
    MonoDecoder,
    PacketInfo,
    encode_event_packet,
    encode_libcaer,
    encode_mono,
    make_decoder,
    parse_event_packet,
)
from ness_ros.events.packet_codec import _parse_checked

BAG = SHARED_DATA / "evt3_event_camera_py"


@pytest.fixture(scope="module")
def bag_messages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bag") / "evt3"
    shutil.copytree(BAG, folder)  # the shared copy is read-only; SQLite may write beside it
    with Reader(folder) as reader:
        return [bytes(raw) for _, _, raw in reader.messages()]


def test_real_bag_counts_and_times(bag_messages):
    decoder = EventPacketDecoder()
    batches = [decoder.decode(m)[0] for m in bag_messages]
    events = EventBatch.concatenate(batches)
    assert len(bag_messages) == 517 and decoder.lost_packets == 0
    assert len(events) == 343_474
    assert int(events.polarity.sum()) == 125_183
    assert int((events.polarity == 0).sum()) == 218_291
    assert (int(events.t.min()) // 1000, int(events.t.max()) // 1000) == (7_139_845, 9_218_023)
    assert (events.width, events.height) == (640, 480) and events.within_bounds()[1] == 0


def test_real_bag_split_anywhere_agrees(bag_messages):
    payloads = [bytes(parse_event_packet(m)[1]) for m in bag_messages]
    whole = b"".join(payloads)
    reference = Evt3Decoder(640, 480).decode(whole).events
    ends = np.cumsum([len(p) for p in payloads])
    for cut in [int(ends[0]), int(ends[len(ends) // 2]), int(ends[-2]), 2, len(whole) // 4 * 2]:
        decoder = Evt3Decoder(640, 480)
        parts = [decoder.decode(whole[:cut]), decoder.decode(whole[cut:])]
        assert np.array_equal(EventBatch.concatenate(parts).events, reference), cut


def test_packet_cdr_matches_rclpy(bag_messages):
    for raw in bag_messages[:5]:
        info, payload = parse_event_packet(raw)
        assert info.encoding == "evt3" and info.seq > 0 and not info.is_bigendian
        assert _parse_checked(raw)[0] == info
        msg = rclpy_serialization.deserialize_message(raw, EventPacket)
        assert bytes(msg.events) == bytes(payload)
        ours = encode_event_packet(info, payload)
        fields = [(4, 4), (4, 4), (4, 4), (1, len(info.header.frame_id) + 1), (4, 4), (4, 4),
                  (8, 8), (8, 8), (4, 4), (1, len(info.encoding) + 1), (1, 1), (4, 4),
                  (1, len(payload))]
        assert_equal_but_padding(ours, rclpy_serialization.serialize_message(msg),
                                 padding_positions(fields))


def rclpy_packet(encoding, payload, time_base=0, seq=0, frame_id="cam"):
    msg = EventPacket(encoding=encoding, width=346, height=260, seq=seq, time_base=time_base)
    msg.header.frame_id, msg.header.stamp = frame_id, Time(sec=1, nanosec=2)
    msg.events = payload
    return rclpy_serialization.serialize_message(msg)


def test_libcaer_fields_time_base_and_rollover():
    data = np.array([3 << 17 | 5 << 2 | 1 << 1 | 1, 7 << 17 | 9 << 2 | 1], "<u4")
    t_us = np.array([2**31 - 2, 4], "<i4")  # the 31-bit counter rolls over between the two
    rec = np.empty(2, [("data", "<u4"), ("t_us", "<i4")])
    rec["data"], rec["t_us"] = data, t_us
    batch, info = EventPacketDecoder().decode(rclpy_packet("libcaer", rec.tobytes(), 10**12))
    assert batch.events.tolist() == [(10**12 + (2**31 - 2) * 1000, 3, 5, 1),
                                     (10**12 + (2**31 + 4) * 1000, 7, 9, 0)]


def test_mono_fields():
    p = np.array([1 << 63 | 9 << 48 | 300 << 32 | 1234, 2 << 48 | 4 << 32 | 99], "<u8")
    batch, _ = EventPacketDecoder().decode(rclpy_packet("mono", p.tobytes(), 5_000))
    assert batch.events.tolist() == [(6234, 300, 9, 1), (5099, 4, 2, 0)]


@pytest.mark.parametrize("encoding", ["evt3", "libcaer", "mono"])
def test_packet_encoder_round_trip(encoding):
    rng = np.random.default_rng(5)
    n = 2000
    t = 1_700_000_000 * 10**9 + np.sort(rng.integers(0, 2 * 10**6, n)) * 1000  # 2 s
    batch = EventBatch.from_arrays(t, rng.integers(0, 346, n), rng.integers(0, 260, n),
                                   rng.integers(0, 2, n), width=346, height=260)
    origin = int(t[0]) // 10**9 * 10**9
    encoder = EventPacketEncoder(encoding, width=346, height=260, frame_id="dvs",
                                 origin_ns=origin)
    decoder = EventPacketDecoder()
    out = []
    for a, b in [(0, 700), (700, 701), (701, 701), (701, n)]:
        data = encoder.encode(EventBatch(batch.events[a:b], 346, 260), stamp_ns=int(t[a]))
        msg = rclpy_serialization.deserialize_message(data, EventPacket)
        assert msg.encoding == encoding and msg.header.frame_id == "dvs"
        out.append(decoder.decode(data)[0])
    expected = batch.events.copy()
    if encoding == "evt3":
        expected["t"] -= origin
    assert np.array_equal(EventBatch.concatenate(out).events, expected)
    assert decoder.packets == 4 and decoder.lost_packets == 0


def test_seq_gaps_and_restarts():
    decoder = EventPacketDecoder()
    for seq in [5, 6, 9, 10]:
        decoder.decode(rclpy_packet("mono", b"", seq=seq))
    assert decoder.lost_packets == 2
    first = decoder.decoder
    decoder.decode(rclpy_packet("mono", b"", seq=0))  # a restarted driver: fresh decoder
    assert decoder.decoder is not first and decoder.lost_packets == 2


def test_unknown_encoding():
    with pytest.raises(EventError, match=r"unknown event encoding 'evt4'; supported: evt3, "
                                         r"libcaer, libcaer_cmp, mono"):
        EventPacketDecoder().decode(rclpy_packet("evt4", b""))
    with pytest.raises(EventError, match="unknown event encoding 'x'"):
        make_decoder("x", 1, 1)
    with pytest.raises(EventError, match="unknown event encoding 'x'"):
        EventPacketEncoder("x", width=1, height=1)


@pytest.mark.parametrize(("encoding", "payload", "time_base", "match"), [
    ("libcaer", bytes(12), 0, "12 bytes is not a whole number of 8-byte events"),
    ("mono", bytes(7), 0, "not a whole number of 8-byte events"),
    ("evt3", bytes(3), 0, "odd number of bytes"),
    ("libcaer", np.array([0, -5], "<i4").tobytes(), 0, "negative timestamp -5 us"),
    ("libcaer", np.array([0, 5], "<i4").tobytes(), 2**63 - 10, "overflows int64"),
    ("mono", np.array([7], "<u8").tobytes(), 2**64 - 1, "overflows int64"),
])
def test_bad_payloads(encoding, payload, time_base, match):
    with pytest.raises(EventError, match=match):
        EventPacketDecoder().decode(rclpy_packet(encoding, payload, time_base))


def test_bad_packets():
    good = rclpy_packet("mono", bytes(8))
    with pytest.raises(EventError, match="truncated at field 'events'"):
        EventPacketDecoder().decode(good[:-1])
    with pytest.raises(EventError, match="encapsulation id"):
        parse_event_packet(b"\x01\x00" + good[2:])
    with pytest.raises(EventError, match="truncated at field 'seq'"):
        parse_event_packet(good[:30])
    info, payload = parse_event_packet(good)
    for bad, match in [({"is_bigendian": True}, "big-endian"), ({"width": 0}, "sensor size 0")]:
        fields = {**{k: getattr(info, k) for k in PacketInfo.__dataclass_fields__}, **bad}
        with pytest.raises(EventError, match=match):
            EventPacketDecoder().decode(encode_event_packet(PacketInfo(**fields), payload))


def test_payload_encoders_validate():
    batch = EventBatch.from_arrays([10, 5], [1, 2], [1, 2], [1, 1], width=4, height=4)
    with pytest.raises(EventError, match="sorted"):
        encode_libcaer(batch, 0)
    with pytest.raises(EventError, match="within 2"):
        encode_mono(batch, 100)
    tall = EventBatch.from_arrays([0], [1], [40_000], [1], width=4, height=50_000)
    with pytest.raises(EventError, match="32768"):
        encode_libcaer(tall, 0)
    assert LibcaerDecoder(4, 4).decode(b"").events.size == 0
    assert MonoDecoder(4, 4).decode(b"").events.size == 0
    info = PacketInfo(Header(), 4, 4, 2**64, 0, "mono")
    with pytest.raises(EventError, match="'seq' = 18446744073709551616 does not fit uint64"):
        encode_event_packet(info, b"")


def test_trigger_events_add_up_over_packets_and_decoder_restarts():
    rng = np.random.default_rng(2)
    encoder = EventPacketEncoder("evt3", width=64, height=48)
    decoder = EventPacketDecoder()
    counts = []
    for k, restart in [(3, False), (0, False), (4, False), (2, True)]:
        if restart:
            encoder.seq = 0  # a restarted driver: the decoder is made anew, the sum goes on
        n = 50
        t = (np.sort(rng.integers(0, 10**6, n)) + 10**9 * (len(counts) + 1)) * 1000
        batch = EventBatch.from_arrays(t, rng.integers(0, 64, n), rng.integers(0, 48, n),
                                       rng.integers(0, 2, n), width=64, height=48)
        info, payload = parse_event_packet(encoder.encode(batch, int(t[0])))
        words = np.frombuffer(bytes(payload), "<u2")
        words = np.insert(words, [len(words)] * k, 0xA001)  # rising edges, channel 0
        decoded, _ = decoder.decode(encode_event_packet(info, words.astype("<u2").tobytes()))
        assert len(decoded) == n
        counts.append((decoder.decoder.triggers, decoder.trigger_events))
    assert counts == [(3, 3), (0, 3), (4, 7), (2, 9)]
