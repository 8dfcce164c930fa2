"""The settings of a training run (``ness train``, YAML or flags): importable without torch or
numba, so that the command line can build its parser quickly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ness_ros.training.errors import TrainingError

if TYPE_CHECKING:
    import torch

    from ness_ros.labels import ClassSet
    from ness_ros.segmentation.inputs import InputEncoder

#: Frame normalisation of models with a frame input (per channel; mono uses the first value).
FRAME_MEAN, FRAME_STD = 0.45, 0.25


@dataclass
class TrainConfig:
    """Everything a training run depends on; written into checkpoints and the model card.
    What each field means is in :data:`FIELD_HELP` (``ness train --help`` prints it)."""

    model: str = "segsnn"
    base_width: int = 12
    fine_width: int = 0
    num_steps: int = 3
    frame_channels: int = 3
    event_window_ms: float = 50.0
    event_clip: float = 4.0
    dataset: str = "synthetic"
    data_root: str = ""
    classes: str = ""
    train_seeds: list[int] = field(default_factory=lambda: list(range(1, 9)))
    val_seeds: list[int] = field(default_factory=lambda: [1001])
    duration_s: float = 10.0
    width: int = 346
    height: int = 260
    crop: tuple[int, int] = (128, 160)
    batch_size: int = 8
    epochs: int = 6
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    val_frames: int = 60
    class_weights: str = "inverse_sqrt"
    init_weights: str = ""
    data_dir: str = ""
    data_workers: int = 0
    preload: str = "auto"
    time_budget_min: float = 0.0
    out_dir: str = "runs/train"

    def encoder(self) -> InputEncoder:
        from ness_ros.segmentation.inputs import InputEncoder  # the event layer loads numba

        channels = self.frame_channels if self.model == "segsnn" else 0
        return InputEncoder(
            num_steps=self.num_steps, event_window_ns=int(self.event_window_ms * 1e6),
            event_clip=self.event_clip, event_scale=1.0 / self.event_clip,
            frame_channels=channels, frame_mean=(FRAME_MEAN,) * channels,
            frame_std=(FRAME_STD,) * channels)

    def class_set(self) -> ClassSet:
        """The label set the model learns: ``classes``, or the data set's own."""
        from ness_ros.training.real_data import dataset_class_set

        return dataset_class_set(self.dataset, self.classes)

    def build_model(self) -> torch.nn.Module:
        from ness_ros.models.weights import ARCHITECTURES

        if self.model not in ARCHITECTURES:
            raise TrainingError(f"unknown model {self.model!r}; choose from "
                                f"{sorted(ARCHITECTURES)}")
        kwargs: dict[str, Any] = {"num_classes": self.class_set().num_classes,
                                  "base_width": self.base_width, "num_steps": self.num_steps}
        if self.model == "segsnn":
            kwargs["frame_channels"] = self.frame_channels
            kwargs["fine_width"] = self.fine_width
        elif self.fine_width:
            raise TrainingError("fine_width applies to segsnn only")
        return ARCHITECTURES[self.model](**kwargs)


#: What each :class:`TrainConfig` field means, for ``ness train --help`` and the reader.
FIELD_HELP: dict[str, str] = {
    "model": "segsnn (frame + events) or evsegsnn (events only)",
    "base_width": "channels of the first encoder stage",
    "fine_width": "segsnn only: channels of the 1/2-resolution decoder stage (0: none, the "
                  "head works at 1/4 resolution)",
    "num_steps": "time steps T the event window is binned into",
    "frame_channels": "segsnn only: 3 (RGB) or 1 (mono)",
    "event_window_ms": "events before each frame that make its input, milliseconds",
    "event_clip": "per-bin event counts are clipped at this value (and scaled by its inverse)",
    "dataset": "synthetic (sequences generated from seeds), dsec (DSEC-Semantic: evsegsnn on "
               "its events; segsnn also on its frames, which need the sequences' images/ and "
               "calibration/ folders) or ddd17 (DDD17 as released with Ev-SegNet); real data "
               "sets train on "
               "their train split at their own size (DSEC 640 x 440, DDD17 346 x 200; width, "
               "height and the seeds are then unused) and validate on the test split, else on "
               "a held-out tenth of train",
    "data_root": "the real data set's folder, holding train/ and test/ (see doc/data.md)",
    "classes": "label set: empty for the data set's own (DSEC: dsec11, its 11 classes; "
               "synthetic and DDD17: ddd17, six), or ddd17 to map DSEC's classes to DDD17's six",
    "train_seeds": "synthetic sequences to train on",
    "val_seeds": "synthetic sequences to validate on after every epoch",
    "duration_s": "seconds per sequence",
    "width": "frame width in pixels",
    "height": "frame height in pixels",
    "crop": "random training crop, height and width",
    "batch_size": "samples per optimiser step (per process under torchrun)",
    "epochs": "passes over the training frames",
    "lr": "peak learning rate (AdamW; one epoch of warm-up, then a cosine decay)",
    "weight_decay": "AdamW weight decay",
    "seed": "seed of the initialisation, the shuffling and the augmentation",
    "device": "cpu or cuda",
    "threads": "torch threads (0: torch's default)",
    "val_frames": "about this many validation frames, evenly spaced over the val sequences",
    "class_weights": "cross-entropy class weights: none, or inverse_sqrt (frequency ** -0.5 over "
                     "the training labels, mean 1, capped at 10) so that thin, rare classes "
                     "(poles, people) count",
    "init_weights": "a saved model (stem or file) of the same architecture to start from, e.g. "
                    "the packaged ness_ros/weights/segsnn to fine-tune it: tensors with matching "
                    "names and shapes are copied (empty: a fresh initialisation)",
    "data_dir": "where sequences are cached (empty: $NESS_CACHE_DIR, else "
                "$XDG_CACHE_HOME/ness_ros, else ~/.cache/ness_ros)",
    "data_workers": "processes that generate missing sequences, and DataLoader workers on the "
                    "CPU",
    "preload": "encode every training sample once and keep it on the device: auto (on CUDA), "
               "yes, or no (encode on the fly, as the CPU needs; about 2 MB per frame)",
    "time_budget_min": "minutes the run may take (0: none): after the first epoch, epochs is "
                       "lowered to what fits and the schedule set for that count (the warm-up "
                       "does not depend on it); the card records the count that ran",
    "out_dir": "checkpoints (last, best) go here",
}
