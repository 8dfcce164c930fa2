"""Training samples from sequences: (frame, event tensor, label) per frame, with augmentation.

Model inputs come from :class:`~ness_ros.segmentation.inputs.InputEncoder`, the same recipe the
nodes use at run time, so what a model learns is what it will see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from ness_ros.data.sequence import SyntheticSequence
from ness_ros.segmentation.inputs import InputEncoder


@dataclass(frozen=True)
class Augmentation:
    """Random crop, horizontal flip and frame gain/contrast jitter (training only).

    Attributes:
        crop: (height, width) of the random crop, or None for whole frames.
        flip: probability of a left-right flip (frame, events and labels together).
        gain: frames are scaled by a factor drawn from [1 - gain, 1 + gain].
    """

    crop: tuple[int, int] | None = None
    flip: float = 0.5
    gain: float = 0.3


class FrameSamples(torch.utils.data.Dataset):
    """Every frame of ``sequences`` that has a full event window before it.

    Item: ``(frame (C, H, W) float32 or empty, events (T, 2, H, W) float32, label (H, W) int64)``;
    C is 0 (an empty tensor) for event-only models.
    """

    def __init__(self, sequences: Sequence[SyntheticSequence], encoder: InputEncoder, *,
                 augmentation: Augmentation | None = None, seed: int = 0,
                 frame_stride: int = 1) -> None:
        self.sequences = list(sequences)
        self.encoder = encoder
        self.augmentation = augmentation
        self.rng = np.random.default_rng(seed)
        self.index: list[tuple[int, int]] = []
        for s, seq in enumerate(self.sequences):
            first_t = seq.stamps_ns[0]
            for i in range(0, len(seq.stamps_ns), frame_stride):
                if seq.stamps_ns[i] - encoder.event_window_ns >= first_t - 1:
                    self.index.append((s, i))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s, i = self.index[item]
        seq = self.sequences[s]
        image: NDArray[np.uint8] = seq.frames[i]
        label: NDArray[np.uint8] = seq.labels[i]
        events = self.encoder.event_tensor(seq.events, int(seq.stamps_ns[i]))
        aug = self.augmentation
        if aug is not None and aug.gain > 0:
            gain = self.rng.uniform(1 - aug.gain, 1 + aug.gain)
            image = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        frame = (self.encoder.frame_tensor(image) if self.encoder.frame_channels
                 else np.empty((0,) + label.shape, dtype=np.float32))
        if aug is not None:
            frame, events, label = _crop_and_flip(frame, events, label, aug, self.rng)
        return (torch.from_numpy(np.ascontiguousarray(frame)),
                torch.from_numpy(np.ascontiguousarray(events)),
                torch.from_numpy(label.astype(np.int64)))


def _crop_and_flip(frame: NDArray, events: NDArray, label: NDArray, aug: Augmentation,
                   rng: np.random.Generator) -> tuple[NDArray, NDArray, NDArray]:
    h, w = label.shape
    if aug.crop is not None:
        ch, cw = min(aug.crop[0], h), min(aug.crop[1], w)
        y0 = int(rng.integers(0, h - ch + 1))
        x0 = int(rng.integers(0, w - cw + 1))
        frame = frame[..., y0:y0 + ch, x0:x0 + cw]
        events = events[..., y0:y0 + ch, x0:x0 + cw]
        label = label[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < aug.flip:
        frame, events, label = frame[..., ::-1], events[..., ::-1], label[:, ::-1]
    return frame, events, label


def collate(batch: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack samples: frames (B, C, H, W), events (T, B, 2, H, W), labels (B, H, W)."""
    frames, events, labels = zip(*batch, strict=True)
    return torch.stack(frames), torch.stack(events, dim=1), torch.stack(labels)
