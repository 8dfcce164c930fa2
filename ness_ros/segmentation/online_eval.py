"""Online evaluation: masks matched with ground-truth labels by stamp, metrics accumulated.

ROS-free: the segmentation_evaluator node and the replay evaluation feed it decoded arrays.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import (
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from ness_ros.segmentation.monitor import Percentiles


@dataclass
class EvaluationSummary:
    frames_evaluated: int
    masks_received: int
    masks_unmatched: int
    miou: float
    pixel_accuracy: float
    per_class_iou: list[float]
    confusion: list[list[int]]
    processing_latency_ms: dict[str, float]
    end_to_end_latency_ms: dict[str, float]
    recomputed_fraction_mean: float
    keyframes: int
    frames_per_s: float
    extra: dict[str, float] = field(default_factory=dict)
    #: The node's own waits and stage times per mask (queue, events_wait, represent, gate,
    #: inference, paste, publish): p50, p95 and max of each, from its latency messages.
    stage_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Labelled pixels a mask left unlabelled (255: outside the node's region of interest),
    #: not scored.
    unscored_pixels: int = 0


class StampMatcher:
    """Pairs masks and labels that carry the same stamp, whichever arrives first.

    Keeps at most ``capacity`` unmatched items of each kind (oldest forgotten first).
    """

    def __init__(self, capacity: int = 200) -> None:
        self.capacity = capacity
        self._masks: OrderedDict[int, NDArray[np.uint8]] = OrderedDict()
        self._labels: OrderedDict[int, NDArray[np.uint8]] = OrderedDict()

    def add_mask(self, stamp_ns: int, mask: NDArray[np.uint8]):
        return self._add(stamp_ns, mask, self._masks, self._labels, mask_first=True)

    def add_label(self, stamp_ns: int, label: NDArray[np.uint8]):
        return self._add(stamp_ns, label, self._labels, self._masks, mask_first=False)

    def _add(self, stamp, item, mine, theirs, *, mask_first: bool):
        other = theirs.pop(stamp, None)
        if other is not None:
            return (item, other) if mask_first else (other, item)
        mine[stamp] = item
        while len(mine) > self.capacity:
            mine.popitem(last=False)
        return None

    def pending_masks(self) -> int:
        return len(self._masks)


class OnlineEvaluator:
    """Accumulates the confusion matrix, latency and work of a stream of masks."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        self.num_classes = num_classes
        self.matcher = StampMatcher()
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        self.frames = 0
        self.masks = 0
        self.size_mismatches = 0
        self.unscored_pixels = 0
        self.processing = Percentiles(window=100_000)
        self.end_to_end = Percentiles(window=100_000)
        self.recomputed: list[float] = []
        self.keyframes = 0
        self.stages: dict[str, Percentiles] = {}
        self.first_mask_s: float | None = None
        self.last_mask_s: float | None = None

    def use_classes(self, num_classes: int) -> None:
        """Score ``num_classes`` classes from now on (the model's, once known); only before
        the first scored frame, whose confusion matrix has the old size."""
        if self.frames and num_classes != self.num_classes:
            raise ValueError(f"{self.frames} frames were scored on {self.num_classes} classes")
        self.num_classes = num_classes
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)

    def add_mask(self, stamp_ns: int, mask: NDArray[np.uint8], now_s: float):
        """Add a published mask; returns (mask, label) when it completed a pair, else None."""
        self.masks += 1
        self.first_mask_s = now_s if self.first_mask_s is None else self.first_mask_s
        self.last_mask_s = now_s
        return self._score(self.matcher.add_mask(stamp_ns, mask))

    def add_label(self, stamp_ns: int, label: NDArray[np.uint8]):
        """Add a ground-truth label; returns (mask, label) when it completed a pair."""
        return self._score(self.matcher.add_label(stamp_ns, label))

    def add_latency(self, processing_ms: float, end_to_end_ms: float, regions_recomputed: int,
                    regions_total: int, keyframe: bool,
                    stage_ms: dict[str, float] | None = None) -> None:
        self.processing.add(processing_ms)
        for stage, ms in (stage_ms or {}).items():
            self.stages.setdefault(stage, Percentiles(window=100_000)).add(ms)
        if end_to_end_ms == end_to_end_ms:  # NaN when stamps are not live
            self.end_to_end.add(end_to_end_ms)
        if regions_total:
            self.recomputed.append(regions_recomputed / regions_total)
        self.keyframes += int(keyframe)

    def _score(self, pair):
        if pair is None:
            return None
        mask, label = pair
        if mask.shape != label.shape:
            self.size_mismatches += 1
            return None
        unlabelled = mask == IGNORE_LABEL
        if unlabelled.any():  # outside a region of interest: not scored, counted
            scored = label.copy()
            scored[unlabelled] = IGNORE_LABEL
            self.unscored_pixels += int(np.count_nonzero(label != scored))
            label = scored
        self.confusion += confusion_matrix(mask, label, self.num_classes, ignore=IGNORE_LABEL)
        self.frames += 1
        return pair

    def summary(self) -> EvaluationSummary:
        conf = self.confusion
        span = (self.last_mask_s or 0.0) - (self.first_mask_s or 0.0)
        return EvaluationSummary(
            frames_evaluated=self.frames, masks_received=self.masks,
            masks_unmatched=self.matcher.pending_masks(),
            miou=float(mean_iou(conf)) if self.frames else float("nan"),
            pixel_accuracy=pixel_accuracy(conf) if conf.sum() else float("nan"),
            per_class_iou=[float(v) for v in per_class_iou(conf)], confusion=conf.tolist(),
            processing_latency_ms=self.processing.summary(),
            end_to_end_latency_ms=self.end_to_end.summary(),
            recomputed_fraction_mean=float(np.mean(self.recomputed)) if self.recomputed
            else float("nan"),
            keyframes=self.keyframes,
            frames_per_s=(self.masks - 1) / span if span > 0 else float("nan"),
            stage_ms={stage: p.summary() for stage, p in self.stages.items()},
            unscored_pixels=self.unscored_pixels)
