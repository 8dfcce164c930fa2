"""Offline evaluation of the segmenters on sequences: the code behind ``ness eval`` and the sweep.

Frames are fed in stamp order through the :class:`~ness_ros.segmentation.pipeline.FramePipeline`
and the :class:`HybridSegmenter` / :class:`EventSegmenter` that the nodes run, so the figures
describe the nodes' algorithm. Time is measured around each ``FramePipeline.segment`` call (the
event window, model inputs, gating, inference and pasting; no message handling, and no reading
of a frame, a label or, for a real recording, its events from their files).

A sequence (:class:`EvalSequence`) is a synthetic drive, held in memory with all its events, or
a real recording such as :class:`~ness_ros.data.dsec_eval.DsecEvalSequence`, which reads its
frames and labels when asked and serves its events window by window from its own
``event_source`` (real recordings hold tens of millions of events). Confusion matrices have the
model's class count (its ``num_classes``: the card's classes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from ness_ros.events.batch import EventBatch
from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import (
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from ness_ros.models.ops import WorkReport, measure_work
from ness_ros.segmentation.ceiling import DecisionReplay, ceiling_bounds
from ness_ros.segmentation.event_only import EventSegmenter
from ness_ros.segmentation.guided import GuidedUpsampling
from ness_ros.segmentation.hybrid import GatingConfig, HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.pipeline import EventSource, FramePipeline, RecordedEvents, Segmenter
from ness_ros.segmentation.result import SegmentationResult
from ness_ros.segmentation.working_resolution import (
    Rescaler,
    SensorRescaler,
    WorkingResolution,
)


class Images(Protocol):
    """A sequence's frames or labels, ``images[i]``: an (N, H, W[, 3]) array or images read
    when asked for."""

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> NDArray[np.uint8]: ...


class EvalSequence(Protocol):
    """What the evaluation reads of a sequence: ``frames`` (RGB) and ``labels`` (255:
    ignored) in time order, their ``stamps_ns``, the sensor's ``width`` and ``height``, and
    the events: the whole recording as ``events``, or None when the sequence has an
    ``event_source`` (an :class:`~ness_ros.segmentation.pipeline.EventSource`) that reads
    each window when asked."""

    @property
    def frames(self) -> Images: ...

    @property
    def labels(self) -> Images: ...

    @property
    def stamps_ns(self) -> NDArray[np.int64]: ...

    @property
    def events(self) -> EventBatch | None: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def __len__(self) -> int: ...


class SourceEvents:
    """A recording's events served from its own :class:`EventSource`, window by window (a file
    read per query) rather than from one batch in memory; like :class:`RecordedEvents`, every
    event is there from the start.

    :meth:`prefetch` reads a window ahead, so that the evaluation can read it outside the time
    it measures: a node gets its events from messages, not from a file."""

    def __init__(self, source: EventSource) -> None:  # no batch: the source holds the events
        self.source = source
        self._ahead: tuple[int, int, EventBatch] | None = None

    def prefetch(self, t0_ns: int, t1_ns: int) -> None:
        """Read the window ``[t0_ns, t1_ns)`` now; the next query of it is answered from it."""
        self._ahead = (t0_ns, t1_ns, self._read(t0_ns, t1_ns))

    def query(self, t0_ns: int, t1_ns: int) -> EventBatch:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[:2] == (t0_ns, t1_ns):
            return ahead[2]
        return self._read(t0_ns, t1_ns)

    def _read(self, t0_ns: int, t1_ns: int) -> EventBatch:
        batch = self.source.query(t0_ns, t1_ns)
        if batch is None:
            raise ValueError("a recording's event source answered no batch")
        return batch

    @property
    def newest_ns(self) -> int | None:
        return self.source.newest_ns

    @property
    def sensor_size(self) -> tuple[int, int]:
        size = self.source.sensor_size
        if size is None:
            raise ValueError("a recording's event source has no sensor size")
        return size


def recorded_events(seq: EvalSequence) -> EventSource:
    """The events of ``seq`` as the pipeline takes them: its own event source when it has one,
    else its whole recording."""
    source: EventSource | None = getattr(seq, "event_source", None)
    if source is not None:
        return SourceEvents(source)
    if seq.events is None:
        raise ValueError("a sequence needs its events or an event source")
    return RecordedEvents(seq.events)


def model_classes(model: torch.nn.Module) -> int:
    """The model's class count (its ``num_classes``, the card's classes), six without one."""
    return int(getattr(model, "num_classes", 0)) or NUM_CLASSES


@dataclass
class EvalReport:
    """Accuracy, speed and work of one segmenter configuration over a set of frames."""

    name: str
    frames: int
    miou: float
    pixel_accuracy: float
    per_class_iou: list[float]
    confusion: list[list[int]]
    frames_per_s: float
    ms_per_frame_p50: float
    recomputed_fraction: float
    keyframes: int
    pixels_computed_fraction: float
    macs_per_frame: float = float("nan")
    synops_per_frame: float = float("nan")
    energy_per_frame_j: float = float("nan")
    extra: dict[str, float] = field(default_factory=dict)


def _report(name: str, confusion: np.ndarray, times: list[float], recomputed: list[float],
            keyframes: int, pixels: list[float], work: WorkReport | None) -> EvalReport:
    pixel_fraction = float(np.mean(pixels)) if pixels else float("nan")
    total = float(np.sum(times))
    report = EvalReport(
        name=name, frames=len(times), miou=float(mean_iou(confusion)),
        pixel_accuracy=pixel_accuracy(confusion),
        per_class_iou=[float(v) for v in per_class_iou(confusion)],
        confusion=confusion.tolist(), frames_per_s=len(times) / total if total else 0.0,
        ms_per_frame_p50=float(np.median(times) * 1e3) if times else float("nan"),
        recomputed_fraction=float(np.mean(recomputed)) if recomputed else float("nan"),
        keyframes=keyframes, pixels_computed_fraction=pixel_fraction)
    if work is not None:
        # Convolutions cost in proportion to the pixels they run on, so the work per frame is
        # the measured full-frame work scaled by the fraction of pixels computed.
        report.macs_per_frame = work.macs * pixel_fraction
        report.synops_per_frame = work.synops * pixel_fraction
        report.energy_per_frame_j = work.energy_total_j * pixel_fraction
    return report


def full_frame_work(model: torch.nn.Module, encoder: InputEncoder,
                    sequence: EvalSequence, frames: Sequence[int],
                    rescaler: Rescaler | None = None) -> WorkReport:
    """Work of one full-frame pass, averaged over ``frames`` of ``sequence`` (real inputs, so
    spike counts are the model's real ones), at the working resolution of ``rescaler``."""
    reports = []
    events = recorded_events(sequence)  # the events as the evaluation's pipeline reads them
    window_ns = encoder.event_window_ns
    if rescaler is not None:
        encoder = rescaler.encoder(encoder)
    for i in frames:
        stamp = int(sequence.stamps_ns[i])
        window = events.query(stamp - window_ns, stamp)
        if window is None:
            raise ValueError("a sequence needs its events or an event source")
        if rescaler is not None:
            window = rescaler.events(window)
        tensor = torch.from_numpy(encoder.event_tensor(window, stamp))[:, None]
        if encoder.frame_channels:
            image = sequence.frames[i] if rescaler is None else rescaler.frame(sequence.frames[i])
            frame = torch.from_numpy(encoder.frame_tensor(image))[None]
            reports.append(measure_work(model, frame, tensor))
        else:
            reports.append(measure_work(model, tensor))
    keys = ("macs", "synops", "energy_mac_j", "energy_ac_j", "energy_total_j", "spike_rate")
    mean = {k: float(np.mean([getattr(r, k) for r in reports])) for k in keys}
    return WorkReport(params=reports[0].params, **mean)


def evaluate_hybrid(model: torch.nn.Module, encoder: InputEncoder,
                    sequences: Sequence[EvalSequence], gating: GatingConfig, *,
                    name: str = "", work: WorkReport | None = None,
                    progress: bool = False, device: str = "cpu",
                    guided: GuidedUpsampling | None = None,
                    masks_out: list[np.ndarray] | None = None,
                    ceiling: bool = False,
                    paired_with: GatingConfig | None = None,
                    rescaler: Rescaler | None = None) -> EvalReport:
    """Run a fresh HybridSegmenter over every frame of ``sequences`` (each from its start).

    ``guided``: the segmenter's guided upsampling (None: the model's bilinear logits).
    ``masks_out``, when given, receives each sequence's masks as one (N, H, W) uint8 array.
    ``ceiling``: also replay the segmenter's decisions with ground truth pasted
    (:class:`~ness_ros.segmentation.ceiling.DecisionReplay`), outside the timed calls; the
    report's ``extra["ceiling_miou"]`` and ``extra["ceiling_miou_high"]``, the ends of its
    range where labels reused from unlabelled pixels are unknown (equal on fully labelled
    frames). The report's ``extra`` always holds the mean time per frame of each stage
    (``<stage>_ms``).
    ``paired_with``: a second segmenter with this gating (the full pass, say) segments every
    frame too, right before or after this one in turn, so that both are timed under the same
    load of the machine; ``extra["paired_speedup"]`` is its time over this one's. (On this
    shared 2-core machine, frames/s of runs a minute apart drifted by 30 %.)
    ``rescaler``: sequences rendered at a sensor size other than the model's run at the working
    resolution as the nodes run them (events binned, frames resized, masks scored at the
    sensor's resolution); not with ``ceiling`` or ``paired_with``.
    The confusion matrix has the model's class count (:func:`model_classes`)."""
    if rescaler is not None and (ceiling or paired_with is not None):
        raise ValueError("a working resolution is evaluated without ceiling or paired timing")

    def hybrid(config: GatingConfig) -> Callable[[], HybridSegmenter]:
        return lambda: HybridSegmenter(model, encoder, config, device=device, guided=guided)

    classes = model_classes(model)
    return _evaluate(name or f"theta={gating.theta:g}", sequences, hybrid(gating),
                     classes, uses_frames=True, work=work, progress=progress,
                     rescaler=rescaler, masks_out=masks_out,
                     ceiling=(lambda: DecisionReplay(gating.reuse, gating.flow_preset, classes))
                     if ceiling else None,
                     paired=None if paired_with is None else hybrid(paired_with),
                     desc=name or f"theta {gating.theta:g}")


def evaluate_events(model: torch.nn.Module, encoder: InputEncoder,
                    sequences: Sequence[EvalSequence], *, work: WorkReport | None = None,
                    progress: bool = False, device: str = "cpu",
                    rescaler: Rescaler | None = None) -> EvalReport:
    """Run the EventSegmenter at every frame stamp of ``sequences`` (at the working resolution
    of ``rescaler``, as :func:`evaluate_hybrid`)."""
    return _evaluate("event-only", sequences,
                     lambda: EventSegmenter(model, encoder, device=device),
                     model_classes(model), uses_frames=False,
                     work=work, progress=progress, rescaler=rescaler, desc="events")


def _evaluate(name: str, sequences: Sequence[EvalSequence],
              make_segmenter: Callable[[], Segmenter], num_classes: int, *, uses_frames: bool,
              work: WorkReport | None, progress: bool, rescaler: Rescaler | None, desc: str,
              masks_out: list[np.ndarray] | None = None,
              ceiling: Callable[[], DecisionReplay] | None = None,
              paired: Callable[[], Segmenter] | None = None) -> EvalReport:
    """Every frame of ``sequences`` through a fresh :class:`FramePipeline` per sequence, the
    nodes' path; the time of each :meth:`FramePipeline.segment` call is the frame's time."""
    confusion = np.zeros((num_classes, num_classes), np.int64)
    times: list[float] = []
    recomputed: list[float] = []
    pixels: list[float] = []
    keyframes = 0
    stage_ms: dict[str, list[float]] = {}
    paired_times: list[float] = []
    replays: list[DecisionReplay] = []
    bar = tqdm(total=sum(len(s) for s in sequences), desc=desc, disable=not progress,
               leave=False)
    for seq in sequences:
        pipeline = _pipeline(make_segmenter(), seq, rescaler)
        twin = None if paired is None else _pipeline(paired(), seq, None)
        masks = (np.empty((len(seq), seq.height, seq.width), np.uint8)
                 if masks_out is not None else None)
        replay = None if ceiling is None else ceiling()
        if replay is not None:
            replays.append(replay)
        for i in range(len(seq)):
            stamp = int(seq.stamps_ns[i])
            frame = seq.frames[i] if uses_frames else None
            label = seq.labels[i]
            if twin is not None and i % 2 == 0:
                paired_times.append(_timed(twin, stamp, frame)[1])
            result, seconds = _timed(pipeline, stamp, frame)
            times.append(seconds)
            assert result is not None  # recorded events: a result for every stamp
            if twin is not None and i % 2 == 1:
                paired_times.append(_timed(twin, stamp, frame)[1])
            for stage, ms in result.stage_ms.items():
                stage_ms.setdefault(stage, []).append(ms)
            if replay is not None:
                replay.add(seq.frames[i] if frame is None else frame, label, result)
            confusion += confusion_matrix(result.mask, label, num_classes, ignore=IGNORE_LABEL)
            keyframes += int(result.keyframe)
            if masks is not None:
                masks[i] = result.mask
            if uses_frames and not result.reset:  # a sequence's first frame is a keyframe
                recomputed.append(result.recomputed_fraction)
            working = pipeline.rescalers.current
            assert working is not None  # made by the first segment call
            pixels.append(result.pixels_computed / pipeline.segmenter.padded_pixels(*working.size))
            bar.update()
        if masks_out is not None:
            assert masks is not None  # allocated whenever masks_out is given
            masks_out.append(masks)
    bar.close()
    report = _report(name, confusion, times, recomputed, keyframes, pixels, work)
    if uses_frames:
        report.extra.update({f"{stage}_ms": float(np.mean(v)) for stage, v in stage_ms.items()})
    if replays:
        low, high = ceiling_bounds(np.sum([r.confusion for r in replays], axis=0),
                                   np.sum([r.unknown for r in replays], axis=0))
        report.extra.update(ceiling_miou=low, ceiling_miou_high=high)
    if paired_times:
        report.extra["paired_speedup"] = float(np.sum(paired_times) / np.sum(times))
    return report


def _pipeline(segmenter: Segmenter, seq: EvalSequence,
              rescaler: Rescaler | None) -> FramePipeline:
    """The pipeline of one sequence: its recorded events (:func:`recorded_events`), at the
    sensor's resolution or at ``rescaler``'s."""
    events = recorded_events(seq)
    if rescaler is None:
        rescalers = SensorRescaler(WorkingResolution("sensor"), (seq.width, seq.height))
    else:
        rescalers = SensorRescaler.fixed(rescaler)
    return FramePipeline(segmenter, rescalers, events)


def _timed(pipeline: FramePipeline, stamp: int, frame: np.ndarray | None
           ) -> tuple[SegmentationResult | None, float]:
    """Admit and segment the frame at ``stamp``: its result and the seconds ``segment`` took.
    A file-backed source reads the frame's events before the clock starts, so that the timed
    call finds them as a node's buffer holds them."""
    pipeline.admit(stamp)
    if isinstance(pipeline.events, SourceEvents):
        pipeline.events.prefetch(pipeline.window_start(stamp), stamp)
    start = time.perf_counter()
    result = pipeline.segment(stamp, frame)
    return result, time.perf_counter() - start
