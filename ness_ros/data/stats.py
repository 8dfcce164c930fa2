"""Figures about generated sequences: event rate, class frequencies, motion, and the colour-only
baseline on a train/test split of them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ness_ros.data.colour_baseline import ColourBaseline
from ness_ros.data.errors import DataError
from ness_ros.data.sequence import SyntheticSequence
from ness_ros.labels import CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES
from ness_ros.metrics import summarize


def sequence_stats(seq: SyntheticSequence, name: str = "") -> dict:
    """One sequence's figures (JSON-ready): counts, event rate (M events/s), ON fraction,
    moving fraction, mean ego speed (m/s), renders per frame, and the class frequency
    (fraction of labelled pixels) per class name plus the unlabelled fraction."""
    counts = np.bincount(seq.labels.ravel(), minlength=256)
    labelled = counts[:NUM_CLASSES].sum()
    return {
        "name": name or f"seed {seq.seed}", "seed": seq.seed, "frames": len(seq),
        "duration_s": round(seq.duration_s, 3), "events": len(seq.events),
        "event_rate_mps": round(seq.event_rate / 1e6, 3),
        "on_fraction": round(float(seq.events.polarity.mean()) if len(seq.events) else 0.0, 3),
        "moving_fraction": round(float(np.mean(seq.moving)), 3),
        "mean_speed_mps": round(float(np.mean(seq.ego_speed)), 2),
        "renders_per_frame": round(float(np.mean(seq.renders)), 2),
        "class_frequency": {n: round(float(counts[i] / max(labelled, 1)), 4)
                            for i, n in enumerate(CLASS_NAMES)},
        "unlabelled_fraction": round(float(counts[IGNORE_LABEL] / seq.labels.size), 4),
    }


def split_baseline(sequences: Sequence[SyntheticSequence], bins: int = 16) -> dict:
    """Colour baseline fitted on all sequences but the last and scored on the last; with a
    single sequence, fitted on its first half of frames and scored on the second half (an
    optimistic figure: both halves share one scene)."""
    if not sequences:
        raise DataError("no sequences to fit the colour baseline on")
    model = ColourBaseline(bins)
    if len(sequences) == 1:
        seq = sequences[0]
        half = len(seq) // 2
        model.fit(seq.frames[:half], seq.labels[:half])
        conf = model.confusion(seq.frames[half:], seq.labels[half:])
        split = f"seed {seq.seed}: first half fit, second half test"
    else:
        for seq in sequences[:-1]:
            model.fit(seq.frames, seq.labels)
        conf = model.confusion(sequences[-1].frames, sequences[-1].labels)
        split = (f"fit on seeds {[s.seed for s in sequences[:-1]]}, test on seed "
                 f"{sequences[-1].seed}")
    return {**summarize(conf), "split": split, "bins": bins}
