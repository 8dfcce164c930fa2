"""Scan-line polygon fill (numba) of many polygons into per-layer id buffers in one call.

A pixel belongs to a polygon when its centre lies inside (even-odd rule); spans and polygons
thinner than a pixel still cover the nearest pixel, so distant poles and sign posts do not
flicker in and out of existence as they move (which would create spurious events).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray


@numba.njit(cache=True)
def _fill_span(buf, y, xa, xb, value, width):
    if xb - xa < 1.0:
        xm = int(math.floor(0.5 * (xa + xb) + 0.5))
        if 0 <= xm < width:
            buf[y, xm] = value
        return
    lo = max(0, int(math.ceil(xa)))
    hi = min(width - 1, int(math.ceil(xb)) - 1)
    for x in range(lo, hi + 1):
        buf[y, x] = value


@numba.njit(cache=True)
def fill_polygons(ids: NDArray[np.uint16], order: NDArray[np.intp], layer: NDArray[np.int8],
                  u: NDArray[np.float64], v: NDArray[np.float64],
                  start: NDArray[np.intp]) -> None:
    """Draw polygons ``order[0], order[1], ...`` (later ones on top) into ``ids[layer[k]]``
    with value k + 1. Polygon k has vertices ``(u, v)[start[k]:start[k + 1]]`` in pixels
    (pixel centres at integers)."""
    height, width = ids.shape[1], ids.shape[2]
    xs = np.empty(256)
    for k in order:
        s0, s1 = start[k], start[k + 1]
        n = s1 - s0
        if n < 3 or n > 256:
            continue
        umin, umax, vmin, vmax = u[s0], u[s0], v[s0], v[s0]
        for i in range(s0 + 1, s1):
            umin, umax = min(umin, u[i]), max(umax, u[i])
            vmin, vmax = min(vmin, v[i]), max(vmax, v[i])
        if umax < -0.5 or umin > width - 0.5 or vmax < -0.5 or vmin > height - 0.5:
            continue
        buf = ids[layer[k]]
        value = k + 1
        y0, y1 = int(math.ceil(vmin)), int(math.floor(vmax))
        if y1 < y0:  # thinner than a pixel row: one row, the polygon's horizontal extent
            y = int(math.floor(0.5 * (vmin + vmax) + 0.5))
            if 0 <= y < height:
                _fill_span(buf, y, umin, umax, value, width)
            continue
        for y in range(max(y0, 0), min(y1, height - 1) + 1):
            m = 0
            for i in range(n):
                a, b = s0 + i, s0 + (i + 1) % n
                ya, yb = v[a], v[b]
                if (ya <= y < yb) or (yb <= y < ya):
                    xs[m] = u[a] + (y - ya) * (u[b] - u[a]) / (yb - ya)
                    m += 1
            for i in range(1, m):  # insertion sort: m is tiny
                key, j = xs[i], i - 1
                while j >= 0 and xs[j] > key:
                    xs[j + 1] = xs[j]
                    j -= 1
                xs[j + 1] = key
            for j in range(0, m - 1, 2):
                _fill_span(buf, y, xs[j], xs[j + 1], value, width)
