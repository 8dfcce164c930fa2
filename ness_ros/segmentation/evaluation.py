"""Offline evaluation of the segmenters on sequences: the code behind ``ness eval`` and the sweep.

Frames are fed in stamp order to the same :class:`HybridSegmenter` / :class:`EventSegmenter`
that the nodes run, so the figures describe the nodes' algorithm. Time is measured around each
``segment`` call (model inputs, gating, inference and pasting; no message handling).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ness_ros.data.sequence import SyntheticSequence
from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import (
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from ness_ros.models.ops import WorkReport, measure_work
from ness_ros.segmentation.ceiling import DecisionReplay
from ness_ros.segmentation.event_only import EventSegmenter
from ness_ros.segmentation.guided import GuidedUpsampling
from ness_ros.segmentation.hybrid import GatingConfig, HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.working_resolution import Rescaler


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
                    sequence: SyntheticSequence, frames: Sequence[int],
                    rescaler: Rescaler | None = None) -> WorkReport:
    """Work of one full-frame pass, averaged over ``frames`` of ``sequence`` (real inputs, so
    spike counts are the model's real ones), at the working resolution of ``rescaler``."""
    reports = []
    all_events, encoder = _at_working_resolution(sequence, encoder, rescaler)
    for i in frames:
        events = torch.from_numpy(encoder.event_tensor(all_events,
                                                       int(sequence.stamps_ns[i])))[:, None]
        if encoder.frame_channels:
            image = sequence.frames[i] if rescaler is None else rescaler.frame(sequence.frames[i])
            frame = torch.from_numpy(encoder.frame_tensor(image))[None]
            reports.append(measure_work(model, frame, events))
        else:
            reports.append(measure_work(model, events))
    keys = ("macs", "synops", "energy_mac_j", "energy_ac_j", "energy_total_j", "spike_rate")
    mean = {k: float(np.mean([getattr(r, k) for r in reports])) for k in keys}
    return WorkReport(params=reports[0].params, **mean)


def evaluate_hybrid(model: torch.nn.Module, encoder: InputEncoder,
                    sequences: Sequence[SyntheticSequence], gating: GatingConfig, *,
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
    report's ``extra["ceiling_miou"]``. The report's ``extra`` always holds the mean time per
    frame of each stage (``<stage>_ms``).
    ``paired_with``: a second segmenter with this gating (the full pass, say) segments every
    frame too, right before or after this one in turn, so that both are timed under the same
    load of the machine; ``extra["paired_speedup"]`` is its time over this one's. (On this
    shared 2-core machine, frames/s of runs a minute apart drifted by 30 %.)
    ``rescaler``: sequences rendered at a sensor size other than the model's run at the working
    resolution as the nodes run them (events binned, frames resized, masks scored at the
    sensor's resolution); not with ``ceiling`` or ``paired_with``."""
    if rescaler is not None and (ceiling or paired_with is not None):
        raise ValueError("a working resolution is evaluated without ceiling or paired timing")
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    times, recomputed, pixels, keyframes = [], [], [], 0
    stage_ms: dict[str, list[float]] = {}
    replays: list[DecisionReplay] = []
    paired_times: list[float] = []
    total = sum(len(s) for s in sequences)
    bar = tqdm(total=total, desc=name or f"theta {gating.theta:g}", disable=not progress,
               leave=False)
    for seq in sequences:
        events, seq_encoder = _at_working_resolution(seq, encoder, rescaler)
        seg = HybridSegmenter(model, seq_encoder, gating, device=device, guided=guided)
        masks = np.empty_like(seq.labels) if masks_out is not None else None
        if ceiling:
            replays.append(DecisionReplay(gating.reuse, gating.flow_preset))
        twin = None if paired_with is None else HybridSegmenter(model, encoder, paired_with,
                                                                device=device, guided=guided)
        for i in range(len(seq)):
            stamp = int(seq.stamps_ns[i])
            if twin is not None and i % 2 == 0:
                paired_times.append(_timed(twin, seq, i))
            frame = seq.frames[i] if rescaler is None else rescaler.frame(seq.frames[i])
            start = time.perf_counter()
            result = seg.segment(frame, stamp, events)
            times.append(time.perf_counter() - start)
            if rescaler is not None:
                result.mask = rescaler.mask(result.mask)
            if twin is not None and i % 2 == 1:
                paired_times.append(_timed(twin, seq, i))
            for stage, ms in result.stage_ms.items():
                stage_ms.setdefault(stage, []).append(ms)
            if ceiling:
                replays[-1].add(seq.frames[i], seq.labels[i], result)
            confusion += confusion_matrix(result.mask, seq.labels[i], NUM_CLASSES,
                                          ignore=IGNORE_LABEL)
            keyframes += int(result.keyframe)
            if masks is not None:
                masks[i] = result.mask
            if not result.reset:  # the first frame of a sequence is a keyframe by necessity
                recomputed.append(result.recomputed_fraction)
            pixels.append(result.pixels_computed / seg.padded_pixels(frame.shape[1],
                                                                     frame.shape[0]))
            bar.update()
        if masks_out is not None:
            assert masks is not None  # allocated whenever masks_out is given
            masks_out.append(masks)
    bar.close()
    report = _report(name or f"theta={gating.theta:g}", confusion, times, recomputed, keyframes,
                     pixels, work)
    report.extra.update({f"{stage}_ms": float(np.mean(v)) for stage, v in stage_ms.items()})
    if replays:
        report.extra["ceiling_miou"] = float(mean_iou(sum(r.confusion for r in replays)))
    if paired_times:
        report.extra["paired_speedup"] = float(np.sum(paired_times) / np.sum(times))
    return report


def _at_working_resolution(seq: SyntheticSequence, encoder: InputEncoder,
                           rescaler: Rescaler | None) -> tuple:
    """(events, encoder) of ``seq`` for the model: as they are, or binned with the encoder
    that weighs binned counts (:meth:`Rescaler.encoder`)."""
    if rescaler is None:
        return seq.events, encoder
    return rescaler.events(seq.events), rescaler.encoder(encoder)


def _timed(segmenter: HybridSegmenter, seq: SyntheticSequence, i: int) -> float:
    start = time.perf_counter()
    segmenter.segment(seq.frames[i], int(seq.stamps_ns[i]), seq.events)
    return time.perf_counter() - start


def evaluate_events(model: torch.nn.Module, encoder: InputEncoder,
                    sequences: Sequence[SyntheticSequence], *, work: WorkReport | None = None,
                    progress: bool = False, device: str = "cpu",
                    rescaler: Rescaler | None = None) -> EvalReport:
    """Run the EventSegmenter at every frame stamp of ``sequences`` (at the working resolution
    of ``rescaler``, as :func:`evaluate_hybrid`)."""
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    times, pixels = [], []
    total = sum(len(s) for s in sequences)
    bar = tqdm(total=total, desc="events", disable=not progress, leave=False)
    for seq in sequences:
        events, seq_encoder = _at_working_resolution(seq, encoder, rescaler)
        seg = EventSegmenter(model, seq_encoder, device=device)
        for i in range(len(seq)):
            start = time.perf_counter()
            result = seg.segment(events, int(seq.stamps_ns[i]))
            times.append(time.perf_counter() - start)
            if rescaler is not None:
                result.mask = rescaler.mask(result.mask)
            confusion += confusion_matrix(result.mask, seq.labels[i], NUM_CLASSES,
                                          ignore=IGNORE_LABEL)
            pixels.append(1.0)
            bar.update()
    bar.close()
    return _report("event-only", confusion, times, [], len(times), pixels, work)
