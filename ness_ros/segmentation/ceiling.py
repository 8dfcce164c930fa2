"""What label reuse costs with a perfect model: the accuracy ceiling of region gating.

A gated segmenter loses accuracy for two reasons: its model is wrong, and the labels it keeps
are stale. These functions measure the second alone. They replay the gating on a labelled
sequence but paste ground truth where a model would run, so a recomputed region is exactly right
and a kept region is exactly as stale as the gating made it. A full pass scores 100 %.

- :func:`gate_ceiling` follows the :class:`~ness_ros.segmentation.gating.RegionGate`'s own
  choices (theta, keyframe policy), the decisions ``HybridSegmenter`` takes on the same frames.
- :class:`DecisionReplay` replays the decisions a segmenter took, frame by frame, whatever its
  rule of reuse: ground truth where it computed labels, and kept labels reused as it reuses
  them (in place, or carried along the same motion for ``reuse: warped``). It takes partially
  labelled frames: a label reused from an unlabelled pixel is unknown, and the MIoU becomes a
  range (:func:`ceiling_bounds`).
- :func:`best_choice_ceiling` grants a clairvoyant gate that, for a fixed budget of regions per
  frame, recomputes the regions with the most wrong labels. It is greedy (frame by frame, wrong
  pixels rather than IoU), not a proven optimum, but it knows where labels went stale, which a
  gate that counts events can only guess: what it loses at a budget, a change threshold with
  that budget should not expect to beat.

Both can paste another reference than the ground truth: given a model's full-pass masks, they
measure what reuse costs against that full pass, the baseline of ``ness eval sweep``; the masks
are still scored against the ground truth.

:func:`head_resolution_confusion` measures another limit, of the model rather than the gating: a
head that predicts at 1/s of the input resolution and is upsampled bilinearly, as both models'
heads are, cannot draw structures thinner than a few of its cells. It scores the ground truth
seen through such a head.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.data.sequence import SyntheticSequence
from ness_ros.events.representations import region_bounds
from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import confusion_matrix, mean_iou, per_class_iou
from ness_ros.segmentation.gating import GatingConfig, RegionGate
from ness_ros.segmentation.motion import DEFAULT_FLOW_PRESET, WarpedLabels
from ness_ros.segmentation.result import SegmentationResult


@dataclass
class CeilingReport:
    """MIoU of reused ground truth over a set of frames, and how often labels were computed.

    ``recomputed_fraction`` is the mean fraction of regions recomputed per frame, keyframes
    counting 1, over every frame but each sequence's first (a keyframe by necessity), as
    :class:`~ness_ros.segmentation.evaluation.EvalReport` counts it; ``computed_fraction`` is the
    same mean with the first frames included.
    """

    name: str
    frames: int
    miou: float
    recomputed_fraction: float
    computed_fraction: float
    keyframes: int


def region_index(height: int, width: int, rows: int, cols: int) -> NDArray[np.intp]:
    """(H, W) map of each pixel's region, row by row, as the gating and the pasting cut them."""
    row_edges, col_edges = region_bounds(height, width, rows, cols)
    row_of = np.repeat(np.arange(rows), np.diff(row_edges))
    col_of = np.repeat(np.arange(cols), np.diff(col_edges))
    return row_of[:, None] * cols + col_of[None, :]


def gate_ceiling(sequences: Sequence[SyntheticSequence], gating: GatingConfig, *,
                 references: Sequence[NDArray[np.uint8]] | None = None,
                 name: str = "") -> CeilingReport:
    """Replay ``gating`` over ``sequences``, pasting the reference where it recomputes
    (``references`` as for :func:`best_choice_ceiling`; default the ground truth)."""
    tally = _Tally(name or f"theta={gating.theta:g}", gating.rows * gating.cols)
    for seq, reference in zip(sequences, _references(sequences, references), strict=True):
        gate = RegionGate(gating)
        regions = region_index(seq.height, seq.width, gating.rows, gating.cols)
        mask: NDArray[np.uint8] | None = None
        for i, label in _labelled_frames(seq):
            changed = gate.plan(int(seq.stamps_ns[i]), seq.events)
            if changed is None or mask is None:
                mask = reference[i].copy()
            else:
                _paste(mask, reference[i], regions, changed.ravel())
            tally.add(mask, label, changed, first=i == 0)
    return tally.report()


def ceiling_bounds(confusion: NDArray[np.int64], unknown: NDArray[np.int64]
                   ) -> tuple[float, float]:
    """(low, high) MIoU of a replay whose reused labels are partly unknown.

    ``confusion``: (C, C) over the scored pixels whose replayed label is known; ``unknown``:
    (C,) scored pixels of each true class whose replayed label came from an unlabelled one.
    A perfect model's label there is unknown to us: the low end counts each such pixel a miss
    of its class, the high end a hit. The low end charges no other class a false positive
    (which one would be a guess): it bounds the IoU of the unknown pixels' own classes, while
    a wrong label charged to another class would lower that one's too. With no unknown pixel
    both are :func:`~ness_ros.metrics.mean_iou`.
    """
    classes = len(unknown)
    # An extra prediction column holds the misses: each counts in its row's union, as a
    # wrong label does, and in no class's column.
    missed = np.zeros((classes + 1, classes + 1), np.int64)
    missed[:classes, :classes] = confusion
    missed[:classes, classes] = unknown
    iou = per_class_iou(missed)[:classes]
    present = ~np.isnan(iou)
    low = float(iou[present].mean()) if present.any() else float("nan")
    return low, float(mean_iou(confusion + np.diag(unknown)))


class DecisionReplay:
    """The MIoU a segmenter's own decisions would reach with a perfect model.

    Feed it every frame with the segmenter's result: on a keyframe the ground truth is taken
    whole; otherwise the kept ground truth is reused as the segmenter reuses labels (``static``:
    in place; ``warped``: carried along the motion between the same frames) and the ground
    truth is pasted where the segmenter computed labels (``result.fresh``).

    Frames may leave pixels unlabelled (DSEC's labels do). Unknown is then a label of its
    own: kept in place as 255 (``static``), or carried as an extra class, ``num_classes``, in
    :class:`~ness_ros.segmentation.motion.WarpedLabels` (``warped``), so that it moves and
    blends at edges as any label does. Only pixels whose current ground truth is labelled are
    scored, the pixels of the segmenter's own MIoU; a replayed unknown among them makes the
    MIoU a range, :attr:`miou` to :attr:`miou_high` (:func:`ceiling_bounds`). On fully
    labelled frames the two are equal.

    Args:
        reuse: the segmenter's rule of reuse (``static`` or ``warped``).
        flow_preset: the DIS preset it used (``warped``).
        num_classes: the classes of the labels (the model's).
    """

    def __init__(self, reuse: str, flow_preset: str = DEFAULT_FLOW_PRESET,
                 num_classes: int = NUM_CLASSES) -> None:
        if not 1 <= num_classes < IGNORE_LABEL:
            raise ValueError(f"the replay holds 1 to {IGNORE_LABEL - 1} classes and unknown, "
                             f"got {num_classes}")
        self.num_classes = num_classes
        self.warped = (WarpedLabels(num_classes + 1, flow_preset) if reuse == "warped"
                       else None)
        self.confusion = np.zeros((num_classes, num_classes), np.int64)
        #: Scored pixels of each true class whose replayed label is unknown.
        self.unknown = np.zeros(num_classes, np.int64)
        self._mask: NDArray[np.uint8] | None = None

    def add(self, image: NDArray[np.uint8], label: NDArray[np.uint8],
            result: SegmentationResult) -> None:
        """Replay one frame: ``image`` and its ground truth ``label`` (255: unlabelled)."""
        unknown = self.num_classes  # the warped state's class of unlabelled ground truth
        if result.keyframe or self._mask is None:
            self._mask = label.copy()
            if self.warped is not None:
                self.warped.start(np.where(label == IGNORE_LABEL, unknown, label), image)
        else:
            if self.warped is not None:
                carried, _ = self.warped.advance(image, residual_level=None)
                carried[carried == unknown] = IGNORE_LABEL
                self._mask = carried
            if result.fresh is not None:
                np.copyto(self._mask, label, where=result.fresh)
                if self.warped is not None:
                    self.warped.paste(np.where(label == IGNORE_LABEL, unknown, label),
                                      result.fresh)
        mask, truth = self._mask, label
        missing = (mask == IGNORE_LABEL) & (label != IGNORE_LABEL)
        if missing.any():
            self.unknown += np.bincount(label[missing], minlength=self.num_classes)
            mask, truth = mask[~missing], label[~missing]
        self.confusion += confusion_matrix(mask, truth, self.num_classes, ignore=IGNORE_LABEL)

    @property
    def miou(self) -> float:
        """The low end of the MIoU: replayed unknown labels count wrong."""
        return ceiling_bounds(self.confusion, self.unknown)[0]

    @property
    def miou_high(self) -> float:
        """The high end of the MIoU: replayed unknown labels count right."""
        return ceiling_bounds(self.confusion, self.unknown)[1]


def best_choice_ceiling(sequences: Sequence[SyntheticSequence], rows: int, cols: int,
                        budget: float, *, keyframe_max_age_s: float = 2.0,
                        references: Sequence[NDArray[np.uint8]] | None = None,
                        reuse: str = "static", name: str = "") -> CeilingReport:
    """A clairvoyant gate: each frame, recompute the ``budget`` fraction of the ``rows`` x
    ``cols`` regions (rounded, at least one) whose kept labels differ most from the reference;
    a keyframe when the last one is ``keyframe_max_age_s`` old (0: never).

    ``references``: per sequence, (N, H, W) labels pasted where the gate recomputes (default:
    the ground truth), e.g. a model's full-pass masks. ``reuse``: kept labels stay in place
    (``static``) or are carried along the motion between frames first (``warped``, as
    :class:`~ness_ros.segmentation.motion.WarpedLabels` carries them)."""
    if not 0.0 < budget <= 1.0:
        raise ValueError(f"budget must be a fraction of regions in (0, 1], got {budget}")
    if not keyframe_max_age_s >= 0:  # also rejects NaN
        raise ValueError(f"keyframe_max_age_s must be >= 0 (0: never), got {keyframe_max_age_s}")
    count = rows * cols
    per_frame = max(1, round(budget * count))
    tally = _Tally(name or f"best {per_frame} of {count}", count)
    if reuse not in ("static", "warped"):
        raise ValueError(f"reuse must be static or warped, got {reuse!r}")
    for seq, reference in zip(sequences, _references(sequences, references), strict=True):
        regions = region_index(seq.height, seq.width, rows, cols)
        mask: NDArray[np.uint8] | None = None
        carried = WarpedLabels(NUM_CLASSES) if reuse == "warped" else None
        keyframe_ns = 0
        for i, label in _labelled_frames(seq):
            stamp, best = int(seq.stamps_ns[i]), reference[i]
            changed: NDArray[np.bool_] | None = None
            if mask is None or (keyframe_max_age_s
                                and stamp - keyframe_ns >= keyframe_max_age_s * 1e9):
                mask, keyframe_ns = best.copy(), stamp
                if carried is not None:
                    carried.start(mask, seq.frames[i])
            else:
                if carried is not None:
                    mask, _ = carried.advance(seq.frames[i], residual_level=None)
                wrong = np.bincount(regions[mask != best], minlength=count)
                changed = np.zeros(count, bool)
                # A stable sort: between equally wrong regions, the first in row order wins.
                changed[np.argsort(-wrong, kind="stable")[:per_frame]] = True
                _paste(mask, best, regions, changed)
                if carried is not None:
                    carried.paste(best, changed[regions])
            tally.add(mask, label, changed, first=i == 0)
    return tally.report()


def _references(sequences: Sequence[SyntheticSequence],
                references: Sequence[NDArray[np.uint8]] | None) -> Sequence[NDArray[np.uint8]]:
    if references is None:
        return [seq.labels for seq in sequences]
    if len(references) != len(sequences):
        raise ValueError(f"{len(references)} reference mask stacks for {len(sequences)} sequences")
    for seq, ref in zip(sequences, references, strict=True):
        if ref.shape != seq.labels.shape:
            raise ValueError(f"reference masks {ref.shape} do not match the labels "
                             f"{seq.labels.shape} of seed {seq.seed}")
    return references


def _labelled_frames(seq: SyntheticSequence) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    for i in range(len(seq)):
        label = seq.labels[i]
        if (label == IGNORE_LABEL).any():
            # A kept unlabelled pixel would have no class to score against later frames.
            raise ValueError(f"the label ceiling needs fully labelled frames; frame {i} of seed "
                             f"{seq.seed} has unlabelled pixels")
        yield i, label


def _paste(mask: NDArray[np.uint8], label: NDArray[np.uint8], regions: NDArray[np.intp],
           changed: NDArray[np.bool_]) -> None:
    np.copyto(mask, label, where=changed[regions])


class _Tally:
    def __init__(self, name: str, regions: int) -> None:
        self.name, self.regions = name, regions
        self.confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
        self.recomputed: list[float] = []
        self.computed: list[float] = []
        self.keyframes = 0

    def add(self, mask: NDArray[np.uint8], label: NDArray[np.uint8],
            changed: NDArray[np.bool_] | None, *, first: bool) -> None:
        self.confusion += confusion_matrix(mask, label, NUM_CLASSES, ignore=IGNORE_LABEL)
        fraction = 1.0 if changed is None else float(changed.mean())
        self.keyframes += changed is None
        self.computed.append(fraction)
        if not first:  # the first frame of a sequence is a keyframe by necessity
            self.recomputed.append(fraction)

    def report(self) -> CeilingReport:
        return CeilingReport(
            name=self.name, frames=len(self.computed), miou=float(mean_iou(self.confusion)),
            recomputed_fraction=float(np.mean(self.recomputed)) if self.recomputed else 0.0,
            computed_fraction=float(np.mean(self.computed)) if self.computed else 0.0,
            keyframes=self.keyframes)


def head_resolution_confusion(sequences: Sequence[SyntheticSequence], head_stride: int
                              ) -> NDArray[np.int64]:
    """Confusion matrix of the ground truth seen through a head at 1/``head_stride`` resolution
    against the ground truth (its MIoU is the head's ceiling).

    Each class's indicator is averaged over the head's cells (the input zero-padded to a
    multiple of the stride, as the models pad it), upsampled back bilinearly (as the models'
    logits are) and the largest wins. Not a proven optimum, but what a head that scores each
    cell by its class shares would draw; a model at that stride should not expect to beat it.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812

    if head_stride < 1:
        raise ValueError(f"head stride must be >= 1, got {head_stride}")
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for seq in sequences:
        for _, label in _labelled_frames(seq):
            height, width = label.shape
            ids = torch.from_numpy(label.astype(np.int64))
            shares = F.one_hot(ids, NUM_CLASSES).permute(2, 0, 1)[None].float()
            pad_h, pad_w = -height % head_stride, -width % head_stride
            cells = F.avg_pool2d(F.pad(shares, (0, pad_w, 0, pad_h)), head_stride)
            seen = F.interpolate(cells, scale_factor=head_stride, mode="bilinear",
                                 align_corners=False)[0, :, :height, :width]
            confusion += confusion_matrix(seen.argmax(0).numpy(), label, NUM_CLASSES,
                                          ignore=IGNORE_LABEL)
    return confusion
