"""Count images, spike tensors and region statistics against brute-force loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ness_ros.events import (
    EventBatch,
    EventError,
    event_counts,
    region_bounds,
    region_counts,
    spike_tensor,
)


def random_batch(seed, n, width, height, t_end=1000):
    rng = np.random.default_rng(seed)
    # Some coordinates fall outside the sensor: every representation must ignore them.
    return EventBatch.from_arrays(rng.integers(-50, t_end + 50, n), rng.integers(0, width + 2, n),
                                  rng.integers(0, height + 2, n), rng.integers(0, 2, n),
                                  width=width, height=height)


size_st = dict(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), width=st.integers(1, 9),
               height=st.integers(1, 7))


@settings(max_examples=60, deadline=None)
@given(**size_st)
def test_event_counts(seed, n, width, height):
    batch = random_batch(seed, n, width, height)
    expected = np.zeros((2, height, width), np.int64)
    for _, x, y, p in batch.events.tolist():
        if x < width and y < height:
            expected[p, y, x] += 1
    got = event_counts(batch)
    assert got.shape == (2, height, width) and np.array_equal(got, expected)
    assert event_counts(batch, dtype=np.float32).dtype == np.float32


@settings(max_examples=60, deadline=None)
@given(**size_st, bins=st.integers(1, 6), t0=st.integers(-20, 300), length=st.integers(1, 900),
       clip=st.one_of(st.none(), st.integers(1, 3)), binarize=st.booleans())
def test_spike_tensor(seed, n, width, height, bins, t0, length, clip, binarize):
    batch = random_batch(seed, n, width, height)
    t1 = t0 + length
    expected = np.zeros((bins, 2, height, width), np.float32)
    for t, x, y, p in batch.events.tolist():
        if t0 <= t < t1 and x < width and y < height:
            b = next(b for b in range(bins) if t < t0 + (b + 1) * length / bins)
            expected[b, p, y, x] += 1
    if binarize:
        expected = np.minimum(expected, 1)
    elif clip is not None:
        expected = np.minimum(expected, clip)
    got = spike_tensor(batch, t0, t1, bins, clip=clip, binarize=binarize)
    assert got.dtype == np.float32 and got.shape == (bins, 2, height, width)
    assert np.array_equal(got, expected)
    # Into a strided view: a padded, channels-last buffer.
    buffer = np.zeros((bins, height + 3, width + 2, 2), np.float32).transpose(0, 3, 1, 2)
    view = buffer[..., :height, :width]
    assert spike_tensor(batch, t0, t1, bins, clip=clip, binarize=binarize, out=view) is view
    assert np.array_equal(view, expected) and buffer.sum() == expected.sum()


def test_spike_tensor_validation():
    batch = random_batch(0, 10, 4, 4)
    with pytest.raises(EventError, match="bins must be positive"):
        spike_tensor(batch, 0, 10, 0)
    with pytest.raises(EventError, match=r"time window \[10, 10\) ns is empty"):
        spike_tensor(batch, 10, 10, 2)
    with pytest.raises(EventError, match=r"out must be float32 of shape \(2, 2, 4, 4\)"):
        spike_tensor(batch, 0, 10, 2, out=np.zeros((2, 2, 4, 5), np.float32))
    with pytest.raises(EventError, match="out must be float32"):
        spike_tensor(batch, 0, 10, 2, out=np.zeros((2, 2, 4, 4), np.float64))


@pytest.mark.parametrize(("height", "width", "rows", "cols"),
                         [(480, 640, 3, 4), (260, 346, 7, 5), (5, 5, 5, 5), (10, 3, 3, 1)])
def test_region_bounds_even_and_complete(height, width, rows, cols):
    row_edges, col_edges = region_bounds(height, width, rows, cols)
    assert row_edges.tolist() == [i * height // rows for i in range(rows + 1)]
    assert col_edges.tolist() == [j * width // cols for j in range(cols + 1)]
    for edges, total in ((row_edges, height), (col_edges, width)):
        sizes = np.diff(edges)
        assert edges[0] == 0 and edges[-1] == total
        assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1


def test_region_bounds_validation():
    with pytest.raises(EventError, match="cannot split 4 x 6 pixels into 5 x 2 regions"):
        region_bounds(4, 6, 5, 2)
    with pytest.raises(EventError, match="into 1 x 0 regions"):
        region_bounds(4, 6, 1, 0)


@settings(max_examples=60, deadline=None)
@given(**size_st, rows=st.integers(1, 7), cols=st.integers(1, 9))
def test_region_counts(seed, n, width, height, rows, cols):
    rows, cols = min(rows, height), min(cols, width)
    batch = random_batch(seed, n, width, height)
    row_edges, col_edges = region_bounds(height, width, rows, cols)
    expected = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            inside = [(x, y) for _, x, y, _ in batch.events.tolist()
                      if row_edges[i] <= y < row_edges[i + 1]
                      and col_edges[j] <= x < col_edges[j + 1]]
            area = (row_edges[i + 1] - row_edges[i]) * (col_edges[j + 1] - col_edges[j])
            expected[i, j] = len(inside) / area
    got = region_counts(batch, rows, cols)
    assert got.shape == (rows, cols) and np.allclose(got, expected)
