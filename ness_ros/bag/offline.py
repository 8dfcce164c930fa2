"""Offline evaluation of a bag: read with rosbags, decode with our codecs, no DDS.

Messages are taken in receive-time order through the nodes' own frame path
(:class:`~ness_ros.segmentation.pipeline.FramePipeline`: event decoding and buffering, the stamp
rules, the event window, the working resolution). A frame is segmented once the events have
reached its stamp (or the bag has moved ``event_lag_s`` past it, or ended), with the events the
node would use. A message the node would reject is counted (``rejected_messages``, by kind in
the report's details) and skipped. Mode
``hybrid`` runs :class:`HybridSegmenter`; ``events`` runs :class:`EventSegmenter` at every frame
stamp; when the bag has no frames, at every label stamp (event-only data sets such as
DSEC-Semantic, imported by ``ness bag import dsec``), or every ``period_s`` of event time when it
has no labels either. Masks are matched with
labels by stamp. ROS-free.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from ness_ros.bag.errors import BagError
from ness_ros.bag.reader import BagTopics, bag_info, read_messages
from ness_ros.bag.report import BagReport, events_image, latency_stats, per_class
from ness_ros.events.errors import EventError, InputError
from ness_ros.events.image_codec import decode_image_cdr, to_mono8
from ness_ros.events.stream import EventStream, decode_frame
from ness_ros.labels import CLASS_NAMES
from ness_ros.segmentation.event_only import EventSegmenter
from ness_ros.segmentation.guided import GuidedUpsampling
from ness_ros.segmentation.hybrid import GatingConfig, HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.online_eval import OnlineEvaluator
from ness_ros.segmentation.overlay import overlay_row
from ness_ros.segmentation.pipeline import FramePipeline, Segmenter
from ness_ros.segmentation.working_resolution import SensorRescaler, WorkingResolution

MODES = ("hybrid", "events")


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate.

    Attributes:
        mode: ``hybrid`` (frames + events) or ``events`` (event-only model).
        gating: the hybrid method's threshold, grid and keyframe policy.
        period_s: events mode without frames: a mask every this much event time, s.
        event_lag_s: a frame waits at most this much bag time for its events, s.
        overlay_count: rows of the overlay strip.
        event_buffer_seconds, event_buffer_max_events: the event buffer's bounds (as the nodes).
        device: torch device.
        guided: the hybrid segmenter's guided upsampling (None: the model's bilinear logits).
        working: the resolution the model runs at, as the nodes' ``working_size``, roi and
            ``mask_resolution`` (masks must stay at the sensor's to be scored against labels).
        progress: show a progress bar.
    """

    mode: str = "hybrid"
    gating: GatingConfig = field(default_factory=GatingConfig)
    period_s: float = 0.05
    event_lag_s: float = 0.05
    overlay_count: int = 4
    event_buffer_seconds: float = 2.0
    event_buffer_max_events: int = 5_000_000
    device: str = "cpu"
    guided: GuidedUpsampling | None = None
    working: WorkingResolution = field(default_factory=WorkingResolution)
    progress: bool = True


class _Run:
    """State of one pass over a bag."""

    def __init__(self, model: torch.nn.Module, card, topics: BagTopics, options: EvalOptions,
                 expected_masks: int) -> None:
        self.options, self.topics = options, topics
        encoder = InputEncoder.from_card(card)
        self.window_ns = encoder.event_window_ns
        segmenter: Segmenter
        if options.mode == "hybrid":
            segmenter = HybridSegmenter(model, encoder, options.gating, device=options.device,
                                        guided=options.guided)
        else:
            segmenter = EventSegmenter(model, encoder, device=options.device)
        stream = EventStream(topics.event_message or "dvs",
                             max_events=options.event_buffer_max_events,
                             max_seconds=options.event_buffer_seconds)
        self.pipeline = FramePipeline(segmenter, SensorRescaler(options.working, card.input_size),
                                      stream)
        self.stream = stream
        self.class_names = list(card.class_names or CLASS_NAMES)  # what the masks label
        self.evaluator = OnlineEvaluator(len(self.class_names))
        self.pending: deque[tuple[int, NDArray[np.uint8] | None]] = deque()
        self.period_ns = int(round(options.period_s * 1e9))
        self.next_trigger: int | None = None
        self.segment_ms: list[float] = []
        self.recomputed: list[float] = []
        self.keyframes = self.events = 0
        self.rejected_kinds: Counter[str] = Counter()
        self.every = max(1, expected_masks // max(1, options.overlay_count))
        self.overlays: dict[int, list] = {}
        self.recent_labels: dict[int, NDArray[np.uint8]] = {}

    def reject(self, stream: str, exc: EventError) -> None:
        self.rejected_kinds[f"{stream}_{getattr(exc, 'kind', 'malformed')}"] += 1

    def on_events(self, data: bytes) -> None:
        try:
            self.events += self.pipeline.push_events(data).events
        except EventError as exc:
            self.reject("events", exc)
            return
        newest = self.stream.newest_ns
        if self.topics.image is None and self.topics.labels is None and newest is not None:
            if self.next_trigger is None:
                assert self.stream.buffer is not None  # events were buffered
                self.next_trigger = int(self.stream.buffer.oldest_ns or newest) + self.period_ns
            while self.next_trigger <= newest:
                self.trigger(self.next_trigger)
                self.next_trigger += self.period_ns

    def trigger(self, stamp: int, rgb: NDArray[np.uint8] | None = None) -> None:
        """A frame (or a stamp to segment at) arrives: the pipeline's stamp rules, then queued
        until its events are complete."""
        size = None if rgb is None or self.options.mode != "hybrid" else (rgb.shape[1],
                                                                           rgb.shape[0])
        try:
            self.pipeline.admit(stamp, size=size)
        except InputError as exc:
            self.reject("image", exc)
            return
        self.pending.append((stamp, rgb))

    def on_frame(self, data: bytes) -> None:
        try:
            rgb, header, _ = decode_frame(data)
        except EventError as exc:
            self.reject("image", exc)
            return
        self.trigger(header.stamp_ns, rgb)

    def on_label(self, data: bytes) -> None:
        try:
            pixels, encoding, header = decode_image_cdr(data)
            label = to_mono8(pixels, encoding)
        except EventError as exc:
            self.reject("labels", exc)
            return
        self.evaluator.add_label(header.stamp_ns, label)
        if self.topics.image is None:  # no frames: a mask at every label (event-only data sets)
            self.trigger(header.stamp_ns)
        if header.stamp_ns in self.overlays:
            self.overlays[header.stamp_ns][2] = label
        self.recent_labels[header.stamp_ns] = label
        while len(self.recent_labels) > 64:
            self.recent_labels.pop(next(iter(self.recent_labels)))

    def flush(self, bag_time_ns: int, final: bool = False) -> None:
        lag = int(self.options.event_lag_s * 1e9)
        while self.pending:
            stamp, rgb = self.pending[0]
            if not (final or self.pipeline.events_complete(stamp)
                    or bag_time_ns >= stamp + lag):
                return
            self.pending.popleft()
            self._segment(stamp, rgb)

    def _segment(self, stamp: int, rgb: NDArray[np.uint8] | None) -> None:
        start = time.perf_counter()
        try:
            result = self.pipeline.segment(stamp, rgb if self.options.mode == "hybrid" else None)
        except InputError as exc:
            if exc.kind == "roi":  # every frame would fail: the user's options are wrong
                raise BagError(f"working resolution: {exc}") from exc
            self.reject("image", exc)
            return
        if result is None:  # events mode before the first event
            return
        self.segment_ms.append((time.perf_counter() - start) * 1e3)
        if self.options.mode == "hybrid" and not result.reset:
            self.recomputed.append(result.recomputed_fraction)
        self.keyframes += int(result.keyframe)
        self.evaluator.add_mask(stamp, result.mask, time.monotonic())
        if (len(self.segment_ms) - 1) % self.every == 0 and \
                len(self.overlays) < self.options.overlay_count:
            events = self.pipeline.last_events
            assert events is not None  # set by every segment call that returns a result
            picture = rgb if rgb is not None else events_image(
                events.time_slice(stamp - self.window_ns, stamp))
            self.overlays[stamp] = [picture, result.mask, self.recent_labels.get(stamp)]


def evaluate_bag(path: str | Path, model: torch.nn.Module, card, topics: BagTopics,
                 options: EvalOptions) -> BagReport:
    """Evaluate ``model`` (with its model card) on the bag at ``path``.

    Raises:
        BagError: the mode needs a topic the bag lacks, or frames and events disagree in size.
    """
    if options.mode not in MODES:
        raise BagError(f"mode must be one of {MODES}, got {options.mode!r}")
    if options.mode == "hybrid" and topics.image is None:
        raise BagError(f"{path}: hybrid mode needs an image topic; the bag has none")
    if options.mode == "events" and topics.events is None:
        raise BagError(f"{path}: events mode needs an event topic; the bag has none")
    info = bag_info(path)
    expected = (topics.counts[topics.image] if topics.image else
                int(info.duration_s / options.period_s))
    run = _Run(model, card, topics, options, expected)
    handlers = {topics.events: run.on_events, topics.image: run.on_frame,
                topics.labels: run.on_label}
    total = sum(topics.counts.values())
    wall0 = time.perf_counter()
    with tqdm(total=total, desc="bag eval", unit="msg", disable=not options.progress,
              leave=False) as bar:
        bag_time = info.start_ns
        for topic, bag_time, data in read_messages(path, topics.names()):
            handlers[topic](data)
            run.flush(bag_time)
            bar.update()
        run.flush(bag_time, final=True)
    wall = time.perf_counter() - wall0
    return _report(path, info.duration_s, topics, options, run, wall)


def _report(path, duration_s: float, topics: BagTopics, options: EvalOptions, run: _Run,
            wall: float) -> BagReport:
    summary = run.evaluator.summary()
    masks = len(run.segment_ms)
    stats = latency_stats(run.segment_ms)
    figures = {
        "mode": options.mode, "masks": masks, "frames_evaluated": summary.frames_evaluated,
        "miou": summary.miou, "pixel_accuracy": summary.pixel_accuracy,
        "frames_per_s": masks / wall if wall else 0.0,
        "segment_frames_per_s": masks / (sum(run.segment_ms) / 1e3) if masks else 0.0,
        "events": run.events, "events_per_s": run.events / wall if wall else 0.0,
        "recording_s": duration_s,
        "recording_events_per_s": run.events / duration_s if duration_s else float("nan"),
        "segment_ms_p50": stats["p50"], "segment_ms_p95": stats["p95"],
        "segment_ms_max": stats["max"], "wall_s": wall, "keyframes": run.keyframes,
        "recomputed_fraction_mean": float(np.mean(run.recomputed)) if run.recomputed
        else float("nan"),
        "rejected_messages": sum(run.rejected_kinds.values()),
        "unscored_pixels": summary.unscored_pixels,
        "resolution": run.pipeline.rescalers.describe(),
    }
    has_labels = topics.labels is not None and summary.frames_evaluated > 0
    rows = [overlay_row(f, m, lab) for f, m, lab in run.overlays.values()]
    return BagReport(
        kind="offline", title=f"ness bag eval {Path(path).name}: {options.mode}",
        figures=figures,
        per_class_iou=per_class(summary.per_class_iou, run.class_names) if has_labels else {},
        confusion=run.evaluator.confusion.copy() if has_labels else None,
        latencies_ms=run.segment_ms, latency_label="segmentation time per mask (ms)",
        overlays=rows,
        details={"bag": str(path), "topics": topics.__dict__, "gating": options.gating.__dict__,
                 "guided_upsampling": options.guided.__dict__ if options.guided else None,
                 "event_counts": dict(run.stream.counts),
                 "rejected": dict(run.rejected_kinds)})
