"""FramePipeline: one frame's path from its input to its mask, ROS-free.

The nodes, ``ness bag eval`` and ``ness eval`` all run a frame through this class, so that the
rules below are written once and the figures of the offline tools describe the nodes:

- **Event intake**: serialized event messages go through
  :class:`~ness_ros.events.stream.EventStream` (decoding, checks, a bounded ring
  buffer); events are complete up to the later of a message's stamp and its newest event (a
  driver stamps a message when its window closes, which may be after its last event).
  ``ness eval`` serves a recording instead (any :class:`EventSource`: a whole batch in
  memory, :class:`RecordedEvents`, or a file read window by window), all there from the start.
- **Stamp rules** of a frame (or of an event-only trigger), when it arrives (:meth:`admit`):
  a stamp far from the clock in a live stream is rejected (``stamp``), one equal to the
  previous frame's (``duplicate_stamp``) or up to ``loop_tolerance_s`` before it
  (``out_of_order``) too; a frame of another size than the event sensor is rejected
  (``sensor_mismatch``); one of another size than the previous frame is counted
  (``image_size_changes``, the segmenter then starts with a keyframe). When it is segmented
  (:meth:`segment`): a stamp before the previous segmented one is a loop (a bag restarted): the
  segmenter's state is reset, counted in ``frame_time_resets`` and warned about.
- **The event window**: the events in ``[stamp - window, stamp)``, from the previous segmented
  stamp on when the segmenter counts the change since then (the hybrid method's gate).
- **The working resolution** (:class:`~ness_ros.segmentation.working_resolution.SensorRescaler`):
  frames and events brought to it, the mask back to the published resolution.
- **The segmenter** behind one protocol (:class:`Segmenter`): the hybrid and the event-only
  model take the same arguments.

Rejections raise :class:`~ness_ros.events.errors.InputError`, whose ``kind`` is the
counter's name; callers count them per kind and go on. The class holds a lock around the event
buffer: event intake may run on one thread and segmentation on another (a node's callbacks and
its worker).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.errors import InputError
from ness_ros.events.stream import EventStream, PushResult, StampGuard
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.result import SegmentationResult
from ness_ros.segmentation.working_resolution import Rescaler, SensorRescaler

__all__ = ["LOOP_TOLERANCE_S", "EventSource", "FramePipeline", "RecordedEvents", "Segmenter"]

#: A frame stamp this far before the previous one is a loop (state reset); less, out of order.
LOOP_TOLERANCE_S = 0.5


class Segmenter(Protocol):
    """What :class:`FramePipeline` needs of a segmenter (HybridSegmenter, EventSegmenter)."""

    #: The model's input recipe; the pipeline replaces it for binned events.
    encoder: InputEncoder
    #: Whether :meth:`segment` must also get the events since the previous segmented frame.
    needs_events_since_previous: bool

    def segment(self, frame: NDArray[np.uint8] | None, stamp_ns: int,
                events: EventBatch) -> SegmentationResult:
        """The mask of the frame (None for an event-only model) taken at ``stamp_ns``."""
        ...

    def reset(self) -> None:
        """Forget the previous frames: the next one starts afresh."""
        ...

    def warm_up(self, width: int, height: int) -> None:
        """One pass on blank input, so that the first real one does not pay for start-up."""
        ...

    def padded_pixels(self, width: int, height: int) -> int:
        """Input pixels of a full pass at (width, height), as results count them."""
        ...


class EventSource(Protocol):
    """Where the pipeline takes a frame's events from."""

    def query(self, t0_ns: int, t1_ns: int) -> EventBatch | None: ...

    @property
    def newest_ns(self) -> int | None: ...

    @property
    def sensor_size(self) -> tuple[int, int] | None: ...


class RecordedEvents:
    """A whole recording's time-sorted events as an :class:`EventSource` (``ness eval``'s
    sequences): every event is there from the start."""

    def __init__(self, batch: EventBatch) -> None:
        self.batch = batch

    def query(self, t0_ns: int, t1_ns: int) -> EventBatch:
        return self.batch.time_slice(t0_ns, t1_ns)

    @property
    def newest_ns(self) -> int | None:
        return int(self.batch.t[-1]) if len(self.batch) else None

    @property
    def sensor_size(self) -> tuple[int, int]:
        return self.batch.width, self.batch.height


def _quiet(kind: str, message: str) -> None:
    """The default sink of notices: nothing (offline tools count instead)."""


class FramePipeline:
    """Event intake, stamp rules, event window, working resolution and segmenter of one stream.

    Args:
        segmenter: the model's segmenter.
        rescalers: the working resolution (its ``model_size`` is the model card's).
        events: an :class:`EventStream` (messages) or a recording's :class:`EventSource`.
        live_tolerance_s: frame stamps within this of the clock are live (:class:`StampGuard`,
            used when :meth:`admit` is given the clock).
        loop_tolerance_s: see the module's stamp rules.
        notify: ``notify(kind, message)`` of what the caller may want to log: ``event_reset``,
            ``frame_reset`` and ``image_size`` (warnings: a node logs them at a limited rate
            per kind) and ``resolution`` (the working resolution, made for a new sensor size).
    """

    def __init__(self, segmenter: Segmenter, rescalers: SensorRescaler,
                 events: EventStream | EventSource, *, live_tolerance_s: float = 5.0,
                 loop_tolerance_s: float = LOOP_TOLERANCE_S,
                 notify: Callable[[str, str], None] = _quiet) -> None:
        self.segmenter = segmenter
        self.base_encoder = segmenter.encoder
        self.rescalers = rescalers
        self.events: EventStream | EventSource = events
        self.loop_tolerance_ns = int(loop_tolerance_s * 1e9)
        self.frame_guard = StampGuard(int(live_tolerance_s * 1e9))
        self.notify = notify
        self.lock = threading.Lock()
        #: Handled (not rejected) situations: ``frame_time_resets``, ``image_size_changes``.
        self.counts: Counter[str] = Counter()
        self._admitted_ns: int | None = None
        self._frame_size: tuple[int, int] | None = None
        self._segmented_ns: int | None = None
        self._events_through_ns = 0
        #: The events the last :meth:`segment` gave the segmenter (at the sensor's resolution).
        self.last_events: EventBatch | None = None

    # -- events -----------------------------------------------------------------------------
    def replace_events(self, events: EventStream | EventSource) -> None:
        """Serve events from another source from now on (a node's event type became known)."""
        with self.lock:
            self.events = events
            self._events_through_ns = 0

    def push_events(self, data: bytes | memoryview, now_ns: int | None = None) -> PushResult:
        """Decode and buffer one serialized event message (``now_ns``: the clock, for the
        live-stamp check).

        Raises:
            InputError: the message is rejected whole (see ``EventStream.push``).
        """
        with self.lock:
            stream = self.events
            if not isinstance(stream, EventStream):
                raise TypeError("recorded events take no messages")
            result = stream.push(data, now_ns)
            newest = stream.newest_ns or 0
            before = 0 if result.reset else self._events_through_ns
            self._events_through_ns = max(before, result.header.stamp_ns, newest)
        if result.reset:
            self.notify("event_reset", f"{result.reset}: event buffer reset")
        return result

    def events_complete(self, stamp_ns: int) -> bool:
        """Whether the events up to ``stamp_ns`` have all arrived (recorded events always)."""
        with self.lock:
            if not isinstance(self.events, EventStream):
                return True  # a recording
            return self.events.newest_ns is not None and self._events_through_ns >= stamp_ns

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the images the masks are made from: the last admitted frame's,
        or the event sensor's (event-only); None while unknown."""
        return self._frame_size or self.events.sensor_size

    # -- frames -----------------------------------------------------------------------------
    def admit(self, stamp_ns: int, *, now_ns: int | None = None,
              size: tuple[int, int] | None = None) -> None:
        """Check a frame (or trigger) stamp as it arrives; ``size`` is the frame's (width,
        height), None for a trigger without pixels.

        Raises:
            InputError: ``stamp``, ``duplicate_stamp``, ``out_of_order`` or
                ``sensor_mismatch``; the frame is not segmented.
        """
        if now_ns is not None:
            self.frame_guard.check(stamp_ns, now_ns)
        last = self._admitted_ns
        if stamp_ns == last:
            raise InputError("duplicate_stamp", f"stamp {stamp_ns} ns repeats the previous "
                                                "frame's")
        if last is not None and last - self.loop_tolerance_ns <= stamp_ns < last:
            raise InputError("out_of_order", f"stamp {stamp_ns} ns is "
                                             f"{(last - stamp_ns) / 1e6:.1f} ms before the "
                                             "previous frame's")
        if size is not None:
            with self.lock:
                sensor = self.events.sensor_size
            if sensor is not None and sensor != size:
                raise InputError("sensor_mismatch", f"image {size[0]} x {size[1]} differs from "
                                                    f"the event sensor {sensor[0]} x {sensor[1]}")
            if self._frame_size is not None and size != self._frame_size:
                self.counts["image_size_changes"] += 1
                self.notify("image_size", f"image size changed from {self._frame_size[0]} x "
                                        f"{self._frame_size[1]} to {size[0]} x {size[1]}: "
                                        "next frame is a keyframe")
            self._frame_size = size
        self._admitted_ns = stamp_ns

    def window_start(self, stamp_ns: int) -> int:
        """Start of the events the frame at ``stamp_ns`` is segmented with."""
        start = stamp_ns - self.base_encoder.event_window_ns
        last = self._segmented_ns
        if self.segmenter.needs_events_since_previous and last is not None and stamp_ns > last:
            start = min(start, last)
        return start

    def segment(self, stamp_ns: int, frame: NDArray[np.uint8] | None = None
                ) -> SegmentationResult | None:
        """Segment the admitted frame (or event-only trigger) at ``stamp_ns`` with its events;
        the mask is at the published resolution. None: an event-only trigger before the first
        event (a frame is segmented without events then).

        Raises:
            InputError: ``duplicate_stamp`` (segmented already), ``sensor_mismatch`` (the
                events' sensor differs from the frame) or ``roi`` (the roi does not fit).
        """
        last = self._segmented_ns
        if last is not None and stamp_ns < last:
            self.counts["frame_time_resets"] += 1
            self.notify("frame_reset", f"frame stamp went back by {(last - stamp_ns) / 1e9:.3f} s "
                                     "(bag loop?): state reset")
            self.segmenter.reset()
            self._segmented_ns = None
        elif stamp_ns == last:
            raise InputError("duplicate_stamp", f"stamp {stamp_ns} ns was segmented already")
        t0 = self.window_start(stamp_ns)
        with self.lock:
            events = self.events.query(t0, stamp_ns)
        if events is None:
            if frame is None:
                return None
            events = EventBatch.empty(frame.shape[1], frame.shape[0])
        elif frame is not None and (events.width, events.height) != (frame.shape[1],
                                                                     frame.shape[0]):
            raise InputError("sensor_mismatch", f"event sensor {events.width} x {events.height} "
                                                f"differs from the image {frame.shape[1]} x "
                                                f"{frame.shape[0]}")
        self._segmented_ns = stamp_ns
        self.last_events = events
        start = time.perf_counter()
        rescaler = self.rescaler((events.width, events.height))
        working_frame = None if frame is None else rescaler.frame(frame)
        working_events = rescaler.events(events)
        rescale_ms = (time.perf_counter() - start) * 1e3
        result = self.segmenter.segment(working_frame, stamp_ns, working_events)
        start = time.perf_counter()
        result.mask = rescaler.mask(result.mask)
        # Resizing is part of the input's making; bringing the mask back, of its pasting.
        result.stage_ms["represent"] += rescale_ms
        result.stage_ms["paste"] += (time.perf_counter() - start) * 1e3
        return result

    def rescaler(self, sensor_size: tuple[int, int]) -> Rescaler:
        """The working resolution for a sensor of ``sensor_size``, made again when the size
        changes; the segmenter's encoder then weighs binned counts as counts per sensor pixel.

        Raises:
            InputError: ``roi``: the roi does not fit in the sensor.
        """
        try:
            rescaler, made = self.rescalers.for_sensor(sensor_size)
        except ValueError as exc:
            raise InputError("roi", str(exc)) from exc
        if made:
            self.segmenter.encoder = rescaler.encoder(self.base_encoder)
            self.notify("resolution", rescaler.describe())
        return rescaler

    def diagnostics(self) -> dict[str, object]:
        """The pipeline's counters for /diagnostics: event intake, frame resets, resolution."""
        stream = self.events
        values: dict[str, object] = {
            "frame_time_resets": self.counts["frame_time_resets"],
            "image_size_changes": self.counts["image_size_changes"],
            "resolution": self.rescalers.describe(),
        }
        if isinstance(stream, EventStream):
            counts = stream.counts
            values.update({
                "event_messages": counts["messages"], "events_received": counts["events"],
                "events_empty_messages": counts["empty_messages"],
                "events_dropped_buffer": stream.dropped_events,
                "events_dropped_overflow": counts["overflow"],
                "events_out_of_bounds": counts["out_of_bounds"],
                "events_lost_packets": stream.lost_packets,
                "events_late": counts["late"],
                "event_time_resets": counts["resets"],
                "trigger_events": stream.trigger_events,
            })
        return values
