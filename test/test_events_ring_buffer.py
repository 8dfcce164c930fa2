"""EventRingBuffer: bounds in count and time, drop counting, queries against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ness_ros.events import EventBatch, EventError, EventRingBuffer


def batch_at(times, width=8, height=6):
    times = np.asarray(times, dtype=np.int64)
    n = len(times)
    return EventBatch.from_arrays(times, np.arange(n) % width, np.arange(n) % height,
                                  np.arange(n) % 2, width=width, height=height)


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=25),
       max_events=st.integers(1, 60), seconds=st.one_of(st.none(), st.integers(1, 500)),
       seed=st.integers(0, 2**32 - 1))
def test_matches_brute_force(sizes, max_events, seconds, seed):
    rng = np.random.default_rng(seed)
    buffer = EventRingBuffer(8, 6, max_events=max_events,
                             max_seconds=None if seconds is None else seconds * 1e-9)
    kept = np.empty(0, np.int64)
    total = 0
    start = 0
    for size in sizes:
        times = np.sort(start + rng.integers(0, 100, size))
        start = int(times[-1]) if size else start
        buffer.append(batch_at(times))
        total += size
        kept = np.concatenate([kept, times])[-max_events:]
        if seconds is not None and len(kept):
            kept = kept[kept >= kept[-1] - seconds]
        assert buffer.times.tolist() == kept.tolist()
        assert buffer.dropped_events == total - len(kept)
        t0, t1 = sorted(rng.integers(-10, start + 110, 2))
        got = buffer.query(int(t0), int(t1)).t
        assert got.tolist() == kept[(kept >= t0) & (kept < t1)].tolist()


def test_count_bound_drops_oldest_and_counts():
    buffer = EventRingBuffer(8, 6, max_events=5)
    buffer.append(batch_at([1, 2, 3]))
    buffer.append(batch_at([4, 5, 6, 7]))
    assert buffer.times.tolist() == [3, 4, 5, 6, 7] and buffer.dropped_events == 2
    buffer.append(batch_at(range(10, 22)))  # a batch larger than the buffer keeps its tail
    assert buffer.times.tolist() == [17, 18, 19, 20, 21] and buffer.dropped_events == 14


def test_time_bound():
    buffer = EventRingBuffer(8, 6, max_events=1000, max_seconds=1.0)
    buffer.append(batch_at([0, 500_000_000, 1_000_000_000]))
    assert len(buffer) == 3
    buffer.append(batch_at([1_500_000_001]))
    assert buffer.times.tolist() == [1_000_000_000, 1_500_000_001]
    assert buffer.dropped_events == 2
    assert (buffer.oldest_ns, buffer.newest_ns) == (1_000_000_000, 1_500_000_001)
    assert buffer.latest(500_000_002).t.tolist() == [1_000_000_000, 1_500_000_001]
    assert buffer.latest(500_000_001).t.tolist() == [1_500_000_001]


def test_unsorted_batch_is_sorted_stably():
    buffer = EventRingBuffer(8, 6, max_events=10)
    batch = batch_at([5, 3, 5, 1])
    buffer.append(batch)
    snap = buffer.snapshot()
    assert snap.t.tolist() == [1, 3, 5, 5]
    assert snap.x.tolist() == [3, 1, 0, 2]


def test_going_backwards_raises_until_reset():
    buffer = EventRingBuffer(8, 6, max_events=10)
    buffer.append(batch_at([10, 20]))
    buffer.append(batch_at([20, 21]))  # equal times are fine
    with pytest.raises(EventError, match="batch starts at 19 ns, before the buffer's newest"):
        buffer.append(batch_at([19]))
    assert len(buffer) == 4
    buffer.reset()
    buffer.append(batch_at([1]))
    assert buffer.times.tolist() == [1]


def test_validation_and_empty():
    with pytest.raises(EventError, match="max_events must be positive"):
        EventRingBuffer(8, 6, max_events=0)
    with pytest.raises(EventError, match="max_seconds must be positive"):
        EventRingBuffer(8, 6, max_events=3, max_seconds=0)
    buffer = EventRingBuffer(8, 6, max_events=3)
    with pytest.raises(EventError, match="sensor size 9 x 6 differs"):
        buffer.append(batch_at([1], width=9))
    buffer.append(EventBatch.empty(8, 6))
    assert len(buffer) == 0 and buffer.newest_ns is None and buffer.oldest_ns is None
    assert len(buffer.latest(10)) == 0 and len(buffer.query(0, 10)) == 0
    buffer.append(batch_at([4]))
    assert len(buffer.query(10, 0)) == 0


def test_query_returns_copies():
    buffer = EventRingBuffer(8, 6, max_events=4)
    buffer.append(batch_at([1, 2, 3]))
    got = buffer.query(0, 10)
    buffer.append(batch_at(range(4, 100)))
    assert got.t.tolist() == [1, 2, 3]


def test_many_appends_stay_bounded():
    buffer = EventRingBuffer(640, 480, max_events=10_000)
    storage = buffer._t.size
    for i in range(200):
        buffer.append(batch_at(np.arange(i * 997, (i + 1) * 997), 640, 480))
    assert len(buffer) == 10_000 and buffer._t.size == storage
    assert buffer.times.tolist() == list(range(200 * 997 - 10_000, 200 * 997))
