"""One forward pass from model inputs to class ids: shared by segmenters, evaluation, training."""

from __future__ import annotations

import torch


def run_model(model: torch.nn.Module, frames: torch.Tensor | None,
              events: torch.Tensor) -> torch.Tensor:
    """Logits (B, classes, H, W) of ``model`` for frames (B, C, H, W) and events (T, B, 2, H, W).

    Hybrid models take both inputs, event-only models (``frames`` None or with 0 channels) only
    the events. Gradients are whatever the caller's context allows.
    """
    if frames is None or frames.shape[1] == 0:
        return model(events)
    return model(frames, events)


@torch.inference_mode()
def predict_labels(model: torch.nn.Module, frames: torch.Tensor | None,
                   events: torch.Tensor) -> torch.Tensor:
    """Class ids (B, H, W) uint8 for a batch, in inference mode."""
    return run_model(model, frames, events).argmax(dim=1).to(torch.uint8)
