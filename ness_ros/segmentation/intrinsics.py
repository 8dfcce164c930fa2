"""Camera intrinsics of an image made from another by cropping and resizing. ROS-free.

A node that segments at a working resolution or in a region of interest publishes masks that are
not the sensor's image; a consumer that projects lidar points or another camera into a mask needs
the intrinsics of the mask itself. :class:`ImageMapping` says how the output image was made (crop
``roi``, then resize to ``size``) and :func:`map_intrinsics` rewrites ``K`` and ``P`` of
``sensor_msgs/CameraInfo`` to match, as image_pipeline's resize node does, with one difference:
pixel centres are kept aligned (OpenCV's and ROS's convention: pixel (0, 0) is centred on
coordinate (0, 0)), so that a point falls in the output pixel that holds the input pixels it fell
in. image_pipeline scales the principal point as ``cx * sx``, which for a 2 x 2 binning shifts
every projection by a quarter of an output pixel: a quarter of the points (per axis) land in the
neighbouring output pixel. Distortion ``D`` and rectification ``R`` act before ``K`` (on
normalised coordinates) and stay as they are; so do binning and roi (resize leaves them too):
``K`` and ``P`` are taken as the intrinsics of the input image itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True, slots=True)
class ImageMapping:
    """An output image made from an input image: ``roi`` cropped, then resized to ``size``.

    Args:
        input_size: (width, height) of the input image, pixels.
        roi: (x_offset, y_offset, width, height) of the crop in input pixels; None: the whole
            image.
        size: (width, height) of the output image, pixels; None: the crop's size (no resize).

    Raises:
        ValueError: a size that is not positive, or a crop that leaves the input image.
    """

    input_size: tuple[int, int]
    roi: tuple[int, int, int, int] | None = None
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        width, height = self.input_size
        if width <= 0 or height <= 0:
            raise ValueError(f"input size must be positive, got {self.input_size}")
        roi = self.roi if self.roi is not None else (0, 0, width, height)
        x, y, w, h = roi
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
            raise ValueError(f"roi (x, y, width, height) {roi} must be non-empty and inside "
                             f"the {width} x {height} input image")
        size = self.size if self.size is not None else (w, h)
        if size[0] <= 0 or size[1] <= 0:
            raise ValueError(f"output size must be positive, got {size}")
        object.__setattr__(self, "roi", tuple(roi))
        object.__setattr__(self, "size", tuple(size))

    @property
    def scale(self) -> tuple[float, float]:
        """(sx, sy): output pixels per input pixel."""
        assert self.roi is not None and self.size is not None  # set by __post_init__
        return self.size[0] / self.roi[2], self.size[1] / self.roi[3]

    @property
    def is_identity(self) -> bool:
        """True when the output is the input image unchanged."""
        return self.roi == (0, 0, *self.input_size) and self.size == self.input_size

    def affine(self) -> NDArray[np.float64]:
        """The (3, 3) matrix taking homogeneous input pixel coordinates to output ones:
        ``u' = sx * (u - x_offset + 0.5) - 0.5`` (pixel centres stay centres), v likewise."""
        assert self.roi is not None
        sx, sy = self.scale
        x, y = self.roi[:2]
        return np.array([[sx, 0.0, sx * (0.5 - x) - 0.5],
                         [0.0, sy, sy * (0.5 - y) - 0.5],
                         [0.0, 0.0, 1.0]])

    def to_output(self, u: ArrayLike, v: ArrayLike) -> tuple[NDArray[np.float64],
                                                              NDArray[np.float64]]:
        """Input pixel coordinates (any shape, float) to output pixel coordinates."""
        a = self.affine()
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        return a[0, 0] * u + a[0, 2], a[1, 1] * v + a[1, 2]


def map_intrinsics(k: ArrayLike, p: ArrayLike, mapping: ImageMapping
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``K`` and ``P`` of the output image of ``mapping``.

    Args:
        k: the input image's camera matrix, 9 values row-major or (3, 3).
        p: its projection matrix, 12 values row-major or (3, 4).
        mapping: how the output image was made.

    Returns:
        (K', P'), shapes (3, 3) and (3, 4), float64: the rows of focal length, skew, principal
        point and ``P``'s translation scaled by (sx, sy), the principal point moved by the crop
        offset. A point projected with them lands where :meth:`ImageMapping.to_output` takes
        its projection with ``k`` and ``p``.

    Raises:
        ValueError: ``k`` or ``p`` of the wrong size.
    """
    k_in = np.asarray(k, dtype=np.float64)
    p_in = np.asarray(p, dtype=np.float64)
    if k_in.size != 9 or p_in.size != 12:
        raise ValueError(f"K needs 9 values and P 12, got {k_in.size} and {p_in.size}")
    a = mapping.affine()
    return a @ k_in.reshape(3, 3), a @ p_in.reshape(3, 4)
