"""A time-indexed buffer of the most recent events of one sensor.

Events live in preallocated NumPy storage as one contiguous run (a structured array plus a
contiguous int64 copy of the times for ``searchsorted``). Appending copies the batch behind the
run; when the storage end is reached the live run is moved to the front, which costs at most
two copies per event over time (amortised O(1) append). Queries are O(log n) plus the copy of
what they return.

Ordering contract: events within an appended batch are sorted by time (stable) if they are not
already; a batch whose first (earliest) event is older than the buffer's newest event raises
:class:`EventError` (equal times are fine) and leaves the buffer unchanged; call :meth:`reset`
after a time jump (bag loop, sensor restart).

Bounds: at most ``max_events`` events, and only events with ``t >= newest - max_seconds``. The
oldest events are dropped first and counted in :attr:`dropped_events`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.events.errors import EventError


class EventRingBuffer:
    """Recent events of one ``width`` x ``height`` sensor, bounded in count and in time.

    Args:
        width: sensor width in pixels; appended batches must match.
        height: sensor height in pixels.
        max_events: most events kept (> 0).
        max_seconds: longest time span kept, in seconds (None: no time bound).
    """

    def __init__(self, width: int, height: int, *, max_events: int,
                 max_seconds: float | None = None) -> None:
        if max_events <= 0:
            raise EventError(f"max_events must be positive, got {max_events}")
        if max_seconds is not None and not max_seconds > 0:
            raise EventError(f"max_seconds must be positive or None, got {max_seconds}")
        self.width, self.height = int(width), int(height)
        self.max_events = int(max_events)
        self.max_duration_ns = None if max_seconds is None else int(round(max_seconds * 1e9))
        capacity = self.max_events + max(self.max_events // 2, 1024)
        self._events = np.empty(capacity, dtype=EVENT_DTYPE)
        # The same storage as flat bytes: NumPy copies packed 13-byte records field by field
        # (about 12x slower than memcpy), so every bulk copy goes through this view instead.
        self._bytes = self._events.view(np.uint8)
        self._t = np.empty(capacity, dtype=np.int64)
        self._start = 0
        self._end = 0
        self.dropped_events = 0

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def times(self) -> NDArray[np.int64]:
        """Read-only view of the buffered times (ns), oldest first; valid until the next append."""
        view = self._t[self._start:self._end]
        view.flags.writeable = False
        return view

    @property
    def oldest_ns(self) -> int | None:
        return int(self._t[self._start]) if len(self) else None

    @property
    def newest_ns(self) -> int | None:
        return int(self._t[self._end - 1]) if len(self) else None

    def reset(self) -> None:
        """Forget all events (the drop counter is kept)."""
        self._start = self._end = 0

    def append(self, batch: EventBatch) -> None:
        """Add ``batch`` (see the module's ordering contract), then apply the bounds."""
        if (batch.width, batch.height) != (self.width, self.height):
            raise EventError(f"batch sensor size {batch.width} x {batch.height} differs from the "
                             f"buffer's {self.width} x {self.height}")
        events = batch.events
        if len(events) == 0:
            return
        if not batch.is_time_sorted():
            events = events[np.argsort(events["t"], kind="stable")]
        first = int(events["t"][0])
        if len(self) and first < self._t[self._end - 1]:
            raise EventError(f"batch starts at {first} ns, before the buffer's newest event at "
                             f"{int(self._t[self._end - 1])} ns; call reset() after a time jump")
        if len(events) > self.max_events:
            self.dropped_events += len(events) - self.max_events
            events = events[-self.max_events:]
        n = len(events)
        excess = len(self) + n - self.max_events
        if excess > 0:
            self._drop(excess)
        if self._end + n > len(self._t):
            live = len(self)
            self._bytes[:live * _SIZE] = self._bytes[self._start * _SIZE:self._end * _SIZE]
            self._t[:live] = self._t[self._start:self._end]
            self._start, self._end = 0, live
        self._bytes[self._end * _SIZE:(self._end + n) * _SIZE] = \
            np.ascontiguousarray(events).view(np.uint8)
        self._t[self._end:self._end + n] = events["t"]
        self._end += n
        if self.max_duration_ns is not None:
            horizon = int(self._t[self._end - 1]) - self.max_duration_ns
            self._drop(int(np.searchsorted(self._t[self._start:self._end], horizon, "left")))

    def _drop(self, count: int) -> None:
        count = min(count, len(self))
        self._start += count
        self.dropped_events += count
        if self._start == self._end:
            self._start = self._end = 0

    def query(self, t0_ns: int, t1_ns: int) -> EventBatch:
        """A copy of the buffered events with ``t0_ns <= t < t1_ns``, oldest first."""
        t = self._t[self._start:self._end]
        lo, hi = np.searchsorted(t, [t0_ns, t1_ns], side="left")
        hi = max(hi, lo)
        return EventBatch(self._copy(self._start + lo, self._start + hi), self.width, self.height)

    def latest(self, duration_ns: int) -> EventBatch:
        """A copy of the events of the last ``duration_ns`` ns: ``t > newest - duration_ns``."""
        if not len(self):
            return EventBatch.empty(self.width, self.height)
        newest = int(self._t[self._end - 1])
        return self.query(newest - int(duration_ns) + 1, newest + 1)

    def snapshot(self) -> EventBatch:
        """A copy of everything buffered."""
        return EventBatch(self._copy(self._start, self._end), self.width, self.height)

    def _copy(self, lo: int, hi: int) -> NDArray[np.void]:
        out = np.empty(hi - lo, dtype=EVENT_DTYPE)
        out.view(np.uint8)[:] = self._bytes[lo * _SIZE:hi * _SIZE]
        return out


_SIZE = EVENT_DTYPE.itemsize
