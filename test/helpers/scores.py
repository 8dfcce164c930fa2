"""Scores recomputed in the tests from a written confusion matrix, independently of
:mod:`ness_ros.metrics`, so that a report's MIoU is checked against its own matrix."""

from __future__ import annotations

from collections.abc import Sequence


def miou_of(confusion: Sequence[Sequence[int]]) -> float:
    """Mean over the classes seen (in labels or predictions) of TP / (TP + FP + FN)."""
    ious = []
    for c in range(len(confusion)):
        tp = confusion[c][c]
        union = sum(confusion[c]) + sum(row[c] for row in confusion) - tp
        if union:
            ious.append(tp / union)
    return sum(ious) / len(ious)


def scored_pixels(confusion: Sequence[Sequence[int]]) -> int:
    return sum(sum(row) for row in confusion)
