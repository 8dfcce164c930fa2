"""Model inputs from camera data: the one recipe that training, evaluation and the nodes share.

A model card (:class:`~ness_ros.models.weights.ModelCard`) says how its model sees the world: the
frame normalisation, the event window before each frame stamp, the number of time bins, and how
event counts are clipped and scaled. :class:`InputEncoder` turns frames and event batches into
exactly those arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.representations import spike_tensor

#: ITU-R BT.601 luma weights, for models that take mono frames fed with colour images.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class InputEncoder:
    """Builds model input arrays.

    Attributes:
        num_steps: time bins T of the event tensor.
        event_window_ns: events in ``[stamp - event_window_ns, stamp)`` feed the frame at ``stamp``.
        event_clip: per-bin counts are capped at this (None: no cap).
        event_scale: capped counts are multiplied by this.
        frame_channels: 3 (RGB) or 1 (mono), 0 for event-only models.
        frame_mean, frame_std: per-channel normalisation ``(x / 255 - mean) / std``.
    """

    num_steps: int
    event_window_ns: int
    event_clip: float | None = None
    event_scale: float = 1.0
    frame_channels: int = 0
    frame_mean: tuple[float, ...] = ()
    frame_std: tuple[float, ...] = ()

    @classmethod
    def from_card(cls, card) -> InputEncoder:  # card: ness_ros.models.weights.ModelCard
        channels = int(card.config.get("frame_channels", 0)) if card.frame_mean else 0
        return cls(num_steps=int(card.num_steps),
                   event_window_ns=int(round(card.event_window_ms * 1e6)),
                   event_clip=card.event_clip, event_scale=float(card.event_scale),
                   frame_channels=channels,
                   frame_mean=tuple(card.frame_mean or ()), frame_std=tuple(card.frame_std or ()))

    def event_tensor(self, events: EventBatch, stamp_ns: int) -> NDArray[np.float32]:
        """Events before ``stamp_ns`` binned for the model: (T, 2, H, W) float32.

        ``events`` must be sorted by time (as buffers and sequences are): the window is cut out
        by binary search first, so a long recording costs no more than a short one.
        """
        t0 = stamp_ns - self.event_window_ns
        window = events.time_slice(t0, stamp_ns)
        tensor = spike_tensor(window, t0, stamp_ns, self.num_steps, clip=self.event_clip)
        if self.event_scale != 1.0:
            tensor *= np.float32(self.event_scale)
        return tensor

    def frame_tensor(self, image: NDArray[np.uint8]) -> NDArray[np.float32]:
        """An RGB (H, W, 3) or mono (H, W) uint8 image as a normalised (C, H, W) float32 array,
        converted to the model's channel count (colour to luma, or mono repeated)."""
        if self.frame_channels == 0:
            raise ValueError("this model takes no frame input")
        image = np.asarray(image)
        if image.ndim == 2:
            planes = image[None]
        elif image.ndim == 3 and image.shape[2] in (1, 3):
            planes = np.ascontiguousarray(np.moveaxis(image, 2, 0))  # bytes: a cheap transpose
        else:
            raise ValueError(f"frame must be (H, W) or (H, W, 3), got shape {image.shape}")
        if self.frame_channels == 1 and planes.shape[0] == 3:
            img = np.tensordot(_LUMA, planes.astype(np.float32) * np.float32(1.0 / 255.0),
                               axes=1)[None]
        else:
            if self.frame_channels == 3 and planes.shape[0] == 1:
                planes = np.broadcast_to(planes, (3, *planes.shape[1:]))
            img = np.empty(planes.shape, dtype=np.float32)  # (C, H, W), C-contiguous
            np.multiply(planes, np.float32(1.0 / 255.0), out=img, dtype=np.float32)
        # In place, the same float32 operations as ``(x / 255 - mean) / std`` on new arrays.
        img -= np.asarray(self.frame_mean, dtype=np.float32)[:, None, None]
        img /= np.asarray(self.frame_std, dtype=np.float32)[:, None, None]
        return np.ascontiguousarray(img, dtype=np.float32)
