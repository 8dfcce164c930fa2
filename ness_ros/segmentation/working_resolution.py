"""The resolution a segmentation node runs its model at, apart from the sensor's. ROS-free.

Real event cameras are 640 x 480 to 1280 x 720 and beyond; the models are trained at 346 x 260
and cost about their pixel count. A node therefore crops an optional region of interest, brings
events and frames to a working size, runs the model there, and publishes the mask at the sensor's
resolution (nearest labels; outside the region of interest: unlabelled, 255) or at the working
resolution. :class:`WorkingResolution` is the user's choice; :class:`Rescaler` applies it to one
sensor size.

One pixel rule for all three: input pixel ``x`` (its centre at ``x + 0.5`` in edge coordinates)
falls in working pixel ``floor((x - x0 + 0.5) * sx)``, with ``sx = working width / roi width``.
Events are binned by it, and a working pixel's count weighs as the mean count of the sensor
pixels it covers (:meth:`Rescaler.encoder` scales the model's event scale and clip by the area
of a sensor pixel in working pixels), as the models were trained on counts per sensor pixel:
with raw binned counts, 3.4 x denser at 640 x 480, the event-only model lost a third of its
MIoU on a held-out drive (0.383 against 0.540 normalised). Frames are averaged over whole
blocks and then sampled bilinearly on the same pixel centres, and a sensor-resolution mask takes
each pixel's label from the working pixel it fell in. The same rule, pixel centres aligned, is
:class:`~ness_ros.segmentation.intrinsics.ImageMapping`'s, so ``~/camera_info`` of a
working-resolution mask projects a point where its labels are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property

import cv2
import numpy as np
from numba import njit
from numpy.typing import NDArray

from ness_ros.events.batch import EVENT_DTYPE, EventBatch
from ness_ros.labels import IGNORE_LABEL
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.intrinsics import ImageMapping

#: Where a node publishes its mask: at the sensor's resolution or at the working resolution.
MASK_RESOLUTIONS = ("sensor", "working")
#: ``working_size`` values besides an explicit ``WIDTHxHEIGHT``: ``auto`` fits the model's
#: training size (never larger than the sensor), ``sensor`` runs at the sensor's resolution.
SIZE_WORDS = ("auto", "sensor")
#: The event-only model's default cap on working pixels (``working_max_pixels``): EvSegSNN
#: costs about twice SegSNN a pixel, too slow for 20 Hz on one core at its 346 x 260 training
#: size; capped it runs 277 x 208 at 4:3 and 320 x 180 at 16:9. The hybrid model runs uncapped.
EVENT_ONLY_MAX_PIXELS = 57_600
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@dataclass(frozen=True)
class WorkingResolution:
    """What the node runs at.

    Attributes:
        size: ``auto`` (the sensor or its region of interest scaled, aspect kept, to fit the
            model's training size; never up), ``sensor`` (no resize), or ``WIDTHxHEIGHT``.
        roi: (x_offset, y_offset, width, height) in sensor pixels, or None for the whole
            sensor.
        mask_at: ``sensor`` or ``working``: the resolution of the published mask.
        max_pixels: with ``auto``, at most this many working pixels (aspect kept; 0: no cap),
            for a model too slow at its training size for the frame rate.

    Raises:
        ValueError: an unknown size word, a malformed or non-positive size, a negative roi
            offset, a roi of zero size, or an unknown ``mask_at``.
    """

    size: str = "auto"
    roi: tuple[int, int, int, int] | None = None
    mask_at: str = "sensor"
    max_pixels: int = 0

    def __post_init__(self) -> None:
        if self.max_pixels < 0:
            raise ValueError(f"working_max_pixels must be >= 0, got {self.max_pixels}")
        if self.size not in SIZE_WORDS:
            match = _SIZE.match(self.size)
            if match is None or min(int(match[1]), int(match[2])) <= 0:
                raise ValueError(f"working_size must be one of {SIZE_WORDS} or WIDTHxHEIGHT "
                                 f"with positive numbers, got {self.size!r}")
        if self.roi is not None:
            x, y, w, h = self.roi
            if x < 0 or y < 0 or w <= 0 or h <= 0:
                raise ValueError(f"roi (x_offset, y_offset, width, height) must have offsets "
                                 f">= 0 and a positive size, got {self.roi}")
        if self.mask_at not in MASK_RESOLUTIONS:
            raise ValueError(f"mask_resolution must be one of {MASK_RESOLUTIONS}, got "
                             f"{self.mask_at!r}")

    @classmethod
    def from_params(cls, size: str, roi_x_offset: int, roi_y_offset: int, roi_width: int,
                    roi_height: int, mask_at: str, max_pixels: int = 0) -> WorkingResolution:
        """From the node's parameters: a roi of width or height 0 is the whole sensor (as in
        sensor_msgs/RegionOfInterest)."""
        roi = ((roi_x_offset, roi_y_offset, roi_width, roi_height)
               if roi_width > 0 and roi_height > 0 else None)
        if roi is None and (roi_x_offset or roi_y_offset):
            raise ValueError("roi offsets are set but roi_width or roi_height is 0: give the "
                             "region's size too")
        return cls(size.strip(), roi, mask_at, max_pixels)

    def mapping(self, sensor_size: tuple[int, int],
                model_size: tuple[int, int]) -> ImageMapping:
        """How the working image is made from a ``sensor_size`` (width, height) image.

        Raises:
            ValueError: the roi leaves the sensor.
        """
        roi = self.roi or (0, 0, *sensor_size)
        ImageMapping(sensor_size, roi)  # validates the roi against the sensor
        if self.size == "sensor":
            size = (roi[2], roi[3])
        elif self.size == "auto":
            scale = min(model_size[0] / roi[2], model_size[1] / roi[3], 1.0)
            if self.max_pixels:
                scale = min(scale, (self.max_pixels / (roi[2] * roi[3])) ** 0.5)
            size = (max(1, round(roi[2] * scale)), max(1, round(roi[3] * scale)))
        else:
            match = _SIZE.match(self.size)
            assert match is not None  # checked in __post_init__
            size = (int(match[1]), int(match[2]))
        return ImageMapping(sensor_size, roi, size)

    def rescaler(self, sensor_size: tuple[int, int],
                 model_size: tuple[int, int]) -> Rescaler:
        return Rescaler(self.mapping(sensor_size, model_size), self.mask_at)


class SensorRescaler:
    """The :class:`Rescaler` of the newest sensor size, made again when the size changes: what
    a node and the offline evaluation hold.

    Args:
        working: the user's choice.
        model_size: (width, height) the model was trained at (``auto`` fits it).
    """

    def __init__(self, working: WorkingResolution, model_size: tuple[int, int]) -> None:
        self.working = working
        self.model_size = (int(model_size[0]), int(model_size[1]))
        self.current: Rescaler | None = None
        self._only: Rescaler | None = None

    @classmethod
    def fixed(cls, rescaler: Rescaler) -> SensorRescaler:
        """One ready rescaler, for its sensor size only (another raises ValueError): offline
        evaluation of sequences of one size."""
        made = cls(WorkingResolution(), rescaler.size)
        made._only = rescaler
        return made

    def for_sensor(self, sensor_size: tuple[int, int]) -> tuple[Rescaler, bool]:
        """(the rescaler of ``sensor_size``, True when it was made now).

        Raises:
            ValueError: the roi does not fit in the sensor (or the sensor is not the one of a
                :meth:`fixed` rescaler).
        """
        if self.current is not None and self.current.sensor_size == sensor_size:
            return self.current, False
        if self._only is None:
            self.current = self.working.rescaler(sensor_size, self.model_size)
        elif self._only.sensor_size == sensor_size:
            self.current = self._only
        else:
            raise ValueError(f"a {sensor_size[0]} x {sensor_size[1]} sensor given to a rescaler "
                             f"of {self._only.sensor_size[0]} x {self._only.sensor_size[1]}")
        return self.current, True

    def describe(self) -> str:
        if self.current is not None:
            return self.current.describe()
        return f"working_size {self.working.size} (sensor size not known yet)"


class Rescaler:
    """Applies one :class:`~ness_ros.segmentation.intrinsics.ImageMapping` to events, frames
    and masks of one sensor size.

    Args:
        mapping: sensor image -> working image (roi crop, then resize).
        mask_at: ``sensor`` or ``working``: what :meth:`mask` returns.
    """

    def __init__(self, mapping: ImageMapping, mask_at: str = "sensor") -> None:
        if mask_at not in MASK_RESOLUTIONS:
            raise ValueError(f"mask_at must be one of {MASK_RESOLUTIONS}, got {mask_at!r}")
        self.mapping = mapping
        self.mask_at = mask_at
        assert mapping.roi is not None and mapping.size is not None  # set by ImageMapping
        self.roi: tuple[int, int, int, int] = mapping.roi
        self.sensor_size: tuple[int, int] = mapping.input_size
        self.size: tuple[int, int] = mapping.size
        self.is_identity = mapping.is_identity

    def describe(self) -> str:
        x, y, w, h = self.roi
        roi = "" if (w, h) == self.sensor_size else f", roi {w} x {h} at ({x}, {y})"
        return (f"model at {self.size[0]} x {self.size[1]} (sensor {self.sensor_size[0]} x "
                f"{self.sensor_size[1]}{roi}), mask at the {self.mask_at} resolution")

    @property
    def event_density(self) -> float:
        """Working pixels per sensor pixel (sx * sy): a binned count times this is the mean
        count per sensor pixel."""
        sx, sy = self.mapping.scale
        return sx * sy

    def encoder(self, base: InputEncoder) -> InputEncoder:
        """``base`` (the model card's input recipe) for binned events: counts scaled by
        :attr:`event_density` before the clip and the scale, as counts per sensor pixel."""
        density = self.event_density
        if density == 1.0:
            return base
        clip = None if base.event_clip is None else base.event_clip / density
        return replace(base, event_clip=clip, event_scale=base.event_scale * density)

    @property
    def output_mapping(self) -> ImageMapping:
        """How the published mask is made from the sensor image (for its camera info)."""
        if self.mask_at == "working":
            return self.mapping
        return ImageMapping(self.sensor_size)

    # Working pixel of each sensor column / row inside the roi: floor((x - x0 + 0.5) * sx),
    # in integers, so that a 2:1 binning is exact.
    @cached_property
    def _columns(self) -> NDArray[np.intp]:
        return _bins(self.roi[2], self.size[0])

    @cached_property
    def _rows(self) -> NDArray[np.intp]:
        return _bins(self.roi[3], self.size[1])

    @cached_property
    def _column_counts(self) -> NDArray[np.intp]:
        return np.bincount(self._columns, minlength=self.size[0])

    @cached_property
    def _row_counts(self) -> NDArray[np.intp]:
        return np.bincount(self._rows, minlength=self.size[1])

    def events(self, batch: EventBatch) -> EventBatch:
        """Events of the roi binned to the working size (order and times kept)."""
        if self.is_identity:
            return batch
        if (batch.width, batch.height) != self.sensor_size:
            raise ValueError(f"events of a {batch.width} x {batch.height} sensor given to a "
                             f"rescaler of {self.sensor_size[0]} x {self.sensor_size[1]}")
        out = np.empty(len(batch), dtype=EVENT_DTYPE)
        kept = _bin_events(batch.t, batch.x, batch.y, batch.polarity, *self.roi, self._columns,
                           self._rows, out["t"], out["x"], out["y"], out["polarity"])
        out = out[:kept]
        return EventBatch(out, *self.size)

    def frame(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A (H, W[, C]) sensor frame cropped to the roi and brought to the working size: averaged
        over whole k x k blocks (k the whole part of the shrink factor), then sampled bilinearly
        at the working pixels' centres."""
        if self.is_identity:
            return image
        if (image.shape[1], image.shape[0]) != self.sensor_size:
            raise ValueError(f"a {image.shape[1]} x {image.shape[0]} frame given to a rescaler "
                             f"of {self.sensor_size[0]} x {self.sensor_size[1]}")
        x0, y0, w, h = self.roi
        crop = image[y0:y0 + h, x0:x0 + w]
        if (w, h) == self.size:
            return np.ascontiguousarray(crop)
        # OpenCV's area resize is slow at a ratio that is not whole (1.6 ms at 640 x 480 ->
        # 346 x 260, 3.3 ms from 1280 x 720): average whole k x k blocks first (its fast path),
        # then sample bilinearly with the exact geometry of the pixel rule (0.2 and 1.5 ms).
        sx, sy = self.mapping.scale
        k = int(min(1 / sx, 1 / sy))
        if k >= 2:
            crop = np.asarray(cv2.resize(crop[:h - h % k, :w - w % k], (w // k, h // k),
                                         interpolation=cv2.INTER_AREA), dtype=image.dtype)
        # Output pixel centre u sits at input (u + 0.5) / sx - 0.5, block (u + 0.5) / (sx k) - 0.5.
        k = max(k, 1)
        affine = np.array([[1 / (sx * k), 0.0, 0.5 / (sx * k) - 0.5],
                           [0.0, 1 / (sy * k), 0.5 / (sy * k) - 0.5]])
        return np.asarray(cv2.warpAffine(crop, affine, self.size,
                                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                         borderMode=cv2.BORDER_REPLICATE), dtype=image.dtype)

    def mask(self, mask: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The published mask from the working-resolution one: as it is (``working``), or at the
        sensor's resolution with each pixel's label from the working pixel it fell in and the
        pixels outside the roi unlabelled (``sensor``)."""
        if self.mask_at == "working" or self.is_identity:
            return mask
        x0, y0, w, h = self.roi
        out_w, out_h = self.sensor_size
        # Each working row / column repeated as many times as sensor ones fall in it (the bins
        # are monotonic): 0.3 ms at 640 x 480 against 1.1 for a gather by index.
        labels = np.repeat(np.repeat(mask, self._row_counts, axis=0), self._column_counts,
                           axis=1)
        if (x0, y0, w, h) == (0, 0, out_w, out_h):
            return labels
        out = np.full((out_h, out_w), IGNORE_LABEL, dtype=np.uint8)
        out[y0:y0 + h, x0:x0 + w] = labels
        return out


@njit(cache=True, nogil=True)
def _bin_events(t, x, y, polarity, x0, y0, width, height, columns, rows,  # noqa: ANN001, ANN202
                out_t, out_x, out_y, out_polarity):
    """Events inside the roi, in order, with their working pixel; returns how many. One pass:
    NumPy took 7 ms for 400 k events (masks, casts, gathers, a structured copy), this 1 ms."""
    kept = 0
    for i in range(len(t)):
        dx = np.int64(x[i]) - x0
        dy = np.int64(y[i]) - y0
        if 0 <= dx < width and 0 <= dy < height:
            out_t[kept] = t[i]
            out_x[kept] = columns[dx]
            out_y[kept] = rows[dy]
            out_polarity[kept] = polarity[i]
            kept += 1
    return kept


def _bins(length: int, size: int) -> NDArray[np.intp]:
    """For each of ``length`` input pixels, the one of ``size`` output pixels holding its centre:
    ``floor((i + 0.5) * size / length)``."""
    return ((2 * np.arange(length, dtype=np.intp) + 1) * size) // (2 * length)
