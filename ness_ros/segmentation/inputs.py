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
from ness_ros.segmentation.crops import padded_size

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

    def event_tensor(self, events: EventBatch, stamp_ns: int, *, pad_to: int = 1,
                     channels_last: bool = False) -> NDArray[np.float32]:
        """Events before ``stamp_ns`` binned for the model: (T, 2, H, W) float32.

        ``events`` must be sorted by time (as buffers and sequences are): the window is cut out
        by binary search first, so a long recording costs no more than a short one.

        ``pad_to`` zero-pads H and W (bottom, right) to multiples of it, as the models pad their
        input; ``channels_last`` returns a (T, 2, H, W) view of a (T, H, W, 2) array, the layout
        in which the models' convolutions read it (:func:`ness_ros.models.spiking.fold`). With
        both, a model takes the array as it is, without the two copies of padding and
        reordering it (about 1.5 ms of a 25 ms SegSNN pass at 346 x 260).
        """
        t0 = stamp_ns - self.event_window_ns
        window = events.time_slice(t0, stamp_ns)
        height, width = events.height, events.width
        buffer = _zeros(self.num_steps, 2, height, width, pad_to, channels_last)
        spike_tensor(window, t0, stamp_ns, self.num_steps, out=buffer[..., :height, :width])
        # Clipped and scaled whole, padding included (zeros stay zeros): one pass in memory
        # order rather than a strided pass over the sensor's part.
        if self.event_clip is not None:
            np.minimum(buffer, np.float32(self.event_clip), out=buffer)
        if self.event_scale != 1.0:
            buffer *= np.float32(self.event_scale)
        return buffer

    def frame_tensor(self, image: NDArray[np.uint8], *, pad_to: int = 1,
                     channels_last: bool = False) -> NDArray[np.float32]:
        """An RGB (H, W, 3) or mono (H, W) uint8 image as a normalised (C, H, W) float32 array,
        converted to the model's channel count (colour to luma, or mono repeated).

        ``pad_to`` and ``channels_last`` as for :meth:`event_tensor`: zeros after
        normalisation in the padding, and a (C, H, W) view of an (H, W, C) array.
        """
        if self.frame_channels == 0:
            raise ValueError("this model takes no frame input")
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[:, :, None]
        elif not (image.ndim == 3 and image.shape[2] in (1, 3)):
            raise ValueError(f"frame must be (H, W) or (H, W, 3), got shape {image.shape}")
        height, width, channels = image.shape
        buffer = _zeros(1, self.frame_channels, height, width, pad_to, channels_last)[0]
        if channels_last:  # rows of (x, channel) pairs, in memory order
            rows = buffer.transpose(1, 2, 0).reshape(buffer.shape[1], -1)
            img = rows[:height, :width * self.frame_channels]
            pixels = image.reshape(height, -1)
            mean, std = (np.tile(np.asarray(v, np.float32), width)
                         for v in (self.frame_mean, self.frame_std))
        else:
            img, pixels = buffer[:, :height, :width], np.moveaxis(image, 2, 0)
            mean, std = (np.asarray(v, np.float32)[:, None, None]
                         for v in (self.frame_mean, self.frame_std))
        if self.frame_channels == 1 and channels == 3:
            planes = np.ascontiguousarray(np.moveaxis(image, 2, 0), dtype=np.float32)
            img[...] = np.tensordot(_LUMA, planes * np.float32(1.0 / 255.0), axes=1
                                    ).reshape(img.shape)
        else:
            if self.frame_channels == 3 and channels == 1:
                pixels = (np.repeat(pixels, 3, axis=1) if channels_last
                          else np.broadcast_to(pixels, img.shape))
            # The same float32 operations as ``(x / 255 - mean) / std`` on new arrays, in place.
            np.multiply(pixels, np.float32(1.0 / 255.0), out=img, dtype=np.float32)
        img -= mean
        img /= std
        return buffer


def _zeros(steps: int, channels: int, height: int, width: int, pad_to: int,
           channels_last: bool) -> NDArray[np.float32]:
    """A zero (steps, channels, H', W') float32 array, H' and W' rounded up to multiples of
    ``pad_to``; with ``channels_last``, a view of a (steps, H', W', channels) array."""
    if pad_to < 1:
        raise ValueError(f"pad_to must be >= 1, got {pad_to}")
    height, width = padded_size(height, pad_to), padded_size(width, pad_to)
    if channels_last:
        return np.zeros((steps, height, width, channels), np.float32).transpose(0, 3, 1, 2)
    return np.zeros((steps, channels, height, width), np.float32)
