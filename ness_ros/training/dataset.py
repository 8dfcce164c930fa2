"""Training samples from sequences: (frame, event tensor, label) per frame, and augmentation.

Model inputs come from :class:`~ness_ros.segmentation.inputs.InputEncoder`, the same recipe the
nodes use at run time, so what a model learns is what it will see. Augmentation works on whole
batches of torch tensors, on whichever device they are, so that training on the CPU (samples
encoded on the fly) and on a GPU (samples encoded once and kept there) share it.
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
    """Random crop, horizontal flip and frame gain jitter (training only), per sample.

    Attributes:
        crop: (height, width) of the random crop, or None for whole frames.
        flip: probability of a left-right flip (frame, events and labels together).
        gain: frame intensities are scaled by a factor drawn from [1 - gain, 1 + gain] and
            clipped to the valid range, as an exposure change would.
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
                 frame_stride: int = 1) -> None:
        self.sequences = list(sequences)
        self.encoder = encoder
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
        label: NDArray[np.uint8] = seq.labels[i]
        events = self.encoder.event_tensor(seq.events, int(seq.stamps_ns[i]))
        frame = (self.encoder.frame_tensor(seq.frames[i]) if self.encoder.frame_channels
                 else np.empty((0,) + label.shape, dtype=np.float32))
        return (torch.from_numpy(frame), torch.from_numpy(events),
                torch.from_numpy(label.astype(np.int64)))


def collate(batch: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack samples: frames (B, C, H, W), events (T, B, 2, H, W), labels (B, H, W)."""
    frames, events, labels = zip(*batch, strict=True)
    return torch.stack(frames), torch.stack(events, dim=1), torch.stack(labels)


def augment_batch(frames: torch.Tensor, events: torch.Tensor, labels: torch.Tensor,
                  aug: Augmentation, encoder: InputEncoder, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crop, flip and gain-jitter a batch as :func:`collate` stacks it, each sample its own draw.

    ``frames`` are normalised as ``encoder`` does; the gain applies to the intensities behind
    them. Draws come from ``generator`` (a CPU generator: the same draws on every device).
    """
    batch = labels.shape[0]
    height, width = labels.shape[-2:]
    if aug.crop is not None:
        ch, cw = min(aug.crop[0], height), min(aug.crop[1], width)
        ys = torch.randint(0, height - ch + 1, (batch,), generator=generator).tolist()
        xs = torch.randint(0, width - cw + 1, (batch,), generator=generator).tolist()
        frames = torch.stack([f[..., y:y + ch, x:x + cw] for f, y, x in zip(frames, ys, xs,
                                                                              strict=True)])
        events = torch.stack([events[:, b, :, y:y + ch, x:x + cw]
                              for b, (y, x) in enumerate(zip(ys, xs, strict=True))], dim=1)
        labels = torch.stack([lb[y:y + ch, x:x + cw] for lb, y, x in zip(labels, ys, xs,
                                                                          strict=True)])
    flip = (torch.rand(batch, generator=generator) < aug.flip).to(labels.device)
    if bool(flip.any()):
        frames = torch.where(flip[:, None, None, None], frames.flip(-1), frames)
        events = torch.where(flip[None, :, None, None, None], events.flip(-1), events)
        labels = torch.where(flip[:, None, None], labels.flip(-1), labels)
    if aug.gain > 0 and frames.shape[1] > 0:
        gain = 1 + aug.gain * (2 * torch.rand(batch, generator=generator) - 1)
        mean = torch.tensor(encoder.frame_mean, dtype=frames.dtype)[:, None, None]
        std = torch.tensor(encoder.frame_std, dtype=frames.dtype)[:, None, None]
        mean, std, gain = mean.to(frames.device), std.to(frames.device), gain.to(frames)
        intensity = (frames * std + mean) * gain[:, None, None, None]
        frames = (intensity.clamp(0.0, 1.0) - mean) / std
    return frames, events, labels


class DeviceSamples:
    """All samples of a :class:`FrameSamples` encoded once and kept on ``device`` (a GPU):
    training then never waits for the CPU. Events and frames are stored as float16 (event
    counts times the encoder's scale are exact in it; frames are rounded by < 1e-3)."""

    def __init__(self, samples: FrameSamples, device: str | torch.device, *,
                 batch_size: int = 32, workers: int = 0, progress: bool = False) -> None:
        from tqdm import tqdm

        loader = torch.utils.data.DataLoader(samples, batch_size=batch_size,
                                             num_workers=workers, collate_fn=collate)
        frames, events, labels = [], [], []
        for f, e, lb in tqdm(loader, desc="encode samples", disable=not progress, leave=False):
            frames.append(f.to(device, torch.float16))
            events.append(e.to(device, torch.float16))
            labels.append(lb.to(device, torch.uint8))
        self.frames = torch.cat(frames)
        self.events = torch.cat(events, dim=1)
        self.labels = torch.cat(labels)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Samples ``index`` as float32 frames and events and int64 labels, like :func:`collate`."""
        index = index.to(self.labels.device)
        return (self.frames[index].float(), self.events[:, index].float(),
                self.labels[index].long())
