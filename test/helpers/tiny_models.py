"""Tiny untrained models for tests that need a real model but not real accuracy: the model files
are :func:`ness_ros.models.tiny.tiny_model_file`'s (``ness bench load`` writes the same)."""

from __future__ import annotations

from pathlib import Path

import torch

from ness_ros.models.segsnn import SegSNN
from ness_ros.models.tiny import tiny_model_file
from ness_ros.segmentation.inputs import InputEncoder

__all__ = ["TINY_ENCODER", "tiny_model_file", "tiny_model_files", "tiny_segsnn"]

#: The input recipe of the tiny models: 2 time steps over 50 ms, counts clipped at 4.
TINY_ENCODER = InputEncoder(num_steps=2, event_window_ns=50_000_000, event_clip=4.0,
                            event_scale=0.25, frame_channels=3, frame_mean=(0.45,) * 3,
                            frame_std=(0.25,) * 3)


def tiny_segsnn(base_width: int = 8, seed: int = 0) -> SegSNN:
    """An untrained hybrid model in eval mode that reads :data:`TINY_ENCODER`'s inputs."""
    torch.manual_seed(seed)
    return SegSNN(base_width=base_width, num_steps=TINY_ENCODER.num_steps).eval()


def tiny_model_files(folder: Path, width: int, height: int, *, base_width: int,
                     seed: int) -> dict[str, Path]:
    """A hybrid model for ``width`` x ``height`` (``"hybrid"``, ``segsnn.safetensors``) and an
    event-only one for 640 x 480 (``"events"``, ``evseg.safetensors``) in ``folder``: files, as
    a user has them."""
    return {"hybrid": tiny_model_file(folder, "segsnn", width=width, height=height,
                                      base_width=base_width, seed=seed, name="segsnn"),
            "events": tiny_model_file(folder, "evsegsnn", width=640, height=480,
                                      name="evseg")}
