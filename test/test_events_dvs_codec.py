"""dvs_msgs/EventArray codec against rclpy's own (de)serialization."""

from __future__ import annotations

import dvs_msgs.msg as dvs_msg
import numpy as np
import pytest
import rclpy.serialization as rclpy_serialization
from builtin_interfaces.msg import Time
from hypothesis import given, settings
from hypothesis import strategies as st

from ness_ros.events import EventBatch, EventError, Header, decode_event_array, encode_event_array


def padding_positions(fields: list[tuple[int, int]]) -> set[int]:
    """Byte offsets of CDR alignment padding for ``(alignment, size)`` fields after the origin."""
    pad, pos = set(), 4
    for align, size in fields:
        while (pos - 4) % align:
            pad.add(pos)
            pos += 1
        pos += size
    return pad


def event_array_fields(frame_id: str, count: int) -> list[tuple[int, int]]:
    fields = [(4, 4), (4, 4), (4, 4), (1, len(frame_id.encode()) + 1), (4, 4), (4, 4), (4, 4)]
    return fields + [(2, 2), (2, 2), (4, 4), (4, 4), (1, 1)] * count


def assert_equal_but_padding(ours: bytes, theirs: bytes, padding: set[int]) -> None:
    assert len(ours) == len(theirs)
    a, b = np.frombuffer(ours, np.uint8), np.frombuffer(theirs, np.uint8)
    keep = np.ones(len(a), bool)
    keep[sorted(padding)] = False
    assert np.array_equal(a[keep], b[keep]), np.flatnonzero((a != b) & keep)
    assert not a[~keep].any(), "our padding bytes must be zero"


def make_message(frame_id, stamp, size, events):
    msg = dvs_msg.EventArray()
    msg.header.frame_id = frame_id
    msg.header.stamp = Time(sec=stamp[0], nanosec=stamp[1])
    msg.width, msg.height = size
    msg.events = [dvs_msg.Event(x=x, y=y, ts=Time(sec=s, nanosec=ns), polarity=p)
                  for x, y, s, ns, p in events]
    return msg


event_st = st.tuples(st.integers(0, 65535), st.integers(0, 65535),
                     st.integers(-(2**31), 2**31 - 1), st.integers(0, 999_999_999), st.booleans())
frame_st = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=9)


@settings(max_examples=120, deadline=None)
@given(frame_id=frame_st, stamp=st.tuples(st.integers(-(2**31), 2**31 - 1),
                                          st.integers(0, 2**32 - 1)),
       size=st.tuples(st.integers(1, 2**32 - 1), st.integers(1, 2**32 - 1)),
       events=st.lists(event_st, max_size=41))
def test_matches_rclpy_both_ways(frame_id, stamp, size, events):
    msg = make_message(frame_id, stamp, size, events)
    theirs = rclpy_serialization.serialize_message(msg)
    batch, info = decode_event_array(theirs)
    assert (info.header, info.width, info.height) == (Header(*stamp, frame_id), *size)
    assert (batch.width, batch.height) == size
    expected_t = [s * 1_000_000_000 + ns for _, _, s, ns, _ in events]
    assert batch.t.tolist() == expected_t
    assert batch.x.tolist() == [e[0] for e in events]
    assert batch.y.tolist() == [e[1] for e in events]
    assert batch.polarity.tolist() == [int(e[4]) for e in events]
    ours = encode_event_array(batch, info.header)
    assert_equal_but_padding(ours, theirs, padding_positions(event_array_fields(frame_id,
                                                                                len(events))))
    assert rclpy_serialization.deserialize_message(ours, dvs_msg.EventArray) == msg


@pytest.mark.parametrize("frame_id", ["", "a", "ab", "abc", "abcd", "abcde", "é", "x" * 9])
@pytest.mark.parametrize("count", [0, 1, 2, 3, 7])
def test_alignment_shifts(frame_id, count):
    events = [(i, 2 * i, 10 + i, 7 * i, i % 2 == 0) for i in range(count)]
    msg = make_message(frame_id, (5, 6), (346, 260), events)
    theirs = rclpy_serialization.serialize_message(msg)
    batch, info = decode_event_array(theirs)
    ours = encode_event_array(batch, info.header)
    assert_equal_but_padding(ours, theirs, padding_positions(event_array_fields(frame_id, count)))


def test_large_array_round_trip():
    rng = np.random.default_rng(1)
    n = 100_001
    batch = EventBatch.from_arrays(np.sort(rng.integers(0, 10**12, n)), rng.integers(0, 640, n),
                                   rng.integers(0, 480, n), rng.integers(0, 2, n),
                                   width=640, height=480)
    data = encode_event_array(batch, Header(1, 2, "cam"))
    assert len(data) == 4 + 8 + 8 + 4 + 4 + 4 + 13 + 16 * (n - 1)
    back, _ = decode_event_array(data)
    assert np.array_equal(back.events, batch.events)
    msg = rclpy_serialization.deserialize_message(data, dvs_msg.EventArray)
    assert msg.events[-1].x == batch.x[-1] and msg.events[-1].ts.nanosec == batch.t[-1] % 10**9


def test_out_of_sensor_events_are_returned_and_dropped_by_within_bounds():
    msg = make_message("", (0, 0), (10, 10), [(3, 3, 0, 0, True), (10, 3, 0, 1, False),
                                               (3, 11, 0, 2, True)])
    batch, _ = decode_event_array(rclpy_serialization.serialize_message(msg))
    assert len(batch) == 3
    inside, dropped = batch.within_bounds()
    assert (len(inside), dropped) == (1, 2)


def valid_bytes(count=3, frame_id="cam"):
    events = [(i, i, 1, i, True) for i in range(count)]
    return rclpy_serialization.serialize_message(make_message(frame_id, (1, 2), (20, 10), events))


def test_bad_polarity_rejected():
    data = bytearray(valid_bytes(3, "cam"))
    start = 4 + 12 + 4 + 8 + 4  # header, height, width, count: events start here
    data[start + 16 + 12] = 2
    with pytest.raises(EventError, match=r"events\[1\]\.polarity is 2"):
        decode_event_array(bytes(data))


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda b: b[:3], "shorter than the 4-byte encapsulation"),
    (lambda b: b"\x00\x00" + b[2:], "encapsulation id 0000"),
    (lambda b: b[:10], "header.stamp"),
    (lambda b: b[:18], "header.frame_id"),
    (lambda b: b[:26], "'width'"),
    (lambda b: b[:-1], "truncated at field 'events'"),
    (lambda b: b + bytes(8), "trailing bytes"),
    (lambda b: b[:28] + (10**6).to_bytes(4, "little") + b[32:], "events"),
    (lambda b: b[:12] + (100).to_bytes(4, "little") + b[16:], "frame_id"),
    (lambda b: b[:19] + b"\x01" + b[20:], "not NUL-terminated"),
])
def test_malformed_bytes(mutate, match):
    with pytest.raises(EventError, match=match):
        decode_event_array(mutate(valid_bytes()))


def test_zero_sensor_size_rejected():
    data = rclpy_serialization.serialize_message(make_message("", (0, 0), (0, 0), []))
    with pytest.raises(EventError, match="sensor size 0 x 0"):
        decode_event_array(data)


def test_encode_rejects_times_outside_int32_seconds():
    batch = EventBatch.from_arrays([2**31 * 10**9], [0], [0], [1], width=4, height=4)
    with pytest.raises(EventError, match="int32 seconds"):
        encode_event_array(batch)


def test_empty_batch_round_trip():
    data = encode_event_array(EventBatch.empty(5, 6), Header(0, 0, ""))
    batch, info = decode_event_array(data)
    assert len(batch) == 0 and (info.width, info.height) == (5, 6)
