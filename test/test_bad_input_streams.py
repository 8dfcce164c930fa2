"""The node's input checks without ROS: each bad input raises InputError with the kind the
node counts (``rejected_<stream>_<kind>``), or is handled as the bad-input table of doc/nodes.md
says."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.events import (
    EventBatch,
    EventPacketEncoder,
    Header,
    PacketInfo,
    encode_event_array,
    encode_event_packet,
    encode_image_cdr,
    parse_event_packet,
)
from ness_ros.events.cdr import CdrWriter
from ness_ros.events.errors import InputError
from ness_ros.events.stream import EventStream, StampGuard, decode_frame

W, H = 32, 24
T0 = 5_000_000_000


def batch(t, x=None, y=None) -> EventBatch:
    n = len(t)
    return EventBatch.from_arrays(np.asarray(t, np.int64), np.zeros(n) if x is None else x,
                                  np.zeros(n) if y is None else y, np.ones(n), width=W, height=H)


def array(t, stamp, **kw) -> bytes:
    return encode_event_array(batch(t, **kw), Header.from_ns(stamp, "cam"))


def raw_image(width, height, encoding, step, data: bytes) -> bytes:
    writer = CdrWriter()
    writer.header(Header(1, 2, "cam"))
    writer.u32(height)
    writer.u32(width)
    writer.string(encoding)
    writer.u8(0)
    writer.u32(step)
    writer.u32(len(data))
    return bytes(writer.buf) + data


IMAGES = {
    "encoding": raw_image(W, H, "yuv422", 2 * W, bytes(2 * W * H)),
    "size": raw_image(W, H, "rgb8", 3 * W - 1, bytes((3 * W - 1) * H)),
    "empty": raw_image(0, 0, "rgb8", 0, b""),
    "malformed": encode_image_cdr(np.zeros((H, W, 3), np.uint8), "rgb8")[:-7],
    "nan": encode_image_cdr(np.full((H, W), np.nan, np.float32), "32FC1"),
}


@pytest.mark.parametrize("kind", IMAGES)
def test_bad_images_raise_their_kind(kind):
    with pytest.raises(InputError, match=".") as info:
        decode_frame(IMAGES[kind])
    assert info.value.kind == kind


def test_good_images_decode_to_rgb():
    rgb, header, encoding = decode_frame(encode_image_cdr(
        np.full((H, W), 0.5, np.float32), "32FC1", Header(3, 4, "c")))
    assert rgb.shape == (H, W, 3) and rgb[0, 0, 0] == 128 and header.stamp_ns == 3 * 10**9 + 4


def test_event_arrays_raise_their_kind_and_keep_nothing():
    stream = EventStream("dvs")
    stream.push(array([T0, T0 + 10], T0))
    bad = bytearray(array([T0 + 20], T0 + 20))
    bad[-1] = 2  # polarity
    cases = {"malformed": bytes(bad), "skew": array([T0 + 20, T0 + 10**10], T0 + 20)}
    for kind, data in cases.items():
        with pytest.raises(InputError, match=".") as info:
            stream.push(data)
        assert info.value.kind == kind
    assert stream.counts["events"] == 2 and stream.newest_ns == T0 + 10


def test_unsorted_events_far_from_the_stamp_in_the_middle_are_rejected():
    stream = EventStream("dvs")
    with pytest.raises(InputError, match="from the header stamp") as info:
        stream.push(array([T0, T0 + 10**12, T0 + 5], T0))
    assert info.value.kind == "skew"


def test_out_of_sensor_late_and_empty_events_are_counted():
    stream = EventStream("dvs", max_events=1000)
    result = stream.push(array([T0, T0 + 1, T0 + 2], T0, x=np.array([0, W, 1])))
    assert result.out_of_bounds == 1 and result.events == 2
    assert stream.push(array([T0, T0 + 3], T0)).late == 1
    stream.push(encode_event_array(EventBatch.empty(W, H), Header.from_ns(T0)))
    assert stream.counts["empty_messages"] == 1 and stream.counts["late"] == 1
    stream.push(array(np.arange(1500) + T0 + 10, T0 + 10))
    assert stream.counts["overflow"] == 3 + 1500 - 1000  # 3 were buffered


def test_a_bag_loop_and_a_sensor_change_reset_with_a_reason():
    stream = EventStream("dvs")
    stream.push(array([T0], T0))
    assert "went back by 2.000 s" in stream.push(array([T0 - 2 * 10**9], T0 - 2 * 10**9)).reset
    other = EventBatch.from_arrays(np.array([T0]), np.zeros(1), np.zeros(1), np.ones(1),
                                   width=W * 2, height=H)
    reset = stream.push(encode_event_array(other, Header.from_ns(T0))).reset
    assert reset == f"sensor size changed from {W} x {H} to {2 * W} x {H}"
    assert stream.sensor_size == (2 * W, H) and stream.counts["resets"] == 2


def packet(encoder, t, stamp) -> bytes:
    return encoder.encode(batch(t), stamp)


def test_packets_raise_their_kind():
    stream = EventStream("packet")
    encoder = EventPacketEncoder("evt3", width=W, height=H)
    good = packet(encoder, [1000, 2000], T0)
    info, payload = parse_event_packet(good)
    cases = {"encoding": encode_event_packet(PacketInfo(info.header, W, H, 1, 0, "evt9"),
                                             payload),
             "payload": encode_event_packet(PacketInfo(info.header, W, H, 1, 0, "evt3"),
                                            bytes(payload)[:-1]),
             "malformed": good[:-3 - 8]}
    for kind, data in cases.items():
        with pytest.raises(InputError) as caught:
            stream.push(data)
        assert caught.value.kind == kind, kind
    assert stream.push(good).events == 2


def test_a_restarted_driver_is_anchored_again():
    """After a restart (seq back) sensor time starts again from 0; the events are mapped to
    the new header stamps instead of being rejected as far from them."""
    stream = EventStream("packet")
    first = EventPacketEncoder("evt3", width=W, height=H)
    stream.push(packet(first, [10**9, 10**9 + 5000], T0))
    stream.push(packet(first, [2 * 10**9], T0 + 10**9))
    restarted = EventPacketEncoder("evt3", width=W, height=H)
    result = stream.push(packet(restarted, [1000, 9000], T0 + 3 * 10**9))
    assert result.events == 2 and not result.reset
    assert stream.newest_ns == T0 + 3 * 10**9 + 8000


def test_stamp_guard_rejects_far_stamps_only_in_a_live_stream():
    now = 10**18
    guard = StampGuard(tolerance_ns=5 * 10**9, switch_after=3)
    guard.check(now, now)
    with pytest.raises(InputError, match="60.000 s ahead of the clock") as info:
        guard.check(now + 60 * 10**9, now)
    assert info.value.kind == "stamp"
    guard.check(now + 10**9, now)          # live again: the count starts over
    for _ in range(2):
        with pytest.raises(InputError):
            guard.check(now - 3600 * 10**9, now)
    guard.check(now - 3600 * 10**9, now)   # the third in a row: the stream is a replay now
    assert guard.live is False
    guard.check(now - 7200 * 10**9, now)   # replays are never refused
    replay = StampGuard(tolerance_ns=5 * 10**9)
    replay.check(1000, now)
    replay.check(10**15, now)
