"""Tiny untrained model files: what ``ness bench load`` runs when no packaged weights exist,
and what the tests load where they need a real model file but not real accuracy."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ness_ros.labels import class_set
from ness_ros.models.evsegsnn import EvSegSNN
from ness_ros.models.segsnn import SegSNN
from ness_ros.models.weights import ModelCard, save_model

__all__ = ["tiny_model_file"]


def tiny_model_file(folder: Path, architecture: str = "segsnn", *, width: int = 96,
                    height: int = 64, base_width: int = 4, num_steps: int = 2, seed: int = 0,
                    name: str | None = None, classes: str = "ddd17") -> Path:
    """Write ``folder/<name>.safetensors`` (+ card; default name ``tiny_<architecture>``) and
    return its path: an untrained ``segsnn`` (frames and events) or ``evsegsnn`` (events) of
    ``base_width`` channels and ``num_steps`` time steps labelling the class set ``classes``
    (:data:`~ness_ros.labels.CLASS_SETS`), its weights drawn from ``seed``, its card reading
    ``width`` x ``height`` inputs over 50 ms of events."""
    torch.manual_seed(seed)
    labels = class_set(classes)
    model: nn.Module
    frame: dict[str, list[float]] = {}
    if architecture == "segsnn":
        model = SegSNN(num_classes=labels.num_classes, base_width=base_width,
                       num_steps=num_steps)
        frame = {"frame_mean": [0.45] * 3, "frame_std": [0.25] * 3}
    else:
        model = EvSegSNN(num_classes=labels.num_classes, base_width=base_width,
                         num_steps=num_steps)
    card = ModelCard.for_model(model, input_size=(width, height), event_window_ms=50.0,
                               event_clip=4.0, event_scale=0.25, class_names=list(labels.names),
                               palette=labels.palette.tolist(), **frame)
    stem = Path(folder) / (name or f"tiny_{architecture}")
    save_model(model, card, stem)
    return stem.with_suffix(".safetensors")
