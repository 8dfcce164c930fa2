"""The colour-only baseline: how far can a pixel's RGB value alone go in predicting its class?

A lookup table over a bins x bins x bins colour histogram, fitted on training frames, gives each
colour bin its majority class. The synthetic scenes are built so that this does badly (grey
cars on grey roads beside grey buildings, green signs, shadows): a segmentation model must use
shape, context and motion. Its MIoU on held-out seeds is the floor a model has to beat by far.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from ness_ros.data.errors import DataError
from ness_ros.data.sequence import SequenceConfig, generate_sequence
from ness_ros.labels import IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import confusion_matrix, summarize


class ColourBaseline:
    """Per-pixel classifier that sees only the pixel's 8-bit RGB value.

    Args:
        bins: histogram bins per channel (a power of two up to 256).
        num_classes: number of classes.
    """

    def __init__(self, bins: int = 16, num_classes: int = NUM_CLASSES) -> None:
        if bins not in (2, 4, 8, 16, 32, 64, 128, 256):
            raise DataError(f"bins must be a power of two in 2..256, got {bins}")
        self.bins, self.num_classes = bins, num_classes
        self._shift = 8 - int(np.log2(bins))
        self.counts = np.zeros((bins ** 3, num_classes), np.int64)

    def _bin(self, frames: NDArray[np.uint8]) -> NDArray[np.int64]:
        q = (np.asarray(frames, np.uint8) >> self._shift).astype(np.int64)
        return (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]

    def fit(self, frames: NDArray[np.uint8], labels: NDArray[np.uint8]) -> ColourBaseline:
        """Add frames (..., H, W, 3) uint8 RGB with labels (..., H, W) to the histogram."""
        idx, lab = self._bin(frames).ravel(), np.asarray(labels).ravel()
        if idx.shape != lab.shape:
            raise DataError(f"frames {np.shape(frames)} and labels {np.shape(labels)} differ")
        keep = lab != IGNORE_LABEL
        flat = idx[keep] * self.num_classes + lab[keep].astype(np.int64)
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)
        return self

    @property
    def table(self) -> NDArray[np.uint8]:
        """(bins**3,) majority class per colour bin; empty bins get the overall majority."""
        table = self.counts.argmax(axis=1).astype(np.uint8)
        table[self.counts.sum(axis=1) == 0] = int(self.counts.sum(axis=0).argmax())
        return table

    def predict(self, frames: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Class ids (..., H, W) uint8 for frames (..., H, W, 3) uint8."""
        return self.table[self._bin(frames)]

    def confusion(self, frames: NDArray[np.uint8], labels: NDArray[np.uint8]
                  ) -> NDArray[np.int64]:
        return confusion_matrix(self.predict(frames), labels, self.num_classes)


def colour_baseline_scores(train_seeds: Sequence[int], test_seeds: Sequence[int], *,
                           config: SequenceConfig | None = None, bins: int = 16,
                           progress: bool = False) -> dict:
    """Fit on sequences of ``train_seeds``, score on ``test_seeds`` (frames only, no events).

    Returns :func:`~ness_ros.metrics.summarize` figures plus the seeds, bins and
    the sequence options used.
    """
    if set(train_seeds) & set(test_seeds):
        overlap = sorted(set(train_seeds) & set(test_seeds))
        raise DataError(f"train and test seeds overlap: {overlap}")
    cfg = config or SequenceConfig(duration_s=4.0)
    model = ColourBaseline(bins)
    for seed in tqdm(train_seeds, desc="fit", disable=not progress):
        seq = generate_sequence(seed, config=cfg, events=False, progress=False)
        model.fit(seq.frames, seq.labels)
    conf = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for seed in tqdm(test_seeds, desc="test", disable=not progress):
        seq = generate_sequence(seed, config=cfg, events=False, progress=False)
        conf += model.confusion(seq.frames, seq.labels)
    return {**summarize(conf), "train_seeds": list(train_seeds), "test_seeds": list(test_seeds),
            "bins": bins, "duration_s": cfg.duration_s, "width": cfg.width,
            "height": cfg.height}
