"""One forward pass from model inputs to class ids: shared by segmenters, evaluation, training."""

from __future__ import annotations

import copy

import torch

from ness_ros.models.spiking import fold_batch_norm


def inference_model(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` for inference: eval mode, batch norms folded into the convolutions
    (same outputs up to float rounding, one operation fewer per layer). The original is left
    as it is, so it can still be trained, saved or measured."""
    return fold_batch_norm(copy.deepcopy(model).eval())


def run_model(model: torch.nn.Module, frames: torch.Tensor | None,
              events: torch.Tensor) -> torch.Tensor:
    """Logits (B, classes, H, W) of ``model`` for frames (B, C, H, W) and events (T, B, 2, H, W).

    Hybrid models take both inputs, event-only models (``frames`` None or with 0 channels) only
    the events. Gradients are whatever the caller's context allows.
    """
    if frames is None or frames.shape[1] == 0:
        return model(events)
    return model(frames, events)


def class_ids(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(dim=1)`` as uint8 for finite logits (B, classes, H, W), ties to the
    lowest class as argmax does.

    A running maximum over the class planes: every step is an element-wise op over one plane.
    ``argmax`` over dimension 1 reduces across strided memory, one pixel at a time: on a CPU it
    took 15-20 ms for a 346 x 260 frame of 6 classes (a third of the whole forward pass), this
    about 1.5 ms.
    """
    classes = logits.shape[1]
    if classes > 256:
        raise ValueError(f"uint8 class ids hold at most 256 classes, got {classes}")
    best = logits[:, 0].clone()
    ids = torch.zeros_like(best)
    for c in range(1, classes):
        plane = logits[:, c]
        better = torch.gt(plane, best).to(best.dtype)
        ids.addcmul_(better, c - ids)  # c where this class is strictly better, else unchanged
        torch.maximum(best, plane, out=best)
    return ids.to(torch.uint8)


@torch.inference_mode()
def predict_labels(model: torch.nn.Module, frames: torch.Tensor | None,
                   events: torch.Tensor) -> torch.Tensor:
    """Class ids (B, H, W) uint8 for a batch, in inference mode."""
    return class_ids(run_model(model, frames, events))
