"""The label sets of ness_ros: DDD17's six classes (the default: synthetic drives, DDD17 and
DSEC mapped to them) and DSEC-Semantic's eleven, with their ids, names and display palettes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

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


#: DSEC-Semantic's 11 classes (ESS, Sun et al. 2022) in id order.
DSEC11_CLASS_NAMES: tuple[str, ...] = ("background", "building", "fence", "person", "pole",
                                       "road", "sidewalk", "vegetation", "car", "wall",
                                       "traffic sign")

#: Their colours as ESS renders them: each class in its Cityscapes colour, background black.
DSEC11_PALETTE = np.array([
    [0, 0, 0],        # background
    [70, 70, 70],     # building
    [190, 153, 153],  # fence
    [220, 20, 60],    # person
    [153, 153, 153],  # pole
    [128, 64, 128],   # road
    [244, 35, 232],   # sidewalk
    [107, 142, 35],   # vegetation
    [0, 0, 142],      # car
    [102, 102, 156],  # wall
    [220, 220, 0],    # traffic sign
], dtype=np.uint8)


@dataclass(frozen=True)
class ClassSet:
    """A label set: its name, class names in id order and RGB palette (one row per class)."""

    name: str
    names: tuple[str, ...]
    palette: NDArray[np.uint8]

    @property
    def num_classes(self) -> int:
        return len(self.names)


#: The label sets a model can be trained on, by name (``ness train --classes``).
CLASS_SETS: dict[str, ClassSet] = {
    "ddd17": ClassSet("ddd17", CLASS_NAMES, PALETTE),
    "dsec11": ClassSet("dsec11", DSEC11_CLASS_NAMES, DSEC11_PALETTE),
}


def class_set(name: str) -> ClassSet:
    """The registered :class:`ClassSet` ``name``; ValueError naming the known ones otherwise."""
    try:
        return CLASS_SETS[name]
    except KeyError:
        raise ValueError(f"unknown class set {name!r}; choose from {sorted(CLASS_SETS)}") from None


def class_set_named(names: list[str] | tuple[str, ...]) -> ClassSet | None:
    """The registered class set whose class names are ``names`` (in order), or None."""
    for candidate in CLASS_SETS.values():
        if tuple(names) == candidate.names:
            return candidate
    return None


def colourize(mask: NDArray[np.uint8], palette: ArrayLike | None = None) -> NDArray[np.uint8]:
    """Render a class-id mask (H, W) as RGB (H, W, 3) with ``palette`` (one RGB row per class
    id; default :data:`PALETTE`); ids outside the palette are black."""
    colours = PALETTE if palette is None else np.asarray(palette, dtype=np.uint8)
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(colours)] = colours
    lut[IGNORE_LABEL] = IGNORE_COLOUR
    return np.take(lut, mask, axis=0)  # 4x faster than lut[mask] for a camera frame
