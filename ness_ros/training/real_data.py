"""Training and evaluation samples from the real data sets: DSEC-Semantic and DDD17.

Items are those of :class:`~ness_ros.training.dataset.FrameSamples` (frame, event tensor, label),
so the training loop, the augmentation and the evaluation take synthetic and real samples alike.

- DSEC-Semantic (:mod:`ness_ros.data.dsec`): one sample per label of every sequence of
  ``<root>/<split>`` whose whole event window lies in the recording; events rectified and cropped
  to the 640 x 440 label frame (ESS's crop), binned by the model's
  :class:`~ness_ros.segmentation.inputs.InputEncoder`. Labels in DSEC's 11 classes, or mapped to
  DDD17's six. For a model that takes frames (SegSNN), each label with the frame nearest its time
  from the sequence's ``images/`` and ``calibration/`` (:class:`~ness_ros.data.dsec_frames.
  DsecFrames`: another camera, brought into the label frame by the homography at infinity); the
  sample is taken at the frame's time, labels without a frame near enough are skipped (counted
  in :meth:`DsecWindows.layouts`), and label pixels the frame camera does not see are ignored.
- DDD17 as released with Ev-SegNet (:mod:`ness_ros.data.ddd17`): one sample per file of
  ``<root>/<split>``, 346 x 200 (the release's crop); the event counts spread over the model's
  time steps (:func:`~ness_ros.data.ddd17.counts_tensor`: the release keeps no time order inside
  the window), the grey frame for SegSNN.

Validation uses the ``test`` split when the root has one, else the last tenth of the training
samples, held out as one block (neighbouring windows are nearly the same image).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

import numpy as np
import torch
from numpy.typing import NDArray

from ness_ros.data.ddd17 import DDD17_SHAPE, Ddd17Split, counts_tensor, to_counts
from ness_ros.data.dsec import LABEL_HEIGHT, SENSOR_WIDTH, DsecSequence, list_sequences
from ness_ros.data.errors import DataError
from ness_ros.labels import ClassSet, class_set
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.training.errors import TrainingError

if TYPE_CHECKING:
    from ness_ros.training.config import TrainConfig

#: Data sources of ``ness train --dataset`` and ``ness eval model --dataset``.
DATASETS = ("synthetic", "dsec", "ddd17")

#: (width, height) of each real data set's labels: the crops the seed papers use.
DATASET_SIZE: dict[str, tuple[int, int]] = {"dsec": (SENSOR_WIDTH, LABEL_HEIGHT),
                                            "ddd17": (DDD17_SHAPE[1], DDD17_SHAPE[0])}

#: Share of the training samples held out for validation when the root has no test split.
HELD_OUT_FRACTION = 0.1

Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def dataset_class_set(dataset: str, classes: str = "") -> ClassSet:
    """The label set a model of ``dataset`` is trained on: ``classes`` by name, or the data
    set's own when empty (DSEC: ``dsec11``; synthetic and DDD17: ``ddd17``).

    Raises:
        ValueError: an unknown data set or class set, or one the data set cannot give (only
            DSEC's 11 classes map to another set: DDD17's six).
    """
    if dataset not in DATASETS:
        raise TrainingError(f"unknown dataset {dataset!r}; choose from {list(DATASETS)}")
    own = "dsec11" if dataset == "dsec" else "ddd17"
    name = classes or own
    chosen = class_set(name)
    if name != own and not (dataset == "dsec" and name == "ddd17"):
        also = "; dsec can also map to ddd17" if dataset == "dsec" else ""
        raise TrainingError(f"the {dataset} labels cannot be given as the {name} classes "
                            f"(they are {own}{also})")
    return chosen


class _IndexedSamples(torch.utils.data.Dataset):
    """Samples of a data set chosen by ``index`` (positions in the whole split), so that a
    split can be cut in parts (:meth:`take`) without reading anything again."""

    index: list

    def take(self, positions: Sequence[int]) -> Self:
        """The samples at ``positions`` (of this set) as a set of their own."""
        subset = object.__new__(type(self))
        subset.__dict__.update(self.__dict__)
        subset.index = [self.index[p] for p in positions]
        return subset

    def __len__(self) -> int:
        return len(self.index)


class DsecWindows(_IndexedSamples):
    """Every label of the DSEC-Semantic sequences of ``<root>/<split>`` with a full event window
    (and, for a model that takes frames, a frame: see the module docstring).

    Args:
        root: the data set root (holding ``train/`` and ``test/``).
        split: the split folder.
        encoder: the model's input recipe; with ``frame_channels`` every sequence must hold
            its frames and calibration (DataError naming the missing folders).
        classes: ``dsec11`` (DSEC's labels as they are) or ``ddd17`` (mapped to the six).
    """

    def __init__(self, root: str | Path, split: str, encoder: InputEncoder, *,
                 classes: ClassSet) -> None:
        if classes.name not in ("dsec11", "ddd17"):
            raise DataError(f"DSEC-Semantic labels map to dsec11 or ddd17, not {classes.name}")
        folders = list_sequences(root, split)
        if not folders:
            raise DataError(f"no DSEC-Semantic sequence in {Path(root) / split} (expected "
                            "<sequence>/events/left/events.h5 folders)")
        self.encoder = encoder
        self.hybrid = encoder.frame_channels > 0
        self.mapped = classes.name == "ddd17"
        self.window_us = encoder.event_window_ns // 1000
        self.sequences = [DsecSequence(folder, frames=self.hybrid)
                          for folder in folders]
        self.index: list[tuple[int, int]] = []
        for s, seq in enumerate(self.sequences):
            self.index += [(s, int(i)) for i in seq.complete_samples(self.window_us)[0]]
        if not self.index:
            raise DataError(f"{Path(root) / split}: no label has a full {self.window_us} µs "
                            "event window in its recording"
                            + (" and a frame near its time" if self.hybrid else ""))

    def layouts(self) -> list[str]:
        """Which DSEC-Semantic layout each sequence was found in (and, for the hybrid model,
        its frames), one line per sequence."""
        return [f"{seq.name}: {seq.layout.describe()}"
                + (f"; {seq.describe_frames()}" if self.hybrid else "")
                for seq in self.sequences]

    def label(self, item: int) -> NDArray[np.uint8]:
        """The label of sample ``item``; for the hybrid model, 255 where the frame camera does
        not see (neither trained nor scored there)."""
        s, i = self.index[item]
        return self.sequences[s].label(i, mapped=self.mapped, seen_only=self.hybrid)

    def __getitem__(self, item: int) -> Sample:
        s, i = self.index[item]
        seq = self.sequences[s]
        stamp_us = seq.sample_stamp_us(i)
        events = seq.read_events(stamp_us - self.window_us, stamp_us)
        tensor = self.encoder.event_tensor(events, stamp_us * 1000)
        label = self.label(item)
        frame = (torch.from_numpy(self.encoder.frame_tensor(seq.frame(i))) if self.hybrid
                 else torch.empty((0, *label.shape)))
        return frame, torch.from_numpy(tensor), torch.from_numpy(label.astype(np.int64))


class Ddd17Samples(_IndexedSamples):
    """Every sample of a split of the Ev-SegNet DDD17 release: event counts (and the grey frame
    when the encoder takes frames), label in DDD17's six classes."""

    def __init__(self, root: str | Path, split: str, encoder: InputEncoder, *,
                 classes: ClassSet) -> None:
        if classes.name != "ddd17":
            raise DataError(f"DDD17 labels are the ddd17 classes, not {classes.name}")
        self.split = Ddd17Split(root, split)
        if encoder.frame_channels and self.split.image_paths is None:
            raise DataError(f"{self.split.folder}: no images folder, but the model takes frames "
                            "(train --model evsegsnn, or add the release's images/)")
        self.encoder = encoder
        self.index = list(range(len(self.split)))

    def layouts(self) -> list[str]:
        return [f"DDD17 (Ev-SegNet release) {self.split.folder}: {len(self.split)} samples"]

    def label(self, item: int) -> NDArray[np.uint8]:
        return self.split.label(self.index[item])

    def __getitem__(self, item: int) -> Sample:
        i = self.index[item]
        representation, label = self.split[i]
        enc = self.encoder
        events = counts_tensor(to_counts(representation), enc.num_steps, clip=enc.event_clip,
                               scale=enc.event_scale)
        frame = (enc.frame_tensor(self.split.image(i)) if enc.frame_channels
                 else np.empty((0, *label.shape), np.float32))
        return (torch.from_numpy(frame), torch.from_numpy(events),
                torch.from_numpy(label.astype(np.int64)))


RealSamples = DsecWindows | Ddd17Samples


def real_samples(dataset: str, root: str | Path, split: str, encoder: InputEncoder,
                 classes: ClassSet) -> RealSamples:
    """The samples of ``split`` of the real ``dataset`` (``dsec`` or ``ddd17``) at ``root``."""
    if not str(root):
        raise TrainingError(f"--data-root is needed for --dataset {dataset} (the folder "
                            "holding train/ and test/)")
    if dataset == "dsec":
        return DsecWindows(root, split, encoder, classes=classes)
    if dataset == "ddd17":
        return Ddd17Samples(root, split, encoder, classes=classes)
    raise DataError(f"not a real data set: {dataset!r} (dsec or ddd17)")


def evenly_spaced(samples: RealSamples, count: int) -> RealSamples:
    """About ``count`` samples spread evenly over ``samples`` (all of them when fewer)."""
    stride = max(1, len(samples) // max(1, count))
    return samples.take(range(0, len(samples), stride))


def label_counts(samples: RealSamples, num_classes: int, *, max_labels: int = 500
                 ) -> NDArray[np.int64]:
    """Pixels per class over at most ``max_labels`` labels spread evenly over ``samples``."""
    counts = np.zeros(num_classes, np.int64)
    for item in range(0, len(samples), max(1, len(samples) // max_labels)):
        counts += np.bincount(samples.label(item).ravel(), minlength=256)[:num_classes]
    return counts


@dataclass
class RealTrainingData:
    """What training needs from a real data set (see :func:`real_training_data`)."""

    train: RealSamples
    val: RealSamples
    label_counts: NDArray[np.int64]
    input_size: tuple[int, int]


def real_training_data(config: TrainConfig, encoder: InputEncoder, classes: ClassSet, *,
                       log: Callable[[str], None] = print) -> RealTrainingData:
    """Training and validation samples of ``config.dataset`` at ``config.data_root`` (a
    TrainConfig): the ``train`` split, validated on ``test`` (else a held-out tenth), about
    ``config.val_frames`` validation samples."""
    train = real_samples(config.dataset, config.data_root, "train", encoder, classes)
    for line in train.layouts():
        log(f"train: {line}")
    if (Path(config.data_root) / "test").is_dir():
        val = real_samples(config.dataset, config.data_root, "test", encoder, classes)
        for line in val.layouts():
            log(f"validation: {line}")
        source = "the test split"
    else:
        if len(train) < 2:
            raise DataError(f"{config.data_root}: no test split and too few training samples "
                            f"({len(train)}) to hold some out")
        held = max(1, int(round(len(train) * HELD_OUT_FRACTION)))
        val = train.take(range(len(train) - held, len(train)))
        train = train.take(range(len(train) - held))
        source = f"the last {held} training samples (no test split)"
    val = evenly_spaced(val, config.val_frames)
    log(f"{config.dataset}: {len(train)} training samples, {len(val)} validation samples from "
        f"{source}; classes {classes.name} ({classes.num_classes})")
    return RealTrainingData(train, val, label_counts(train, classes.num_classes),
                            DATASET_SIZE[config.dataset])
