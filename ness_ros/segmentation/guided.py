"""Class ids upsampled from the head's resolution with the frame as guide.

SegSNN predicts at 1/4 of the input and its logits are upsampled bilinearly, so a pole three
pixels wide is smeared over a whole head cell; even the ground truth seen that way scores only
85 % MIoU on the test drives (``ness eval model`` prints that ceiling). The frame has the detail.
A fast guided filter (He and Sun, "Fast Guided Filter", 2015) fits, in each head cell's
neighbourhood, class scores as a linear function of the frame's brightness at the head's
resolution, and applies the fitted coefficients at full resolution: edges in the frame become
edges in the labels.

The scores are the head's class probabilities (softmax of its logits); the guide is the frame's
brightness in [0, 1]. The coefficients are fitted at 1/16 of the pixels (about 1 ms for 346 x
260); one numba pass then interpolates them bilinearly (as ``F.interpolate(...,
align_corners=False)`` would), applies them and takes the best class per pixel, without
materialising full-resolution scores (about 1 ms). Against the model's own upsampling and argmax
the path costs 1 to 3 ms more per frame, so the segmenters use it only when asked.

Radius and regularisation were chosen on the validation drive (seed 1001, 200 frames): radius 1
cell and eps 1e-3 gave 76.9 % MIoU against 73.4 % with bilinear logits (eps 1e-2: 76.0, 3e-3:
76.7, 3e-4: 76.9; radius 2: 74.6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from numba import njit


@dataclass(frozen=True)
class GuidedUpsampling:
    """Parameters of the guided upsampling.

    Attributes:
        radius: half-size, in head cells, of the window over which scores are fitted to the
            guide (1: 3 x 3 cells, 12 x 12 pixels for SegSNN).
        eps: regularisation of the fit, in squared brightness (the guide is in [0, 1]): windows
            whose brightness varies less than about sqrt(eps) keep plain interpolated scores.
    """

    radius: int = 1
    eps: float = 1e-3

    def reach(self, stride: int) -> int:
        """Pixels beyond a pixel whose head logits can change its label: two box means of
        ``radius`` cells and the bilinear interpolation's one cell."""
        return (2 * self.radius + 1) * stride

    def validate(self) -> None:
        if self.radius < 1:
            raise ValueError(f"guided upsampling radius must be >= 1 head cell, got {self.radius}")
        if not self.eps > 0:
            raise ValueError(f"guided upsampling eps must be > 0, got {self.eps}")


#: Why guided upsampling is refused for the event-only model.
NEEDS_FRAMES = "guided upsampling needs the hybrid model: the event-only model has no frame to " \
               "guide it"

#: The settings the segmenters use when guided upsampling is asked for (node parameter
#: ``guided_upsampling``, ``--upsampling guided``). It is off by default: it costs 1 to 3 ms per
#: frame, and the node's latency target (p95 at most 50 ms at 20 Hz on a 2-core machine) was
#: met without it.
DEFAULT_GUIDED = GuidedUpsampling()


def brightness(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(B, 1, H, W) brightness in [0, 1] of normalised frames (B, C, H, W), ``(x / 255 - mean) /
    std`` per channel: the channels' mean, un-normalised."""
    channels = frames.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"frame normalisation has {len(mean)} means and {len(std)} deviations "
                         f"for {channels} channels")
    # One product over the channel axis, which is contiguous in the channels-last frames the
    # segmenters build (a broadcast and a mean over it took about 1.8 ms for 346 x 260, this
    # about 0.3).
    weights = torch.tensor(std, dtype=frames.dtype, device=frames.device) / channels
    pixels = frames.permute(0, 2, 3, 1)
    return (torch.matmul(pixels, weights) + sum(mean) / channels).unsqueeze(1)


def guided_coefficients(head_logits: torch.Tensor, guide: torch.Tensor, stride: int,
                        config: GuidedUpsampling) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cell coefficients ``(a, b)``, each (B, classes, H', W'), such that a class's score at
    a pixel is ``a * guide + b`` with ``a`` and ``b`` interpolated to it.

    ``head_logits`` (B, classes, H', W'); ``guide`` (B, 1, H' * stride, W' * stride).
    """
    if guide.shape[-2:] != (head_logits.shape[-2] * stride, head_logits.shape[-1] * stride):
        raise ValueError(f"guide of size {tuple(guide.shape[-2:])} does not cover head logits "
                         f"{tuple(head_logits.shape[-2:])} at stride {stride}")
    classes = head_logits.shape[1]
    scores = head_logits.float().softmax(dim=1)
    cells = F.avg_pool2d(guide.float(), stride)
    means = _box_mean(torch.cat([cells, cells * cells, scores, cells * scores], dim=1),
                      config.radius)
    mean_i, mean_ii = means[:, :1], means[:, 1:2]
    mean_p, mean_ip = means[:, 2:2 + classes], means[:, 2 + classes:]
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + config.eps)
    b = mean_p - a * mean_i
    smooth = _box_mean(torch.cat([a, b], dim=1), config.radius)
    return smooth[:, :classes].contiguous(), smooth[:, classes:].contiguous()


def guided_class_ids(head_logits: torch.Tensor, guide: torch.Tensor, stride: int,
                     config: GuidedUpsampling) -> torch.Tensor:
    """Class ids (B, H, W) uint8 at the guide's resolution, ties to the lowest class."""
    a, b = guided_coefficients(head_logits, guide, stride, config)
    if a.device.type != "cpu":
        return guided_scores(a, b, guide, stride).argmax(dim=1).to(torch.uint8)
    plane = guide[:, 0].float().contiguous().numpy()
    ids = np.empty(plane.shape, np.uint8)
    _guided_argmax(a.numpy(), b.numpy(), plane, stride, ids)
    return torch.from_numpy(ids)


def guided_scores(a: torch.Tensor, b: torch.Tensor, guide: torch.Tensor,
                  stride: int) -> torch.Tensor:
    """Full-resolution class scores ``up(a) * guide + up(b)`` (B, classes, H, W), with torch's
    bilinear upsampling: what :func:`guided_class_ids` takes the best class of."""
    up = F.interpolate(torch.cat([a, b], dim=1), scale_factor=stride, mode="bilinear",
                       align_corners=False)
    classes = a.shape[1]
    return up[:, :classes] * guide + up[:, classes:]


def _box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over (2 radius + 1)^2 windows, edges replicated, by running sums."""
    size = 2 * radius + 1
    padded = F.pad(x, (radius + 1, radius, radius + 1, radius), mode="replicate")
    sums = padded.cumsum(dim=-2)
    sums = sums[..., size:, :] - sums[..., :-size, :]
    sums = sums.cumsum(dim=-1)
    return (sums[..., size:] - sums[..., :-size]) / (size * size)


@njit(cache=True, nogil=True, fastmath=True)
def _guided_argmax(a, b, guide, stride, out):  # noqa: ANN001, ANN202 (numba)
    """``out[n, y, x]`` = the first class of the largest ``up(a) * guide + up(b)``, ``up`` the
    bilinear upsampling of ``F.interpolate(scale_factor=stride, align_corners=False)``."""
    batch, classes, cells_h, cells_w = a.shape
    height, width = guide.shape[1], guide.shape[2]
    wide_a = np.empty((cells_h, classes, width), np.float32)
    wide_b = np.empty((cells_h, classes, width), np.float32)
    row_a = np.empty((classes, width), np.float32)
    row_b = np.empty((classes, width), np.float32)
    x0s = np.empty(width, np.int64)
    x1s = np.empty(width, np.int64)
    wxs = np.empty(width, np.float32)
    for x in range(width):
        sx = max((x + 0.5) / stride - 0.5, 0.0)
        x0s[x] = int(sx)
        x1s[x] = min(x0s[x] + 1, cells_w - 1)
        wxs[x] = sx - x0s[x]
    for n in range(batch):
        # Every cell row upsampled along x once; each pixel row is then a blend of two of them
        # and the best class over contiguous rows: loops the compiler vectorises (2.7 ms to 1-1.5
        # for 346 x 260 and 6 classes against one loop doing it all per pixel).
        for j in range(cells_h):
            for c in range(classes):
                for x in range(width):
                    x0, x1, wx = x0s[x], x1s[x], wxs[x]
                    wide_a[j, c, x] = a[n, c, j, x0] + wx * (a[n, c, j, x1] - a[n, c, j, x0])
                    wide_b[j, c, x] = b[n, c, j, x0] + wx * (b[n, c, j, x1] - b[n, c, j, x0])
        for y in range(height):
            sy = max((y + 0.5) / stride - 0.5, 0.0)
            y0 = int(sy)
            y1 = min(y0 + 1, cells_h - 1)
            wy = np.float32(sy - y0)
            for c in range(classes):
                for x in range(width):
                    row_a[c, x] = wide_a[y0, c, x] + wy * (wide_a[y1, c, x] - wide_a[y0, c, x])
                    row_b[c, x] = wide_b[y0, c, x] + wy * (wide_b[y1, c, x] - wide_b[y0, c, x])
            for x in range(width):
                g = guide[n, y, x]
                best = row_a[0, x] * g + row_b[0, x]
                index = 0
                for c in range(1, classes):
                    score = row_a[c, x] * g + row_b[c, x]
                    if score > best:
                        best = score
                        index = c
                out[n, y, x] = index


@torch.inference_mode()
def guided_labels(model: torch.nn.Module, frames: torch.Tensor, events: torch.Tensor,
                  mean: Sequence[float], std: Sequence[float],
                  config: GuidedUpsampling) -> torch.Tensor:
    """Class ids (B, H, W) uint8 of a hybrid model whose head's logits are upsampled guided by
    the frames' brightness. ``frames`` (B, C, H, W) normalised with ``mean`` and ``std``; the
    model must take ``upsample=False`` and have a ``head_stride`` (SegSNN)."""
    logits = model(frames, events, upsample=False)
    stride = int(cast(Any, model).head_stride)  # SegSNN's; nn.Module types it Tensor | Module
    height, width = frames.shape[-2:]
    guide = brightness(frames, mean, std)
    # The model pads its input to its total stride; the guide follows with edge values.
    pad_h, pad_w = logits.shape[-2] * stride - height, logits.shape[-1] * stride - width
    if pad_h or pad_w:
        guide = F.pad(guide, (0, pad_w, 0, pad_h), mode="replicate")
    return guided_class_ids(logits, guide, stride, config)[:, :height, :width]
