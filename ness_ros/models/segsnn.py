"""SegSNN (ICONIP 2024): hybrid frame + event segmentation with a SEW-ResNet spiking encoder."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ness_ros.labels import NUM_CLASSES
from ness_ros.models.errors import ModelError
from ness_ros.models.spiking import (
    ConvLIF,
    FrameEventStem,
    SEWBlock,
    cat_channels,
    pad_to_multiple,
    time_mean,
    upsample_nearest,
)


class SegSNN(nn.Module):
    """Three-stage SEW-ResNet encoder with LIF neurons and a light spiking decoder.

    The frame is directly encoded: the same (normalised) frame is fed at every time step,
    concatenated channel-wise with that step's event tensor. Layers, ``w`` = ``base_width``::

        stem    conv3x3/2 (C + 2 -> w)                          1/2   (real-valued input: dense;
                                                                      the frame's share once)
        stage1  conv3x3/2 (w -> w), SEW block (w)               1/4
        stage2  conv3x3/2 (w -> 2w), SEW block (2w)             1/8
        stage3  conv3x3/2 (2w -> 4w), SEW block (4w)            1/16
        dec2    conv3x3 (cat(up(stage3), stage2): 6w -> 2w)     1/8
        dec1    conv3x3 (cat(up(dec2), stage1): 3w -> w)        1/4
        head    conv1x1 (w -> classes) on the spike rate of dec1, bilinear x4 to the input size

    With ``fine_width`` = ``f`` > 0, one more decoder stage works at 1/2 resolution, where thin
    structures (poles, distant people) still cover whole cells::

        dec0    conv1x1 (cat(up(dec1), stem): 2w -> f)          1/2
        head    conv1x1 (f -> classes) on the spike rate of dec0, bilinear x2 to the input size

    (Measured: with 6.5 min of GPU training each, f = 8 gave 69.6 % MIoU on unseen seeds against
    70.8 % without it at w = 16, and lost 5 points at w = 12. Started from the packaged weights
    with f = 16 as a pass-through (:meth:`start_fresh_layers`) and fine-tuned 14 epochs on a
    2-core CPU, it reached 74.4-74.5 % on the validation drive against 73.4 %, and 69.9-71.3 %
    on the unseen seeds against 70.8 %, poles and people no better. The packaged weights use
    none.)

    Each convolution is batch-normalised and followed by LIF neurons (fixed decay), except the
    head; the SEW blocks add their input spikes to their output spikes (the ADD connection), and
    skip paths upsample spikes by nearest neighbour, so every layer after the stem is fed with
    spike counts. The logits are the mean over T of the head convolution's outputs, computed
    exactly as the head applied to the mean spike rate.

    Fully convolutional: the input is zero-padded (bottom, right) to a multiple of
    :attr:`total_stride` and the logits are cropped back, so the model runs on full frames and on
    batches of crops alike. A crop whose edges lie on multiples of :attr:`total_stride` (or on
    the image border) sees the same sampling grid as the full frame. With a margin of
    :attr:`exact_margin` pixels around the kept region, the kept region's spikes are identical to
    the full frame's and its logits equal up to float rounding (about 1e-7). With the
    recommended :attr:`context_margin` its labels mostly agree: about 60 % for an untrained
    network, whose near-tied logits are the worst case, 99.9 % for one trained briefly on a toy
    task (see test/test_models_nets.py).

    Args:
        num_classes: output classes.
        frame_channels: 3 (RGB) or 1 (mono) normalised frame channels.
        event_channels: event channels per time step (2: OFF and ON).
        base_width: channels ``w`` of the first stage.
        fine_width: channels ``f`` of the 1/2-resolution decoder stage, 0 for none.
        num_steps: time steps ``T``.
        beta: neuron decay.
        batch_norm: batch-normalise each convolution (statistics over time steps and batch).
        surrogate: surrogate gradient name (see :data:`ness_ros.models.spiking.SURROGATES`).

    Shape:
        ``frame`` float ``[B, frame_channels, H, W]`` and ``events`` float
        ``[T, B, event_channels, H, W]`` -> logits float ``[B, num_classes, H, W]``.

    Example::

        model = SegSNN(num_steps=3).eval()
        with torch.inference_mode():
            labels = model(torch.randn(1, 3, 260, 346), torch.rand(3, 1, 2, 260, 346)).argmax(1)
    """

    #: Name of the architecture in model cards.
    architecture = "segsnn"
    #: Input sizes are padded to a multiple of this (four stride-2 convolutions).
    total_stride = 16
    #: Margin (pixels) around a crop's kept region beyond which it is exactly the full frame's,
    #: crop edges on multiples of :attr:`total_stride`. Checked for every alignment of the region
    #: on a linear twin of the network (neurons replaced by the identity, so that no dependency
    #: hides behind a threshold): 96 is exact, 88 is not.
    exact_margin = 96
    #: Margin (pixels) recommended around a crop's kept region: most of the context at a
    #: fraction of the cost of :attr:`exact_margin` (see the class notes).
    context_margin = 32

    def __init__(self, *, num_classes: int = NUM_CLASSES, frame_channels: int = 3,
                 event_channels: int = 2, base_width: int = 16, fine_width: int = 0,
                 num_steps: int = 3,
                 beta: float = 0.5, batch_norm: bool = True, surrogate: str = "atan") -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("frame_channels", frame_channels),
                            ("event_channels", event_channels), ("base_width", base_width),
                            ("num_steps", num_steps)):
            if not isinstance(value, int) or value < 1:
                raise ModelError(f"SegSNN {name} must be a positive integer, got {value!r}")
        if not isinstance(fine_width, int) or fine_width < 0:
            raise ModelError(f"SegSNN fine_width must be an integer >= 0, got {fine_width!r}")
        self._config = {"num_classes": num_classes, "frame_channels": frame_channels,
                        "event_channels": event_channels, "base_width": base_width,
                        "fine_width": fine_width,
                        "num_steps": num_steps, "beta": float(beta),
                        "batch_norm": bool(batch_norm), "surrogate": surrogate}
        self.num_classes, self.num_steps = num_classes, num_steps
        self.frame_channels, self.event_channels = frame_channels, event_channels
        w = base_width
        opts: dict[str, Any] = {"batch_norm": batch_norm, "beta": beta, "surrogate": surrogate}
        self.stem = FrameEventStem(frame_channels, event_channels, w, **opts)
        self.stage1 = nn.Sequential(ConvLIF(w, w, stride=2, **opts), SEWBlock(w, **opts))
        self.stage2 = nn.Sequential(ConvLIF(w, 2 * w, stride=2, **opts), SEWBlock(2 * w, **opts))
        self.stage3 = nn.Sequential(ConvLIF(2 * w, 4 * w, stride=2, **opts),
                                    SEWBlock(4 * w, **opts))
        self.dec2 = ConvLIF(6 * w, 2 * w, **opts)
        self.dec1 = ConvLIF(3 * w, w, **opts)
        self.dec0 = ConvLIF(2 * w, fine_width, kernel_size=1, **opts) if fine_width else None
        self.head = nn.Conv2d(fine_width or w, num_classes, 1)

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this architecture (JSON-serialisable)."""
        return dict(self._config)

    def dense_input_layers(self) -> tuple[nn.Module, ...]:
        """Layers fed with real-valued input, counted as MACs by :mod:`ness_ros.models.ops`: the
        head (fed with spike rates); the stem counts its own (``FrameEventStem.count_macs``)."""
        return (self.head,)

    def forward(self, frame: torch.Tensor, events: torch.Tensor, *,
                upsample: bool = True) -> torch.Tensor:
        """Logits ``[B, num_classes, H, W]`` for a frame ``[B, C, H, W]`` and events
        ``[T, B, C_e, H, W]``, upsampled bilinearly from the head's resolution.

        With ``upsample=False``, the head's logits as they are: ``[B, num_classes, H', W']``
        for the input padded to a multiple of :attr:`total_stride`, ``H' = padded H /``
        :attr:`head_stride` (for an upsampling of one's own, e.g. guided by the frame).
        """
        self._check_inputs(frame, events)
        height, width = frame.shape[-2:]
        s0 = self.stem(pad_to_multiple(frame, self.total_stride),
                       pad_to_multiple(events, self.total_stride))
        s1 = self.stage1(s0)
        s2 = self.stage2(s1)
        s3 = self.stage3(s2)
        d2 = self.dec2(cat_channels(upsample_nearest(s3), s2))
        d1 = self.dec1(cat_channels(upsample_nearest(d2), s1))
        top = d1 if self.dec0 is None else self.dec0(cat_channels(upsample_nearest(d1), s0))
        logits = self.head(time_mean(top))
        if not upsample:
            return logits
        logits = F.interpolate(logits, scale_factor=self.head_stride, mode="bilinear",
                               align_corners=False)
        return logits[..., :height, :width].contiguous()

    def start_fresh_layers(self, fresh: list[str]) -> None:
        """Called by :func:`~ness_ros.models.weights.init_from_model` with the tensors it left
        fresh. Started from a 1/4-resolution SegSNN of the same width, the new 1/2-resolution
        stage is set to pass the upsampled ``dec1`` spikes through (identity on them, zero on
        the stem's), so that the copied head sees what it was trained on and fine-tuning starts
        near the coarse model's predictions (about 97 % of pixels agree, in eval mode) instead
        of from noise."""
        if self.dec0 is None or "dec0.conv.weight" not in fresh or "head.weight" in fresh:
            return
        weight = self.dec0.conv.weight  # [fine_width, 2w, 1, 1]: dec1 channels first
        if weight.shape[0] != weight.shape[1] // 2:
            return  # no identity between different widths: the stage keeps its random start
        with torch.no_grad():
            weight.zero_()
            weight[:, : weight.shape[0], 0, 0] = torch.eye(weight.shape[0])

    @property
    def head_stride(self) -> int:
        """The head's resolution: its logits are upsampled by this factor to the input size."""
        return 4 if self.dec0 is None else 2

    def _check_inputs(self, frame: torch.Tensor, events: torch.Tensor) -> None:
        if frame.dim() != 4 or frame.shape[1] != self.frame_channels:
            raise ModelError(f"SegSNN expects a frame [B, {self.frame_channels}, H, W], "
                             f"got shape {tuple(frame.shape)}")
        expected = (self.num_steps, frame.shape[0], self.event_channels, *frame.shape[2:])
        if tuple(events.shape) != expected:
            raise ModelError(f"SegSNN expects events of shape {expected} to go with a frame of "
                             f"shape {tuple(frame.shape)}, got {tuple(events.shape)}")
