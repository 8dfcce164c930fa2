"""Segmentation metrics (ness_ros.metrics) against brute-force computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ness_ros.metrics import (
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
    summarize,
)

C = 6


def brute_force(pred, label, num_classes, ignore):
    conf = np.zeros((num_classes, num_classes), np.int64)
    for p, g in zip(pred.ravel().tolist(), label.ravel().tolist(), strict=True):
        if g != ignore:
            conf[g, p] += 1
    ious = []
    for c in range(num_classes):
        tp = conf[c, c]
        fp = sum(conf[r, c] for r in range(num_classes) if r != c)
        fn = sum(conf[c, r] for r in range(num_classes) if r != c)
        ious.append(tp / (tp + fp + fn) if tp + fp + fn else math.nan)
    present = [v for v in ious if not math.isnan(v)]
    miou = sum(present) / len(present) if present else math.nan
    total = conf.sum()
    return conf, ious, miou, (np.trace(conf) / total if total else math.nan)


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 7), st.integers(1, 9)),
              elements=st.integers(0, C - 1)),
       st.data())
def test_matches_brute_force(pred, data):
    label = data.draw(arrays(np.uint8, pred.shape,
                             elements=st.sampled_from([0, 1, 2, 3, 4, 5, 255])))
    conf, ious, miou, acc = brute_force(pred, label, C, 255)
    got = confusion_matrix(pred, label, C, ignore=255)
    np.testing.assert_array_equal(got, conf)
    assert got.dtype == np.int64 and got.shape == (C, C)
    np.testing.assert_allclose(per_class_iou(got), ious, equal_nan=True)
    assert (math.isnan(mean_iou(got)) and math.isnan(miou)) or mean_iou(got) == pytest.approx(miou)
    assert (math.isnan(pixel_accuracy(got)) and math.isnan(acc)) or \
        pixel_accuracy(got) == pytest.approx(acc)


def test_conventions():
    label = np.array([[0, 0, 1, 255]])
    pred = np.array([[0, 2, 1, 4]])  # the 255 pixel is not counted, whatever was predicted
    conf = confusion_matrix(pred, label, C)
    assert conf.sum() == 3 and conf[0, 0] == 1 and conf[0, 2] == 1 and conf[1, 1] == 1
    iou = per_class_iou(conf)
    assert iou[0] == pytest.approx(0.5) and iou[1] == 1.0
    assert iou[2] == 0.0  # predicted but absent from the labels: counts as 0
    assert np.isnan(iou[3:]).all()  # absent from both: left out of the mean
    assert mean_iou(conf) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert pixel_accuracy(conf) == pytest.approx(2 / 3)
    empty = np.zeros((C, C), np.int64)
    assert math.isnan(mean_iou(empty)) and math.isnan(pixel_accuracy(empty))
    s = summarize(conf)
    assert s["per_class_iou"]["flat"] == pytest.approx(0.5) and s["per_class_iou"]["human"] is None
    assert s["pixels"] == 3 and s["miou"] == pytest.approx(mean_iou(conf))
    # Matrices add up over frames.
    assert np.array_equal(confusion_matrix(np.concatenate([pred, pred]),
                                           np.concatenate([label, label]), C), 2 * conf)


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="prediction value 255"):
        confusion_matrix(np.array([255]), np.array([1]))
    with pytest.raises(ValueError, match="label value 7"):
        confusion_matrix(np.array([1]), np.array([7]))
    with pytest.raises(ValueError, match="square"):
        mean_iou(np.zeros((2, 3)))
