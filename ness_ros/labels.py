"""The label set of ness_ros: DDD17's six classes, their ids, names and display palette."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Class names in id order (DDD17 as used by Ev-SegNet and EvSegSNN).
CLASS_NAMES: tuple[str, ...] = ("flat", "background", "object", "vegetation", "human", "vehicle")
NUM_CLASSES = len(CLASS_NAMES)

#: Label value of pixels that carry no class (ignored by losses and metrics).
IGNORE_LABEL = 255

#: RGB colour per class id, in the Cityscapes tradition (road purple, vegetation green, ...).
PALETTE = np.array([
    [128, 64, 128],   # flat: road, sidewalk
    [70, 70, 70],     # background: construction and sky
    [220, 220, 0],    # object: poles, signs, traffic lights
    [107, 142, 35],   # vegetation
    [220, 20, 60],    # human
    [0, 0, 142],      # vehicle
], dtype=np.uint8)

#: Colour of unlabelled pixels in renderings.
IGNORE_COLOUR = np.array([0, 0, 0], dtype=np.uint8)


def colourize(mask: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Render a class-id mask (H, W) as RGB (H, W, 3); ids outside the palette are black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:NUM_CLASSES] = PALETTE
    lut[IGNORE_LABEL] = IGNORE_COLOUR
    return np.take(lut, mask, axis=0)  # 4x faster than lut[mask] for a camera frame
