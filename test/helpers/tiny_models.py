"""Tiny untrained model files for tests that need a real model file but not real accuracy."""

from __future__ import annotations

from pathlib import Path

import torch

from ness_ros.models.evsegsnn import EvSegSNN
from ness_ros.models.segsnn import SegSNN
from ness_ros.models.weights import ModelCard, save_model
from ness_ros.segmentation.inputs import InputEncoder

#: The input recipe of the tiny models: 2 time steps over 50 ms, counts clipped at 4.
TINY_ENCODER = InputEncoder(num_steps=2, event_window_ns=50_000_000, event_clip=4.0,
                            event_scale=0.25, frame_channels=3, frame_mean=(0.45,) * 3,
                            frame_std=(0.25,) * 3)


def tiny_segsnn(base_width: int = 8, seed: int = 0) -> SegSNN:
    """An untrained hybrid model in eval mode that reads :data:`TINY_ENCODER`'s inputs."""
    torch.manual_seed(seed)
    return SegSNN(base_width=base_width, num_steps=TINY_ENCODER.num_steps).eval()


def tiny_model_file(folder: Path, architecture: str = "segsnn", *, width: int = 96,
                    height: int = 64, base_width: int = 4, num_steps: int = 2, seed: int = 0,
                    name: str | None = None) -> Path:
    """Write ``folder/<name>.safetensors`` (+ card; default name ``tiny_<architecture>``) and
    return its path."""
    torch.manual_seed(seed)
    if architecture == "segsnn":
        model = SegSNN(base_width=base_width, num_steps=num_steps)
        frame = {"frame_mean": [0.45] * 3, "frame_std": [0.25] * 3}
    else:
        model = EvSegSNN(base_width=base_width, num_steps=num_steps)
        frame = {}
    card = ModelCard.for_model(model, input_size=(width, height), event_window_ms=50.0,
                               event_clip=4.0, event_scale=0.25, **frame)
    stem = Path(folder) / (name or f"tiny_{architecture}")
    save_model(model, card, stem)
    return stem.with_suffix(".safetensors")
