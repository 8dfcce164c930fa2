"""DDD17 as released with Ev-SegNet (Alonso & Murillo 2019): event images with 6-class labels.

Layout::

    <root>/{train,test}/events/<name>.npy   (H, W, C) float event representation
    <root>/{train,test}/labels/<name>.png   (H, W) uint8 class ids, paired with events by name

    <root>/{train,test}/images/<name>.png   (H, W) uint8 DAVIS grey frames (optional here)

(:meth:`Ddd17Split.image` reads a frame; training reads only events and labels).
Sizes: 346 x 200 (W x H): Ev-SegNet cut the bottom 60 rows of the 346 x 260 DAVIS346 frame, where
the car's hood is and the labels are unreliable. Classes are those of :mod:`ness_ros.labels`:
flat 0, background (construction and sky) 1, object 2, vegetation 3, human 4, vehicle 5, 255
ignore.

The representation integrates the events of a fixed window before each frame (Ev-SegNet: 50 ms)
into C = 6 channels, two per statistic, in the assumed order (:data:`EVSEGNET_CHANNELS`):
count of negative events, count of positive events, mean of their normalised timestamps
(negative, positive), standard deviation of those timestamps (negative, positive). Only the
counts map to the input of ness_ros models; :func:`to_counts` picks them (its ``channels``
argument overrides the assumed positions) and :func:`counts_tensor` spreads them over the T time
bins of a model. Feeding a model::

    split = Ddd17Split(root, "test")
    rep, label = split[i]
    events = counts_tensor(to_counts(rep), encoder.num_steps,
                           clip=encoder.event_clip, scale=encoder.event_scale)  # (T, 2, H, W)

The time order inside the window is lost in the release, so every bin sees the same counts: use
a model card whose event window is the release's (about 50 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ness_ros.data.errors import DataError
from ness_ros.data.real_datasets import check_class_ids, read_label_png, require_dir
from ness_ros.labels import NUM_CLASSES

#: (height, width) of the released images.
DDD17_SHAPE = (200, 346)
#: Channel meaning of the Ev-SegNet representation, in the assumed order.
EVSEGNET_CHANNELS: tuple[str, ...] = ("count_negative", "count_positive", "mean_t_negative",
                                      "mean_t_positive", "std_t_negative", "std_t_positive")


class Ddd17Split:
    """One split of the Ev-SegNet DDD17 release, read file by file.

    ``split[i]`` is ``(representation (H, W, C) float32, label (H, W) uint8)``; both are
    validated (matching sizes, ``shape`` when given, class ids 0..5 or 255).

    Attributes:
        names: sample names (file stems) in sorted order.
        event_paths, label_paths: the paired files, in the order of ``names``.
        image_paths: the grey frames ``images/<name>.png`` in that order, or None when the split
            has no ``images`` folder.
    """

    def __init__(self, root: str | Path, split: str, *,
                 shape: tuple[int, int] | None = DDD17_SHAPE) -> None:
        """Args: root: release folder; split: "train" or "test" (any folder name is accepted);
        shape: expected (height, width) of every sample, None for any size."""
        folder = require_dir(Path(root) / split, f"DDD17 split '{split}'")
        events = {p.stem: p for p in require_dir(folder / "events", "DDD17 events").glob("*.npy")}
        labels = {p.stem: p for p in require_dir(folder / "labels", "DDD17 labels").glob("*.png")}
        only_events = sorted(events.keys() - labels.keys())
        only_labels = sorted(labels.keys() - events.keys())
        if only_events or only_labels:
            raise DataError(f"{folder}: unpaired files: {len(only_events)} event files without "
                            f"label {only_events[:3]}, {len(only_labels)} labels without event "
                            f"file {only_labels[:3]}")
        if not events:
            raise DataError(f"{folder}: no samples in events/ and labels/")
        self.folder = folder
        self.shape = None if shape is None else (int(shape[0]), int(shape[1]))
        self.names = sorted(events)
        self.event_paths = [events[n] for n in self.names]
        self.label_paths = [labels[n] for n in self.names]
        self.image_paths: list[Path] | None = None
        if (folder / "images").is_dir():
            images = {p.stem: p for p in (folder / "images").glob("*.png")}
            missing = [n for n in self.names if n not in images]
            if missing:
                raise DataError(f"{folder / 'images'}: no frame for {len(missing)} samples "
                                f"{missing[:3]}")
            self.image_paths = [images[n] for n in self.names]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
        """Sample ``index``: representation (H, W, C) float32 and label (H, W) uint8."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"sample {index} of a split of {len(self)}")
        rep, label = self.representation(index), self.label(index)
        if rep.shape[:2] != label.shape:
            raise DataError(f"{self.names[index]}: representation {rep.shape[1]} x {rep.shape[0]} "
                            f"and label {label.shape[1]} x {label.shape[0]} (W x H) differ in "
                            "size")
        return rep, label

    def representation(self, index: int) -> NDArray[np.float32]:
        """The event representation of sample ``index``, (H, W, C) float32."""
        path = self.event_paths[index]
        try:
            rep = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read event representation {path}: {err}") from err
        if rep.ndim != 3 or not np.issubdtype(rep.dtype, np.number):
            raise DataError(f"{path}: expected a numeric (H, W, C) array, got shape "
                            f"{rep.shape} of {rep.dtype}")
        if self.shape is not None and rep.shape[:2] != self.shape:
            raise DataError(f"{path}: representation is {rep.shape[1]} x {rep.shape[0]} "
                            f"(W x H), expected {self.shape[1]} x {self.shape[0]}")
        return rep.astype(np.float32, copy=False)

    def image(self, index: int) -> NDArray[np.uint8]:
        """The grey frame of sample ``index``, (H, W) uint8; DataError when the split has none."""
        if self.image_paths is None:
            raise DataError(f"{self.folder}: no images folder (the DAVIS grey frames)")
        path = self.image_paths[index]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DataError(f"cannot read frame {path}")
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if image.dtype != np.uint8 or (self.shape is not None and image.shape != self.shape):
            raise DataError(f"frame {path}: expected uint8 {self.shape or '(H, W)'}, got "
                            f"{image.shape} of {image.dtype}")
        return image

    def label(self, index: int) -> NDArray[np.uint8]:
        """The label of sample ``index``, (H, W) uint8 (ids 0..5, 255 ignore)."""
        path = self.label_paths[index]
        label = read_label_png(path, self.shape)
        check_class_ids(label, NUM_CLASSES, path)
        return label


def to_counts(representation: NDArray[np.floating],
              channels: Sequence[int] = (0, 1)) -> NDArray[np.float32]:
    """Event counts per polarity from an Ev-SegNet representation.

    Args:
        representation: (H, W, C) array.
        channels: positions of the (negative, positive) count channels.

    Returns:
        (2, H, W) float32, channel 0 OFF (negative), channel 1 ON (positive), as
        :func:`~ness_ros.events.representations.event_counts`; negative values (an "empty"
        marker in some exports) become 0.
    """
    rep = np.asarray(representation)
    if rep.ndim != 3 or len(channels) != 2 or max(channels) >= rep.shape[2]:
        raise DataError(f"cannot take count channels {tuple(channels)} of an array of shape "
                        f"{rep.shape}: expected (H, W, C) with C > {max(channels, default=0)}")
    counts = np.moveaxis(rep[:, :, list(channels)], 2, 0).astype(np.float32)
    return np.maximum(counts, 0.0, out=counts)


def counts_tensor(counts: NDArray[np.floating], num_steps: int, *, whole_events: bool = True,
                  clip: float | None = None, scale: float = 1.0) -> NDArray[np.float32]:
    """Spread per-pixel counts evenly over ``num_steps`` time bins: the model input of a window.

    Args:
        counts: (2, H, W) counts (channel 0 OFF, 1 ON), e.g. from :func:`to_counts`.
        num_steps: T, the model's time bins.
        whole_events: counts are rounded to whole events and bin ``b`` gets
            ``floor((b + 1) n / T) - floor(b n / T)`` of the ``n`` events (integer counts, as
            :func:`~ness_ros.events.representations.spike_tensor` produces for events spread
            uniformly in time); False gives ``n / T`` to every bin (for normalised counts).
        clip, scale: as :class:`~ness_ros.segmentation.inputs.InputEncoder` (``event_clip``,
            ``event_scale``): each bin is capped at ``clip``, then multiplied by ``scale``.

    Returns:
        (T, 2, H, W) float32; without ``clip`` its sum over T equals the (rounded) counts.
    """
    if num_steps <= 0:
        raise DataError(f"num_steps must be positive, got {num_steps}")
    counts = np.asarray(counts)
    if counts.ndim != 3 or counts.shape[0] != 2:
        raise DataError(f"counts must have shape (2, H, W), got {counts.shape}")
    if whole_events:
        n = np.rint(np.maximum(counts, 0)).astype(np.int64)
        edges = np.arange(num_steps + 1, dtype=np.int64).reshape(-1, 1, 1, 1) * n // num_steps
        tensor = np.diff(edges, axis=0).astype(np.float32)
    else:
        share = counts.astype(np.float32) / np.float32(num_steps)
        tensor = np.repeat(share[None], num_steps, axis=0)
    if clip is not None:
        np.minimum(tensor, np.float32(clip), out=tensor)
    if scale != 1.0:
        tensor *= np.float32(scale)
    return tensor
