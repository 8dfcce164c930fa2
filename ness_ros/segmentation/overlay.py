"""Pictures for people: overlay strips of frame, prediction and ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ness_ros.labels import colourize


def overlay_row(frame: NDArray[np.uint8], mask: NDArray[np.uint8],
                label: NDArray[np.uint8] | None = None, alpha: float = 0.55) -> NDArray[np.uint8]:
    """One row: the frame, the mask blended over it, and the label (if any), side by side."""
    rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
    blended = cv2.addWeighted(rgb, 1 - alpha, colourize(mask), alpha, 0.0)
    tiles = [rgb, blended] + ([colourize(label)] if label is not None else [])
    return np.concatenate(tiles, axis=1)


def write_strip(rows: Sequence[NDArray[np.uint8]], path: Path) -> Path:
    """Stack rows vertically and write them as a PNG (RGB in, PNG on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        raise ValueError("no rows to write")
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(padded, axis=0), cv2.COLOR_RGB2BGR))
    return path
