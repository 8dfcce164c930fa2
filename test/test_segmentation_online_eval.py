"""OnlineEvaluator, the core of segmentation_evaluator: stamp matching, scores, latency, stages."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.segmentation.online_eval import OnlineEvaluator


def test_masks_and_labels_pair_by_stamp_in_any_order_and_are_scored():
    evaluator = OnlineEvaluator()
    truth = np.zeros((4, 6), np.uint8)
    truth[:, 3:] = 5
    wrong = truth.copy()
    wrong[0, 0] = 5
    assert evaluator.add_mask(10, truth, 1.0) is None  # label still to come
    assert evaluator.add_label(10, truth) is not None
    assert evaluator.add_label(20, truth) is None
    assert evaluator.add_mask(20, wrong, 1.5) is not None
    evaluator.add_mask(30, truth, 2.0)  # never labelled
    summary = evaluator.summary()
    assert summary.frames_evaluated == 2 and summary.masks_received == 3
    assert summary.masks_unmatched == 1
    assert summary.pixel_accuracy == pytest.approx(47 / 48)
    assert summary.frames_per_s == pytest.approx(2.0)  # 3 masks over 1 s


def test_latency_and_stage_times_are_summarised():
    evaluator = OnlineEvaluator()
    for i in range(1, 101):
        evaluator.add_latency(float(i), float("nan"), i % 4, 4, keyframe=i % 10 == 0,
                              stage_ms={"inference": 2.0 * i, "publish": 1.0})
    summary = evaluator.summary()
    assert summary.processing_latency_ms["p50"] == pytest.approx(50.5)
    assert summary.end_to_end_latency_ms["count"] == 0  # NaN: stamps were not live
    assert summary.keyframes == 10
    assert summary.recomputed_fraction_mean == pytest.approx(0.375)
    assert summary.stage_ms["inference"]["p50"] == pytest.approx(101.0)
    assert summary.stage_ms["inference"]["max"] == 200.0
    assert summary.stage_ms["publish"]["p95"] == 1.0


def test_pixels_a_mask_left_unlabelled_are_not_scored_but_counted():
    """A node with a region of interest publishes 255 outside it: those labelled pixels are
    left out of the scores and counted, not scored as errors (nor refused)."""
    evaluator = OnlineEvaluator()
    label = np.zeros((4, 6), np.uint8)
    label[:, 3:] = 1
    label[0, 0] = 255
    mask = label.copy()
    mask[0, 0] = 0
    mask[:2, :] = 255  # outside the roi: 12 pixels, 11 of them labelled
    evaluator.add_label(5, label)
    evaluator.add_mask(5, mask, 0.0)
    summary = evaluator.summary()
    assert summary.unscored_pixels == 11
    assert summary.pixel_accuracy == 1.0 and np.asarray(summary.confusion).sum() == 12
