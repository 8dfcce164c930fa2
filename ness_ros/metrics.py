"""Segmentation metrics: confusion matrix, per-class IoU, mean IoU and pixel accuracy.

The one implementation used by training, offline evaluation, the benchmarks and the nodes; it
imports only :mod:`ness_ros.labels`, so both :mod:`ness_ros.data` and :mod:`ness_ros.segmentation`
may import it.
Confusion matrices are (C, C) int64 with rows = ground-truth class and columns = predicted
class; they add up, so a whole data set is scored by summing per-frame matrices and computing
the scores once (never by averaging per-frame scores).

Conventions:
    * pixels whose label is ``ignore`` (255 by default) are not counted at all;
    * a class that appears neither in the labels nor in the predictions (TP + FP + FN = 0) has
      IoU NaN and is left out of the mean (as in the DDD17 / Ev-SegNet evaluation); a class
      that is predicted but absent from the labels has IoU 0 and counts;
    * with nothing counted, mean IoU and pixel accuracy are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ness_ros.labels import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES


def confusion_matrix(pred: ArrayLike, label: ArrayLike, num_classes: int = NUM_CLASSES,
                     ignore: int | None = IGNORE_LABEL) -> NDArray[np.int64]:
    """Count (label, prediction) pairs over all pixels.

    Args:
        pred: predicted class ids, any shape, integer dtype.
        label: ground-truth class ids, same shape; ``ignore`` marks unlabelled pixels.
        num_classes: C; valid ids are 0..C-1.
        ignore: label value to skip (None: skip nothing).

    Returns:
        (C, C) int64, entry [i, j] = pixels of true class i predicted as j.

    Raises:
        ValueError: shapes differ, or a counted label or prediction is outside 0..C-1 (a
            prediction of 255 on a labelled pixel is an error, not a silent miss).
    """
    pred_ids, label_ids = np.asarray(pred), np.asarray(label)
    if pred_ids.shape != label_ids.shape:
        raise ValueError(f"prediction shape {pred_ids.shape} differs from label shape "
                         f"{label_ids.shape}")
    pred_ids, label_ids = pred_ids.ravel(), label_ids.ravel()
    if ignore is not None:
        keep = label_ids != ignore
        if not keep.all():
            pred_ids, label_ids = pred_ids[keep], label_ids[keep]
    label = label_ids.astype(np.int64, copy=False)
    pred = pred_ids.astype(np.int64, copy=False)
    for name, ids in (("label", label), ("prediction", pred)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            bad = ids[(ids < 0) | (ids >= num_classes)][0]
            raise ValueError(f"{name} value {bad} outside 0..{num_classes - 1}"
                             + (f" (ignore value is {ignore})" if name == "label" else ""))
    counts = np.bincount(label * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_iou(confusion: ArrayLike) -> NDArray[np.float64]:
    """IoU = TP / (TP + FP + FN) per class, shape (C,); NaN for classes absent from both the
    labels and the predictions."""
    conf = _square(confusion)
    tp = np.diag(conf)
    union = conf.sum(axis=0) + conf.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def mean_iou(confusion: ArrayLike) -> float:
    """Mean of :func:`per_class_iou` over the classes present (NaN if none is)."""
    iou = per_class_iou(confusion)
    present = ~np.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")


def pixel_accuracy(confusion: ArrayLike) -> float:
    """Correct pixels / counted pixels (NaN if none was counted)."""
    conf = _square(confusion)
    total = conf.sum()
    return float(np.trace(conf) / total) if total else float("nan")


def summarize(confusion: ArrayLike, class_names: Sequence[str] = CLASS_NAMES) -> dict:
    """Scores as a JSON-ready dict: miou, pixel_accuracy, per_class_iou {name: IoU or None},
    pixels (counted)."""
    conf = _square(confusion)
    if len(class_names) != conf.shape[0]:
        raise ValueError(f"{len(class_names)} class names for a {conf.shape[0]}-class matrix")
    iou = per_class_iou(conf)
    return {"miou": mean_iou(conf), "pixel_accuracy": pixel_accuracy(conf),
            "per_class_iou": {n: (None if np.isnan(v) else float(v))
                              for n, v in zip(class_names, iou, strict=True)},
            "pixels": int(conf.sum())}


def _square(confusion: ArrayLike) -> NDArray[np.int64]:
    conf = np.asarray(confusion)
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError(f"confusion matrix must be square (C, C), got shape {conf.shape}")
    return conf
