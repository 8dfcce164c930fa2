"""The label reuse ceiling: gating replayed with ground truth (or a full pass) pasted."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from ness_ros.data.sequence import SequenceConfig, SyntheticSequence
from ness_ros.events.batch import EventBatch
from ness_ros.metrics import confusion_matrix, mean_iou
from ness_ros.segmentation.ceiling import (
    DecisionReplay,
    best_choice_ceiling,
    ceiling_bounds,
    gate_ceiling,
    head_resolution_confusion,
    region_index,
)
from ness_ros.segmentation.gating_config import PUBLISHED_RULE
from ness_ros.segmentation.motion import WarpedLabels
from ness_ros.segmentation.result import SegmentationResult

H, W, FRAMES = 32, 48, 6
PERIOD = 50_000_000
GRID = {"rows": 2, "cols": 4}  # regions of 16 x 12 pixels


def moving_boxes(*boxes: tuple[int, int, int]) -> SyntheticSequence:
    """Background (class 1) with vehicles (class 5) of 5 x 5 pixels, each starting at (y, x)
    and moving ``dx`` pixels right per frame; 4 events per pixel of each box's path per frame."""
    labels = np.ones((FRAMES, H, W), np.uint8)
    stamps = PERIOD * np.arange(1, FRAMES + 1, dtype=np.int64)
    rng = np.random.default_rng(0)
    chunks = []
    for i in range(FRAMES):
        for y, x, dx in boxes:
            labels[i, y:y + 5, x + dx * i:x + dx * i + 5] = 5
            if i:
                x0, x1 = x + dx * (i - 1), x + dx * i + 5
                n = 4 * 5 * (x1 - x0)
                t = np.sort(rng.integers(stamps[i - 1] + 1, stamps[i], n))
                chunks.append(EventBatch.from_arrays(t, rng.integers(x0, x1, n),
                                                     rng.integers(y, y + 5, n),
                                                     rng.integers(0, 2, n), width=W, height=H))
    events = EventBatch.concatenate(chunks)
    events = EventBatch(np.sort(events.events, order="t", kind="stable"), W, H)
    return SyntheticSequence(
        frames=np.zeros((FRAMES, H, W, 3), np.uint8), labels=labels, stamps_ns=stamps,
        events=events, ego_speed=np.zeros(FRAMES, np.float32), moving=np.zeros(FRAMES, bool),
        seed=0, config=SequenceConfig(width=W, height=H, duration_s=FRAMES * PERIOD * 1e-9),
        renders=np.ones(FRAMES, np.int16))


def held_miou(seq: SyntheticSequence) -> float:
    """MIoU of the first frame's labels kept for the whole sequence."""
    return mean_iou(sum(confusion_matrix(seq.labels[0], label) for label in seq.labels))


def test_region_index_matches_the_grid():
    index = region_index(H, W, 2, 4)
    assert index.shape == (H, W) and index[0, 0] == 0 and index[-1, -1] == 7
    assert index[0, 12] == 1 and index[16, 0] == 4
    assert np.bincount(index.ravel()).tolist() == [16 * 12] * 8


def test_full_pass_and_theta_zero_reach_the_labels_exactly():
    seq = moving_boxes((5, 13, 1))
    full = gate_ceiling([seq], replace(PUBLISHED_RULE, keyframe_interval=1, **GRID))
    assert full.miou == 1.0 and full.keyframes == FRAMES
    zero = gate_ceiling([seq], replace(PUBLISHED_RULE, theta=0.0, **GRID))
    assert zero.miou == 1.0 and zero.keyframes == 1 and zero.recomputed_fraction == 1.0


def test_infinite_theta_keeps_the_first_labels():
    seq = moving_boxes((5, 13, 1))
    kept = gate_ceiling([seq], replace(PUBLISHED_RULE, theta=math.inf, **GRID))
    assert kept.keyframes == 1 and kept.recomputed_fraction == 0.0
    assert kept.miou == pytest.approx(held_miou(seq)) and kept.miou < 0.9


def test_the_gate_recomputes_the_moving_box_and_reaches_the_labels():
    seq = moving_boxes((5, 13, 1))  # stays inside region (0, 1): 0.625 events/pixel per frame
    gated = gate_ceiling([seq], replace(PUBLISHED_RULE, theta=0.5, **GRID))
    assert gated.miou == 1.0 and gated.keyframes == 1
    assert gated.recomputed_fraction == pytest.approx(1 / 8)
    # At theta 1 the change adds up to 1.25 every second frame: stale labels in between.
    every_other = gate_ceiling([seq], replace(PUBLISHED_RULE, theta=1.0, **GRID))
    assert every_other.recomputed_fraction == pytest.approx(2 / 5 / 8)
    assert held_miou(seq) < every_other.miou < 1.0
    # Counted since the previous frame only, it never reaches 1: the first labels stay.
    stale = gate_ceiling([seq], replace(PUBLISHED_RULE, theta=1.0, accumulate=False, **GRID))
    assert stale.recomputed_fraction == 0.0 and stale.miou == pytest.approx(held_miou(seq))


def test_best_choice_recomputes_the_most_wrong_regions_within_its_budget():
    two = moving_boxes((5, 13, 1), (20, 37, 1))  # regions (0, 1) and (1, 3)
    one_region = best_choice_ceiling([two], 2, 4, 1 / 8, keyframe_max_age_s=0)
    both = best_choice_ceiling([two], 2, 4, 2 / 8, keyframe_max_age_s=0)
    assert both.miou == 1.0 and both.keyframes == 1
    assert both.recomputed_fraction == pytest.approx(2 / 8)
    assert held_miou(two) < one_region.miou < 1.0
    assert one_region.computed_fraction == pytest.approx((1 + (FRAMES - 1) / 8) / FRAMES)
    with pytest.raises(ValueError, match="budget"):
        best_choice_ceiling([two], 2, 4, 0.0)
    with pytest.raises(ValueError, match="keyframe_max_age_s"):
        best_choice_ceiling([two], 2, 4, 0.25, keyframe_max_age_s=-1.0)


def test_keyframe_age_resets_the_best_choice_gate():
    seq = moving_boxes((5, 13, 1), (20, 37, 1))
    aged = best_choice_ceiling([seq], 2, 4, 1 / 8, keyframe_max_age_s=2 * PERIOD * 1e-9)
    assert aged.keyframes == 3  # frames 0, 2 and 4


def test_pasted_reference_is_scored_against_the_labels():
    seq = moving_boxes((5, 13, 1))
    background = np.ones_like(seq.labels)  # a "model" that sees no vehicle
    report = gate_ceiling([seq], replace(PUBLISHED_RULE, theta=0.0, **GRID),
                          references=[background])
    assert report.miou == pytest.approx(mean_iou(confusion_matrix(background, seq.labels)))
    best = best_choice_ceiling([seq], 2, 4, 1.0, references=[background])
    assert best.miou == pytest.approx(report.miou)
    with pytest.raises(ValueError, match="do not match"):
        gate_ceiling([seq], replace(PUBLISHED_RULE, **GRID), references=[background[:, :8]])
    with pytest.raises(ValueError, match="reference mask stacks"):
        gate_ceiling([seq], replace(PUBLISHED_RULE, **GRID), references=[])


def test_unlabelled_pixels_are_refused():
    seq = moving_boxes((5, 13, 1))
    seq.labels[2, 0, 0] = 255
    with pytest.raises(ValueError, match="fully labelled"):
        gate_ceiling([seq], replace(PUBLISHED_RULE, **GRID))


def head_resolution_ceiling(sequences, stride: int) -> float:
    return mean_iou(head_resolution_confusion(sequences, stride))


def test_head_resolution_ceiling_loses_thin_structures_only():
    seq = moving_boxes((5, 13, 1))
    assert head_resolution_confusion([seq], 4).sum() == FRAMES * H * W
    assert head_resolution_ceiling([seq], 1) == 1.0
    # A 5 x 5 box survives a 1/2 head nearly whole, a 1/8 head hardly at all.
    half, eighth = head_resolution_ceiling([seq], 2), head_resolution_ceiling([seq], 8)
    assert 0.8 < half < 1.0 and eighth < half
    # A large block aligned to the head's cells loses only its corners, which bilinear
    # upsampling rounds off, even at 1/8.
    seq.labels[:] = 1
    seq.labels[:, 8:24, 16:40] = 3
    assert 0.95 < head_resolution_ceiling([seq], 8) < 1.0
    with pytest.raises(ValueError, match="stride"):
        head_resolution_ceiling([seq], 0)


def sliding_scene(frames: int = 5, step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(frames, labels) of a textured scene sliding ``step`` pixels right per frame, 64 x 96:
    background (1) with a vehicle (5) and a human (4) bar, all labelled."""
    rng = np.random.default_rng(3)
    width = 96 + step * frames
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (64, width)).astype(np.float32), (0, 0), 2)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    label = np.ones((64, width), np.uint8)
    label[10:50, 40:56] = 5
    label[20:60, 70:76] = 4
    start = step * frames  # the window moves left over the scene: content slides right
    images = np.stack([np.repeat(texture[:, start - step * i:][:, :96, None], 3, axis=2)
                       for i in range(frames)])
    labels = np.stack([label[:, start - step * i:][:, :96] for i in range(frames)])
    return images, labels


def replay(reuse: str, images: np.ndarray, labels: np.ndarray, keyframe: np.ndarray,
           fresh: np.ndarray | None = None) -> DecisionReplay:
    """A replay of a segmenter that computed ``keyframe`` whole on the first frame, then
    only the pixels of ``fresh`` (None: nothing) on every other."""
    replayed = DecisionReplay(reuse, num_classes=6)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        first = i == 0
        result = SegmentationResult(mask=label, stamp_ns=i, keyframe=first, regions_recomputed=0,
                                    regions_total=1, pixels_computed=0,
                                    fresh=None if first else fresh)
        replayed.add(image, keyframe if first else label, result)
    return replayed


def test_unknown_labels_make_the_replay_a_range_that_brackets_the_truth():
    images, labels = sliding_scene()
    # The old replay, fully labelled: the same motion carries a six-class state.
    carried = WarpedLabels(6)
    carried.start(labels[0], images[0])
    confusion = confusion_matrix(labels[0], labels[0])
    for image, label in zip(images[1:], labels[1:], strict=True):
        confusion += confusion_matrix(carried.advance(image, residual_level=255)[0], label)
    full = replay("warped", images, labels, labels[0])
    assert full.miou == full.miou_high == mean_iou(confusion)
    assert not full.unknown.any()
    # The flow finds the translation: carried labels stay right, labels kept in place do not.
    assert full.miou > 0.99 > replay("static", images, labels, labels[0]).miou
    # A strip across the vehicle's edge unlabelled on the keyframe: carried along the motion,
    # the labelled pixels it lands on are unknown, and the replay a range around the truth.
    strip = labels[0].copy()
    strip[:, 30:46] = 255
    partial = replay("warped", images, labels, strip)
    assert partial.unknown[1] > 0 and partial.unknown[5] > 0
    assert partial.miou < full.miou <= partial.miou_high
    # The unknown moved with the scene: one frame on, it covers the strip 2 pixels right.
    moved = replay("warped", images[:2], labels[:2], strip)
    shifted = np.bincount(labels[1][:, 32:48].ravel(), minlength=6)
    assert moved.unknown.tolist() == shifted.tolist()
    assert shifted.tolist() != np.bincount(labels[1][:, 30:46].ravel(), minlength=6).tolist()
    # Kept in place, the strip stays unknown; pasted over, it is known again.
    static = replay("static", images, labels, strip)
    assert static.unknown.sum() == 4 * 64 * 16 and static.miou < static.miou_high
    computed = np.zeros((64, 96), bool)
    computed[:, 28:48] = True
    pasted = replay("static", images, labels, strip, fresh=computed)
    assert not pasted.unknown.any() and pasted.miou == pasted.miou_high


def test_ceiling_bounds_count_unknown_labels_wrong_then_right():
    confusion = np.array([[6, 0], [2, 4]])
    assert ceiling_bounds(confusion, np.zeros(2, np.int64)) == (mean_iou(confusion),) * 2
    low, high = ceiling_bounds(confusion, np.array([2, 0]))
    assert low == pytest.approx((6 / 10 + 4 / 6) / 2)  # class 0 misses 2 more pixels
    assert high == pytest.approx((8 / 10 + 4 / 6) / 2)
    # A class seen only where the replay's label is unknown is present, at 0 to 1.
    assert ceiling_bounds(np.zeros((2, 2), np.int64), np.array([0, 3])) == (0.0, 1.0)
