"""The one event-batch type: a structured NumPy array plus the sensor size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.errors import EventError

#: Field layout of every event array in ness_ros. ``t`` is in nanoseconds (int64), ``x``/``y``
#: are pixel coordinates with (0, 0) top-left, ``polarity`` is 1 for ON and 0 for OFF.
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("polarity", "u1")])


@dataclass(frozen=True)
class EventBatch:
    """Events of one sensor, ordered by time as received. Treat ``events`` as read-only once
    the batch is in use: :meth:`time_slice` keeps a copy of the times.

    Attributes:
        events: structured array of :data:`EVENT_DTYPE`, shape (N,).
        width: sensor width in pixels.
        height: sensor height in pixels.
    """

    events: NDArray[np.void]
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.events.dtype != EVENT_DTYPE:
            raise EventError(f"event array dtype is {self.events.dtype}, expected {EVENT_DTYPE}")
        if self.events.ndim != 1:
            raise EventError(f"event array must be 1-D, got shape {self.events.shape}")
        if self.width <= 0 or self.height <= 0:
            raise EventError(f"sensor size must be positive, got {self.width} x {self.height}")

    @classmethod
    def empty(cls, width: int, height: int) -> EventBatch:
        return cls(np.empty(0, dtype=EVENT_DTYPE), width, height)

    @classmethod
    def from_arrays(cls, t: NDArray[np.integer], x: NDArray[np.integer], y: NDArray[np.integer],
                    polarity: NDArray[np.integer] | NDArray[np.bool_], *, width: int,
                    height: int) -> EventBatch:
        """Build a batch from equal-length field arrays (t in nanoseconds)."""
        n = len(t)
        if not (len(x) == len(y) == len(polarity) == n):
            raise EventError(f"field lengths differ: t {n}, x {len(x)}, y {len(y)}, "
                             f"polarity {len(polarity)}")
        events = np.empty(n, dtype=EVENT_DTYPE)
        events["t"], events["x"], events["y"] = t, x, y
        events["polarity"] = np.asarray(polarity).astype(np.uint8) != 0
        return cls(events, width, height)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def t(self) -> NDArray[np.int64]:
        return self.events["t"]

    @property
    def x(self) -> NDArray[np.uint16]:
        return self.events["x"]

    @property
    def y(self) -> NDArray[np.uint16]:
        return self.events["y"]

    @property
    def polarity(self) -> NDArray[np.uint8]:
        return self.events["polarity"]

    @cached_property
    def _times(self) -> NDArray[np.int64]:
        # searchsorted on the strided ``t`` field copies all of it on every call (30 ms for a
        # 10 s drive); one contiguous copy, made on first use, serves every later slice.
        return np.ascontiguousarray(self.events["t"])

    def time_slice(self, t0_ns: int, t1_ns: int) -> EventBatch:
        """Events with ``t0_ns <= t < t1_ns``; the batch must be sorted by time (O(log n)
        after the first call, which copies the times once)."""
        lo, hi = np.searchsorted(self._times, [t0_ns, t1_ns], side="left")
        return EventBatch(self.events[lo:hi], self.width, self.height)

    def out_of_bounds(self) -> NDArray[np.bool_]:
        """Mask of events whose coordinates lie outside the sensor."""
        return (self.events["x"] >= self.width) | (self.events["y"] >= self.height)

    def within_bounds(self) -> tuple[EventBatch, int]:
        """The events inside the sensor, and how many were dropped."""
        bad = self.out_of_bounds()
        dropped = int(bad.sum())
        if dropped == 0:
            return self, 0
        return EventBatch(self.events[~bad], self.width, self.height), dropped

    def is_time_sorted(self) -> bool:
        t = self.events["t"]
        return bool(len(t) < 2 or np.all(t[1:] >= t[:-1]))

    @staticmethod
    def concatenate(batches: Sequence[EventBatch]) -> EventBatch:
        """Join batches of one sensor in the given order."""
        if not batches:
            raise EventError("cannot concatenate zero batches")
        width, height = batches[0].width, batches[0].height
        for b in batches[1:]:
            if (b.width, b.height) != (width, height):
                raise EventError(f"sensor sizes differ: {width} x {height} and "
                                 f"{b.width} x {b.height}")
        return EventBatch(np.concatenate([b.events for b in batches]), width, height)
