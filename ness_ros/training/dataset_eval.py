"""A model scored on a real data set (``ness eval model --dataset dsec|ddd17``): one full pass
per labelled window of a split, in the class set of the model's card. ROS-free.

The samples are those training reads (:mod:`ness_ros.training.real_data`), encoded by the card's
input recipe, so a model is scored on what it was trained to see. DSEC's labels are taken as
they are for a model of its 11 classes and mapped to DDD17's six for a six-class model; a model
that takes frames (SegSNN) gets DSEC's frames brought into the label frame, one sample per label
with a frame near its time, and is not scored where the frame camera does not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ness_ros.labels import ClassSet, class_set_named
from ness_ros.metrics import mean_iou, per_class_iou, pixel_accuracy
from ness_ros.models.errors import ModelError
from ness_ros.models.weights import ModelCard
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.training.real_data import DATASET_SIZE, RealSamples, real_samples
from ness_ros.training.trainer import evaluate_frames


@dataclass
class DatasetReport:
    """Scores of one model over one split of a real data set.

    ``confusion`` is (classes, classes), rows the labels, in the order of ``class_names``;
    ``frames_per_s`` counts the model's passes only (reading and encoding excluded).
    """

    dataset: str
    split: str
    class_names: list[str]
    frames: int
    miou: float
    pixel_accuracy: float
    per_class_iou: list[float]
    confusion: list[list[int]]
    frames_per_s: float
    sources: list[str] = field(default_factory=list)


def card_class_set(card: ModelCard, dataset: str) -> ClassSet:
    """The registered class set of ``card`` that ``dataset``'s labels can be given in.

    Raises:
        ModelError: the card's classes are not a registered set, or not one the data set's
            labels map to (DDD17 labels are six classes only).
    """
    found = class_set_named(card.class_names)
    if found is None:
        raise ModelError(f"the model's classes {card.class_names} are not a known class set "
                         "(ddd17 or dsec11)")
    if dataset == "ddd17" and found.name != "ddd17":
        raise ModelError(f"the model predicts the {found.name} classes; DDD17's labels are the "
                         "six ddd17 classes")
    return found


def evaluation_samples(card: ModelCard, dataset: str, root: str | Path, split: str
                       ) -> tuple[RealSamples, ClassSet]:
    """The windows of ``split`` encoded for ``card``'s model, and the class set they are in."""
    classes = card_class_set(card, dataset)
    return real_samples(dataset, root, split, InputEncoder.from_card(card), classes), classes


def evaluate_dataset(model: torch.nn.Module, card: ModelCard, dataset: str, root: str | Path,
                     split: str = "test", *, batch_size: int = 4, device: str = "cpu",
                     workers: int = 0, progress: bool = False) -> DatasetReport:
    """Score ``model`` (described by ``card``) on every window of ``split`` of ``dataset``."""
    samples, classes = evaluation_samples(card, dataset, root, split)
    seconds: list[float] = []
    confusion = evaluate_frames(model.to(device), samples, batch_size=batch_size, device=device,
                                progress=progress, num_classes=classes.num_classes,
                                workers=workers, desc=f"{dataset} {split}",
                                model_seconds=seconds)
    frames, model_s = len(samples), sum(seconds)
    return DatasetReport(
        dataset=dataset, split=split, class_names=list(classes.names), frames=frames,
        miou=float(mean_iou(confusion)), pixel_accuracy=float(pixel_accuracy(confusion)),
        per_class_iou=[float(v) for v in per_class_iou(confusion)],
        confusion=confusion.tolist(), frames_per_s=frames / model_s if model_s > 0 else 0.0,
        sources=samples.layouts())


def size_note(card: ModelCard, dataset: str) -> str | None:
    """A line when the model was trained at another size than the data set's, else None."""
    size = DATASET_SIZE[dataset]
    if tuple(card.input_size) == size:
        return None
    return (f"note: the model was trained at {card.input_size[0]} x {card.input_size[1]}, "
            f"{dataset} is {size[0]} x {size[1]}; it runs at the data set's size")
