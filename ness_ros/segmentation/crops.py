"""Crop windows for recomputing regions: one size for all, on the model's stride grid.

A fully convolutional model pads its input (bottom, right) to a multiple of its total stride; a
crop whose origin lies on that grid sees the full frame's sampling, so its labels agree with the
full frame's away from its border. Windows are therefore placed in the frame zero-padded to a
multiple of the stride. Used by :class:`~ness_ros.segmentation.hybrid.HybridSegmenter` and by
``ness bench models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.representations import region_bounds

if TYPE_CHECKING:
    import torch


def padded_size(extent: int, stride: int) -> int:
    """``extent`` rounded up to a multiple of ``stride``."""
    return -(-extent // stride) * stride


def window_size(region: int, margin: int, stride: int, padded_extent: int) -> int:
    """Side of a window holding ``region`` pixels plus ``margin`` on both sides wherever its
    origin is aligned down to the stride grid (``stride - 1`` pixels of slack)."""
    return min(padded_extent, padded_size(region + 2 * margin + stride - 1, stride))


def window_origin(start: int, size: int, margin: int, stride: int, padded_extent: int) -> int:
    """Origin of a ``size`` window for a region starting at ``start``: ``margin`` before it,
    kept inside the padded frame, aligned down to the stride grid."""
    return max(0, min(start - margin, padded_extent - size)) // stride * stride


def region_windows(width: int, height: int, cols: int, rows: int, margin: int, stride: int
                   ) -> tuple[tuple[int, int], list[tuple[tuple[int, int, int, int],
                                                         tuple[int, int]]]]:
    """Regions of a ``cols`` x ``rows`` grid over a ``width`` x ``height`` frame, and the crop
    window of each in the frame zero-padded to multiples of ``stride``.

    Every window has the same size ``(crop_w, crop_h)``, a multiple of ``stride``; it starts on a
    multiple of ``stride`` and covers its region plus ``margin`` pixels where the padded frame
    allows. Regions follow :func:`ness_ros.events.representations.region_bounds`, row by row.

    Returns:
        ``((crop_w, crop_h), [((x0, y0, x1, y1) region, (cx0, cy0) window origin), ...])``.
    """
    padded_w, padded_h = padded_size(width, stride), padded_size(height, stride)
    ys, xs = (edges.tolist() for edges in region_bounds(height, width, rows, cols))
    widest = max(b - a for a, b in zip(xs, xs[1:], strict=False))
    tallest = max(b - a for a, b in zip(ys, ys[1:], strict=False))
    crop_w = window_size(widest, margin, stride, padded_w)
    crop_h = window_size(tallest, margin, stride, padded_h)
    windows = []
    for r in range(rows):
        for c in range(cols):
            region = (xs[c], ys[r], xs[c + 1], ys[r + 1])
            windows.append((region, (window_origin(xs[c], crop_w, margin, stride, padded_w),
                                     window_origin(ys[r], crop_h, margin, stride, padded_h))))
    return (crop_w, crop_h), windows


def region_pixels(regions: NDArray[np.bool_], width: int, height: int) -> NDArray[np.bool_]:
    """(H, W) bool: the pixels of the chosen ``regions`` (rows, cols) of the grid over a
    ``width`` x ``height`` frame (:func:`ness_ros.events.representations.region_bounds`)."""
    rows, cols = regions.shape
    row_edges, col_edges = region_bounds(height, width, rows, cols)
    return np.repeat(np.repeat(regions, np.diff(row_edges), axis=0), np.diff(col_edges), axis=1)


def box_window(x0: int, y0: int, x1: int, y1: int, width: int, height: int, margin: int,
               stride: int, size_step: int | None = None) -> tuple[int, int, int, int]:
    """The window ``(wx0, wy0, wx1, wy1)`` of one box plus margin in the padded frame, origin on
    the stride grid, size a multiple of the stride, or of ``size_step`` (a multiple of the
    stride) up to the padded frame's size when given."""
    padded_w, padded_h = padded_size(width, stride), padded_size(height, stride)
    step = size_step or stride
    if step % stride:
        raise ValueError(f"size_step {step} is not a multiple of the stride {stride}")
    crop_w = min(padded_w, padded_size(window_size(x1 - x0, margin, stride, padded_w), step))
    crop_h = min(padded_h, padded_size(window_size(y1 - y0, margin, stride, padded_h), step))
    wx0 = window_origin(x0, crop_w, margin, stride, padded_w)
    wy0 = window_origin(y0, crop_h, margin, stride, padded_h)
    return wx0, wy0, wx0 + crop_w, wy0 + crop_h


def stack_crops(frame: torch.Tensor | None, events: torch.Tensor,
                windows: list[tuple[int, int, int, int]]) -> tuple[torch.Tensor | None,
                                                                  torch.Tensor]:
    """Cut equal-size windows ``(x0, y0, x1, y1)`` out of a frame ``[C, H, W]`` (or None) and
    events ``[T, 2, H, W]`` into a batch: frames ``[B, C, h, w]`` and events ``[T, B, 2, h, w]``,
    both in the channels-last layout the models' convolutions read, in one copy per crop."""
    import torch  # here: the rest of this module serves command lines that start without torch

    x0, y0, x1, y1 = windows[0]
    height, width, count = y1 - y0, x1 - x0, len(windows)
    steps, channels = events.shape[:2]
    event_batch = torch.empty(steps, count, height, width, channels,
                              dtype=events.dtype).permute(0, 1, 4, 2, 3)
    frame_batch = None if frame is None else torch.empty(
        count, height, width, frame.shape[0], dtype=frame.dtype).permute(0, 3, 1, 2)
    for i, (x0, y0, x1, y1) in enumerate(windows):
        if (y1 - y0, x1 - x0) != (height, width):
            raise ValueError(f"crop windows differ in size: {windows[0]} and {windows[i]}")
        event_batch[:, i].copy_(events[:, :, y0:y1, x0:x1])
        if frame_batch is not None and frame is not None:
            frame_batch[i].copy_(frame[:, y0:y1, x0:x1])
    return frame_batch, event_batch


def cluster_windows(changed: NDArray[np.bool_], width: int, height: int, margin: int,
                    stride: int, size_step: int | None = None
                    ) -> tuple[list[tuple[int, int, int, int]], NDArray[np.intp]]:
    """Crop windows that cover the ``changed`` regions (rows, cols) of a grid over a ``width``
    x ``height`` frame, each paying its context margin once per cluster, not once per region.

    Changed regions that touch (4-neighbours) form a cluster; each cluster's bounding box plus
    ``margin`` is a window (on the stride grid, sides rounded up to ``size_step``, as
    :func:`box_window` places it). Two windows are merged into the window of their union
    whenever that costs no more pixels than both, until no pair does. Scattered changes so cost
    about their area plus one margin each, and changes that span the frame become one box.

    Returns ``(windows, window_of)``: the windows ``(x0, y0, x1, y1)`` in the padded frame, and
    for each region (rows, cols) the index of the window that holds it (-1 for unchanged
    regions).
    """
    rows, cols = changed.shape
    ys, xs = (edges.tolist() for edges in region_bounds(height, width, rows, cols))
    cluster = _clusters(changed)
    boxes: list[list[int]] = []  # per cluster: row0, col0, row1, col1 (inclusive cells)
    for r, c in zip(*np.nonzero(cluster >= 0), strict=True):
        k = cluster[r, c]
        if k == len(boxes):
            boxes.append([r, c, r, c])
        box = boxes[k]
        box[0], box[1] = min(box[0], r), min(box[1], c)
        box[2], box[3] = max(box[2], r), max(box[3], c)
    members = [[k] for k in range(len(boxes))]

    def window(cells: list[int]) -> tuple[int, int, int, int]:
        return box_window(xs[cells[1]], ys[cells[0]], xs[cells[3] + 1], ys[cells[2] + 1],
                          width, height, margin, stride, size_step=size_step)

    def area(w: tuple[int, int, int, int]) -> int:
        return (w[2] - w[0]) * (w[3] - w[1])

    windows = [window(b) for b in boxes]
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                union = [min(boxes[i][0], boxes[j][0]), min(boxes[i][1], boxes[j][1]),
                         max(boxes[i][2], boxes[j][2]), max(boxes[i][3], boxes[j][3])]
                both = window(union)
                if area(both) <= area(windows[i]) + area(windows[j]):
                    boxes[i], windows[i] = union, both
                    members[i] += members.pop(j)
                    del boxes[j], windows[j]
                    merged = True
                    break
            if merged:
                break
    window_of = np.full((rows, cols), -1, np.intp)
    for index, ks in enumerate(members):
        for k in ks:
            window_of[cluster == k] = index
    return windows, window_of


def _clusters(changed: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Label the 4-connected clusters of ``changed`` cells 0, 1, ... in row order of their
    first cell; -1 elsewhere. (A grid has at most a few hundred cells: a plain flood fill.)"""
    rows, cols = changed.shape
    label = np.full((rows, cols), -1, np.intp)
    count = 0
    for r0, c0 in zip(*np.nonzero(changed), strict=True):
        if label[r0, c0] >= 0:
            continue
        label[r0, c0] = count
        stack = [(r0, c0)]
        while stack:
            r, c = stack.pop()
            for rn, cn in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rn < rows and 0 <= cn < cols and changed[rn, cn] and label[rn, cn] < 0:
                    label[rn, cn] = count
                    stack.append((rn, cn))
        count += 1
    return label


def window_interior(window: tuple[int, int, int, int], width: int, height: int,
                    margin: int) -> tuple[int, int, int, int]:
    """The part of ``window`` whose labels have their full context: the window less ``margin``
    on each side that is not the frame's border (there the frame ends anyway), clipped to the
    ``width`` x ``height`` frame."""
    x0, y0, x1, y1 = window
    return (x0 + margin if x0 > 0 else 0, y0 + margin if y0 > 0 else 0,
            x1 - margin if x1 < width else width, y1 - margin if y1 < height else height)


def covered_regions(windows: list[tuple[int, int, int, int]], width: int, height: int,
                    rows: int, cols: int, margin: int) -> NDArray[np.bool_]:
    """Regions (rows, cols) that lie wholly inside some window's interior
    (:func:`window_interior`)."""
    ys, xs = region_bounds(height, width, rows, cols)
    covered = np.zeros((rows, cols), bool)
    for window in windows:
        ix0, iy0, ix1, iy1 = window_interior(window, width, height, margin)
        inside_x = (xs[:-1] >= ix0) & (xs[1:] <= ix1)
        inside_y = (ys[:-1] >= iy0) & (ys[1:] <= iy1)
        covered |= inside_y[:, None] & inside_x[None, :]
    return covered
