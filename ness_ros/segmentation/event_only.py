"""EventSegmenter: the event-only model (EvSegSNN) over a sliding event window."""

from __future__ import annotations

import time

import numpy as np
import torch
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.predict import inference_model, predict_labels
from ness_ros.segmentation.result import SegmentationResult


class EventSegmenter:
    """Segments the events in ``[stamp - window, stamp)`` in one full pass per call.

    Args:
        model: an event-only model taking ``events [T, B, 2, H, W]``.
        encoder: the input recipe of the model's card (window length, bins, scaling).
        device: torch device of the model.
    """

    #: A window ends at its stamp; the events before it do not matter.
    needs_events_since_previous = False

    def __init__(self, model: torch.nn.Module, encoder: InputEncoder, *,
                 device: str = "cpu") -> None:
        self.model = inference_model(model)
        self.encoder = encoder
        self.device = torch.device(device)
        self._stride = int(getattr(model, "total_stride", 1))
        self._last_stamp: int | None = None

    def warm_up(self, width: int, height: int) -> None:
        """One pass on no events, so the first real window does not pay for start-up."""
        self.segment(None, self.encoder.event_window_ns, EventBatch.empty(width, height))
        self.reset()

    def padded_pixels(self, width: int, height: int) -> int:
        """Input pixels of a full pass, as :attr:`SegmentationResult.pixels_computed` counts
        them (the sensor's)."""
        return width * height

    def reset(self) -> None:
        self._last_stamp = None

    def segment(self, frame: NDArray[np.uint8] | None, stamp_ns: int,
                events: EventBatch) -> SegmentationResult:
        """Mask of the sensor (H, W) from the events before ``stamp_ns``; ``frame`` is not
        used (the signature is the hybrid segmenter's, so that callers need not branch)."""
        t0 = time.perf_counter()
        reset = self._last_stamp is None or stamp_ns < self._last_stamp
        tensor = torch.from_numpy(self.encoder.event_tensor(
            events, stamp_ns, pad_to=self._stride, channels_last=True))  # as the model reads it
        t1 = time.perf_counter()
        labels = predict_labels(self.model, None, tensor[:, None].to(self.device))[0]
        mask = np.ascontiguousarray(labels.cpu().numpy()[:events.height, :events.width])
        t2 = time.perf_counter()
        self._last_stamp = stamp_ns
        return SegmentationResult(
            mask=mask, stamp_ns=stamp_ns, keyframe=True, regions_recomputed=1, regions_total=1,
            pixels_computed=events.width * events.height,
            stage_ms={"represent": (t1 - t0) * 1e3, "motion": 0.0, "gate": 0.0,
                      "inference": (t2 - t1) * 1e3, "paste": 0.0},
            reset=reset)
