"""Book-keeping of a live replay, ROS-free: when each input went out, what came back.

:class:`PublishLog` remembers the monotonic time at which each input was published: frames by
header stamp, event messages by the newest event time they brought (in the node's time base, see
:class:`~ness_ros.events.stream.EventStream`). A mask computed for a frame carries
the frame's stamp; a mask of the event-only node's period trigger carries ``newest event + 1``,
which points at the event message that brought that event. Recorded stamps lie in the past, so
latency is measured from publication, never from the stamp.

:class:`ReplayTally` collects masks (matched with labels by stamp), latencies, the node's
diagnostics and overlay pictures; its methods are called from the subscription thread and the
publishing thread alike (one lock).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from ness_ros.labels import CLASS_NAMES
from ness_ros.segmentation.online_eval import OnlineEvaluator
from ness_ros.segmentation.overlay import overlay_row


class PublishLog:
    """Publication times (monotonic seconds) of frames and event messages."""

    def __init__(self) -> None:
        self._frames: dict[int, float] = {}
        self._event_t: list[int] = []
        self._event_sent: list[float] = []
        self._lock = threading.Lock()

    def frame(self, stamp_ns: int, sent_s: float) -> None:
        with self._lock:
            self._frames.setdefault(stamp_ns, sent_s)

    def events(self, newest_ns: int, sent_s: float) -> None:
        """An event message whose newest event (node time base) is ``newest_ns`` went out."""
        with self._lock:
            if not self._event_t or newest_ns > self._event_t[-1]:
                self._event_t.append(newest_ns)
                self._event_sent.append(sent_s)

    def sent(self, stamp_ns: int, by_frame: bool) -> float | None:
        """When the input of a mask stamped ``stamp_ns`` was published (None: unknown)."""
        with self._lock:
            if by_frame:
                return self._frames.get(stamp_ns)
            i = bisect.bisect_left(self._event_t, stamp_ns - 1)
            return self._event_sent[i] if i < len(self._event_sent) else None


class ReplayTally:
    """Masks, labels, latencies, diagnostics and overlays of one replay.

    Args:
        log: the publication log.
        by_frame: masks are stamped with frame stamps (hybrid, or events with ``trigger: frame``).
        overlay_spacing_ns: keep an overlay of a mask at least this much stamp time after the
            previous one kept (at most ``overlay_count``), so the strip spans the recording.
        picture: for masks not stamped by frames, a picture of the stamp's events (or None).
        class_names: the classes the masks label (the model's), in id order.
    """

    def __init__(self, log: PublishLog, *, by_frame: bool, overlay_spacing_ns: int = 0,
                 overlay_count: int = 4,
                 picture: Callable[[int], NDArray[np.uint8] | None] | None = None,
                 class_names: Sequence[str] = CLASS_NAMES) -> None:
        self.log, self.by_frame = log, by_frame
        self.class_names = list(class_names)
        self.evaluator = OnlineEvaluator(len(self.class_names))
        self.latencies_ms: list[float] = []
        self.processing_ms: list[float] = []
        self.masks = 0
        self.unknown_inputs = 0
        self.first_mask_s: float | None = None
        self.last_mask_s: float | None = None
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_s: float | None = None
        self.node_events_per_s_max = 0.0
        self.overlay_spacing_ns, self.overlay_count = int(overlay_spacing_ns), overlay_count
        self._last_overlay_ns: int | None = None
        self.picture = picture
        self._frames: dict[int, NDArray[np.uint8]] = {}
        self._labels: dict[int, NDArray[np.uint8]] = {}
        self.overlays: list[NDArray[np.uint8]] = []
        self._lock = threading.Lock()

    def wants_frames(self) -> bool:
        """Whether the overlay strip still needs rows (so published frames are worth keeping)."""
        with self._lock:
            return len(self.overlays) < self.overlay_count

    def keep_frame(self, stamp_ns: int, rgb: NDArray[np.uint8]) -> None:
        """Offer a published frame for the overlay strip (the last 16 are kept)."""
        with self._lock:
            self._frames[stamp_ns] = rgb
            while len(self._frames) > 16:
                self._frames.pop(next(iter(self._frames)))

    def add_label(self, stamp_ns: int, label: NDArray[np.uint8]) -> None:
        with self._lock:
            self.evaluator.add_label(stamp_ns, label)
            self._labels[stamp_ns] = label
            while len(self._labels) > 64:
                self._labels.pop(next(iter(self._labels)))

    def add_mask(self, stamp_ns: int, mask: NDArray[np.uint8], received_s: float) -> None:
        """A mask arrived at monotonic time ``received_s``."""
        sent = self.log.sent(stamp_ns, self.by_frame)
        with self._lock:
            self.masks += 1
            self.first_mask_s = self.first_mask_s or received_s
            self.last_mask_s = received_s
            if sent is None:
                self.unknown_inputs += 1
            else:
                self.latencies_ms.append((received_s - sent) * 1e3)
            self.evaluator.add_mask(stamp_ns, mask, received_s)
            if len(self.overlays) >= self.overlay_count or (
                    self._last_overlay_ns is not None
                    and stamp_ns < self._last_overlay_ns + self.overlay_spacing_ns):
                return
            frame = self._frames.get(stamp_ns)
        if frame is None and not self.by_frame and self.picture is not None:
            frame = self.picture(stamp_ns)
        if frame is not None and frame.shape[:2] == mask.shape:
            row = overlay_row(frame, mask, self._labels.get(stamp_ns))
            with self._lock:
                self.overlays.append(row)
                self._last_overlay_ns = stamp_ns

    def add_processing(self, processing_ms: float) -> None:
        with self._lock:
            self.processing_ms.append(processing_ms)

    def add_diagnostics(self, values: dict[str, str], received_s: float) -> None:
        """The node's latest /diagnostics key-values."""
        with self._lock:
            self.diagnostics, self.diagnostics_s = values, received_s
            try:
                rate = float(values.get("events_per_s", "nan"))
            except ValueError:
                rate = float("nan")
            if rate == rate:
                self.node_events_per_s_max = max(self.node_events_per_s_max, rate)
