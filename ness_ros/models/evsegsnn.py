"""EvSegSNN (IJCNN 2024): event-only semantic segmentation with a light spiking U-Net."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ness_ros.labels import NUM_CLASSES
from ness_ros.models.errors import ModelError
from ness_ros.models.spiking import (
    ConvLIF,
    cat_channels,
    pad_to_multiple,
    time_mean,
    upsample_nearest,
)


class EvSegSNN(nn.Module):
    """Light spiking U-Net on two-polarity event tensors, parametric LIF neurons, no batch norm.

    Three levels (one fewer than a classic U-Net's four) at 1/2, 1/4 and 1/8 of the input
    resolution, with a stride-2 stem so that no layer runs at full resolution::

        enc0  conv3x3/2 (in -> w)                          1/2   (fed with event counts: dense)
        enc1  conv3x3/2 (w -> 2w), conv3x3 (2w -> 2w)      1/4
        enc2  conv3x3/2 (2w -> 4w), conv3x3 (4w -> 4w)     1/8   (bottleneck)
        dec1  conv3x3 (cat(up(enc2), enc1): 6w -> 2w)      1/4   (skip connection by concatenation)
        dec0  conv3x3 (cat(up(dec1), enc0): 3w -> w)       1/2
        head  conv1x1 (w -> classes) on the spike rate of dec0, bilinear x2 to the input size

    Every convolution is followed by per-channel parametric LIF neurons (learnable decay) except
    the head. Skip paths upsample spikes by nearest neighbour, so every layer after the stem is
    fed with spikes. The logits are the mean over the T time steps of the head convolution's
    outputs, computed exactly and T times cheaper as the head applied to the mean spike rate (the
    head is linear).

    Any input size works: the input is zero-padded (bottom, right) to a multiple of
    :attr:`total_stride` and the logits are cropped back.

    Args:
        num_classes: output classes.
        in_channels: event channels (2: OFF and ON counts per time bin).
        base_width: channels ``w`` of the first level.
        num_steps: time steps ``T`` of the input.
        beta: initial neuron decay.
        surrogate: surrogate gradient name (see :data:`ness_ros.models.spiking.SURROGATES`).

    Shape:
        ``events`` float ``[T, B, in_channels, H, W]`` -> logits float ``[B, num_classes, H, W]``.

    Example::

        model = EvSegSNN(num_steps=4).eval()
        with torch.inference_mode():
            labels = model(torch.rand(4, 1, 2, 260, 346)).argmax(1)
    """

    #: Name of the architecture in model cards.
    architecture = "evsegsnn"
    #: Input sizes are padded to a multiple of this (three stride-2 convolutions).
    total_stride = 8
    #: The head's resolution: its logits are upsampled by this factor to the input size.
    head_stride = 2

    def __init__(self, *, num_classes: int = NUM_CLASSES, in_channels: int = 2,
                 base_width: int = 16, num_steps: int = 4, beta: float = 0.5,
                 surrogate: str = "atan") -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels),
                            ("base_width", base_width), ("num_steps", num_steps)):
            if not isinstance(value, int) or value < 1:
                raise ModelError(f"EvSegSNN {name} must be a positive integer, got {value!r}")
        self._config = {"num_classes": num_classes, "in_channels": in_channels,
                        "base_width": base_width, "num_steps": num_steps, "beta": float(beta),
                        "surrogate": surrogate}
        self.num_classes, self.in_channels, self.num_steps = num_classes, in_channels, num_steps
        w = base_width
        opts: dict[str, Any] = {"batch_norm": False, "parametric": True, "beta": beta,
                                "surrogate": surrogate}
        self.enc0 = ConvLIF(in_channels, w, stride=2, **opts)
        self.enc1 = nn.Sequential(ConvLIF(w, 2 * w, stride=2, **opts),
                                  ConvLIF(2 * w, 2 * w, **opts))
        self.enc2 = nn.Sequential(ConvLIF(2 * w, 4 * w, stride=2, **opts),
                                  ConvLIF(4 * w, 4 * w, **opts))
        self.dec1 = ConvLIF(6 * w, 2 * w, **opts)
        self.dec0 = ConvLIF(3 * w, w, **opts)
        self.head = nn.Conv2d(w, num_classes, 1)
        _init_without_norm(self)

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this architecture (JSON-serialisable)."""
        return dict(self._config)

    def dense_input_layers(self) -> tuple[nn.Module, ...]:
        """Layers fed with real-valued input, counted as MACs by :mod:`ness_ros.models.ops`: the
        first convolution and the head (fed with spike rates)."""
        return (self.enc0.conv, self.head)

    def forward(self, events: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes, H, W]`` for event tensors ``[T, B, in_channels, H, W]``."""
        if events.dim() != 5 or events.shape[0] != self.num_steps \
                or events.shape[2] != self.in_channels:
            raise ModelError(f"EvSegSNN expects events [T={self.num_steps}, B, "
                             f"{self.in_channels}, H, W], got shape {tuple(events.shape)}")
        height, width = events.shape[-2:]
        x = pad_to_multiple(events, self.total_stride)
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        d1 = self.dec1(cat_channels(upsample_nearest(e2), e1))
        d0 = self.dec0(cat_channels(upsample_nearest(d1), e0))
        logits = self.head(time_mean(d0))
        logits = F.interpolate(logits, scale_factor=self.head_stride, mode="bilinear",
                               align_corners=False)
        return logits[..., :height, :width].contiguous()


def _init_without_norm(model: nn.Module, gain: float = 3.0) -> None:
    """Weights ~ N(0, (gain / sqrt(fan_in))^2) and zero biases for the spiking convolutions.

    Without batch norm, the scale of the weights decides whether spikes reach the deep layers.
    With PyTorch's default init or He init (gain sqrt(2)) the network starts silent beyond the
    first layer; with gain 3, random binary input at 3 % to 30 % density gives firing rates of
    about 5 % to 30 % in every layer at initialisation. The head keeps PyTorch's default init.
    """
    for module in model.modules():
        if isinstance(module, ConvLIF):
            conv = module.conv
            nn.init.normal_(conv.weight, 0.0, gain / math.sqrt(conv.weight[0].numel()))
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
