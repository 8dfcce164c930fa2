"""HybridSegmenter: keyframes in full, then only the regions that changed.

The method of the hybrid latency-reduction paper (ICONIP 2024): a keyframe is segmented whole;
for each later frame the image is split into a ``rows`` x ``cols`` grid, and a region is
segmented again when its change passes a threshold, while the others reuse their labels. How
labels are reused is :attr:`GatingConfig.reuse`:

- ``static`` (the published rule): kept labels stay where they were computed and a region's
  change is its mean event count per pixel (compared with ``theta``). Changed regions are never
  run one by one (the paper's naive split ran 3.2x slower than a full pass): they are cut out
  with a context margin, all crops of one size, and run as ONE batch, or, when the crops would
  cost more pixels than the bounding box of all changed regions, as that one box.
- ``warped``: kept labels follow the motion. Each frame, dense optical flow back to the previous
  processed frame (:mod:`ness_ros.segmentation.motion`) moves the class scores of the previous
  mask into the current frame; a region's change is the share of its pixels the motion does not
  explain (compared with ``residual_theta``). Changed regions that touch are cut out together,
  one window and one margin per cluster (:func:`~ness_ros.segmentation.crops.cluster_windows`),
  windows of equal size in one batch; each window's whole interior is pasted, so regions it
  covers are refreshed for free.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.segmentation.crops import (
    box_window,
    cluster_windows,
    covered_regions,
    padded_size,
    region_pixels,
    region_windows,
    stack_crops,
    window_interior,
)
from ness_ros.segmentation.gating import GatingConfig, RegionGate
from ness_ros.segmentation.guided import GuidedUpsampling, guided_labels
from ness_ros.segmentation.inputs import InputEncoder
from ness_ros.segmentation.motion import WarpedLabels
from ness_ros.segmentation.predict import inference_model, predict_labels
from ness_ros.segmentation.result import SegmentationResult

#: The merged box's sides are rounded up to multiples of this many strides (64 pixels for
#: SegSNN), so that gated frames show the model a few dozen input shapes rather than hundreds:
#: oneDNN builds a convolution's primitives on the first call with a new shape (1-10 ms more for
#: that pass on this CPU). In the batch of ``ness bench latency`` runs right after this change the
#: gated node's p95 went from 53-64 ms to 47-50 ms; later batches varied with the machine's load.
BOX_SIZE_STEP = 4
#: Windows of ``warped`` reuse are rounded to this many strides (32 pixels for SegSNN): small
#: clusters would pay up to 63 pixels a side for 64, and a few dozen shapes recur anyway.
CLUSTER_SIZE_STEP = 2


class HybridSegmenter:
    """Frames plus events to masks, recomputing only changed regions.

    Args:
        model: a hybrid model taking ``(frame [B, C, H, W], events [T, B, 2, H, W])``.
        encoder: the input recipe of the model's card.
        gating: region grid, theta and keyframe policy (replace with :meth:`configure`).
        total_stride: crops start at multiples of this so they see the full frame's sampling
            grid (the model's ``total_stride``).
        device: torch device of the model.
        guided: upsample the head's class scores guided by the frame
            (:mod:`ness_ros.segmentation.guided`), or None for the model's bilinear logits.
    """

    #: The gate counts the events since the previous processed frame.
    needs_events_since_previous = True

    def __init__(self, model: torch.nn.Module, encoder: InputEncoder, gating: GatingConfig,
                 *, total_stride: int | None = None, device: str = "cpu",
                 guided: GuidedUpsampling | None = None) -> None:
        if guided is not None:
            guided.validate()
            if not hasattr(model, "head_stride"):
                raise ValueError(f"guided upsampling needs a model with a head_stride (SegSNN), "
                                 f"not {type(model).__name__}")
        self.guided = guided
        self.gate = RegionGate(gating)
        self.model = inference_model(model)
        self.encoder = encoder
        model_stride: Any = getattr(model, "total_stride", 1)  # torch types attributes loosely
        self.stride = int(total_stride or model_stride)
        self.device = torch.device(device)
        self.num_classes = int(getattr(model, "num_classes", 0)) or None
        self._warped: WarpedLabels | None = None
        self.reset()

    def warm_up(self, width: int, height: int) -> None:
        """One full pass on a blank frame, so the first real frame does not pay for the
        allocator and thread pool start-up (hundreds of ms on a CPU); then reset."""
        blank = np.zeros((height, width, 3), np.uint8)
        self.segment(blank, 1, EventBatch.empty(width, height))
        self.reset()

    @property
    def gating(self) -> GatingConfig:
        return self.gate.config

    def reset(self) -> None:
        """Forget the previous mask: the next frame is a keyframe."""
        self._mask: NDArray[np.uint8] | None = None
        if self._warped is not None:
            self._warped.reset()
        self.gate.reset()

    def configure(self, gating: GatingConfig) -> None:
        """Change theta, grid or policy at run time (a new grid, or another rule of reuse,
        forces a keyframe)."""
        if gating.reuse != self.gating.reuse:
            self.reset()
        self.gate.configure(gating)

    def _warped_labels(self) -> WarpedLabels:
        """``warped`` reuse's labels, made on first use."""
        if self._warped is None:
            if self.num_classes is None:
                raise ValueError("warped reuse needs a model with num_classes")
            self._warped = WarpedLabels(self.num_classes, self.gating.flow_preset)
        self._warped.set_preset(self.gating.flow_preset)
        return self._warped

    def segment(self, image: NDArray[np.uint8] | None, stamp_ns: int,
                events: EventBatch) -> SegmentationResult:
        """Segment the frame ``image`` (H, W, 3 or H, W) taken at ``stamp_ns``.

        ``events`` must hold, time-sorted, the events since the previous processed frame and the
        model's event window before ``stamp_ns`` (more is fine). A stamp earlier than the
        previous one resets the state (a bag loop).
        """
        if image is None:
            raise ValueError("the hybrid segmenter needs a frame")
        t0 = time.perf_counter()
        height, width = image.shape[:2]
        last = self.gate.last_stamp
        reset = last is None or stamp_ns < last
        if reset or (self._mask is not None and self._mask.shape != (height, width)):
            self.reset()
        inputs = _ModelInputs(self.encoder, image, events, stamp_ns, self.stride)
        t1 = time.perf_counter()

        warped = self.gating.reuse == "warped"
        unexplained = mask = fresh = None
        if warped and self._warped_labels().ready and not self.gate.keyframe_due(stamp_ns):
            if self._full_pass_expected(width, height):
                self.gate.force_keyframe()
            else:
                level = self.gating.residual_level if self.gating.reads_residual else None
                mask, unexplained = self._warped_labels().advance(image, level)
        t2 = time.perf_counter()

        changed = self.gate.plan(stamp_ns, events, unexplained)
        windows: list[tuple[int, int, int, int]] = []
        if warped and changed is not None and changed.any():
            g = self.gating
            windows = cluster_windows(changed, width, height, g.margin, self.stride,
                                      size_step=CLUSTER_SIZE_STEP * self.stride)[0]
            if _area(windows) > g.max_window_fraction * self.padded_pixels(width, height):
                self.gate.promote_to_keyframe()  # a full pass refreshes every label
                changed = None
        regions_total = self.gating.rows * self.gating.cols
        t3 = time.perf_counter()

        if changed is None:
            frame, event_tensor = inputs.full()
            labels = self._predict(frame[None], event_tensor[:, None])[0]
            mask = np.ascontiguousarray(labels[:height, :width])
            recomputed, pixels = regions_total, self.padded_pixels(width, height)
            if warped:
                self._warped_labels().start(mask, image)
            t4 = t5 = time.perf_counter()
        else:
            if not warped:
                assert self._mask is not None  # the gate plans regions only after a keyframe
                mask = self._mask.copy()
            assert mask is not None  # warped: the carried labels (a plan needs them)
            recomputed, pixels = int(changed.sum()), 0
            t4 = t5 = time.perf_counter()
            if recomputed:
                if warped:
                    recomputed, fresh, t4 = self._recompute_windows(mask, changed, windows,
                                                                    inputs)
                    pixels = _area(windows)
                else:
                    pixels, t4 = self._recompute(mask, changed, *inputs.full())
                    fresh = region_pixels(changed, width, height)
                t5 = time.perf_counter()
        self._mask = mask
        return SegmentationResult(
            mask=mask, stamp_ns=stamp_ns, keyframe=changed is None,
            regions_recomputed=recomputed, regions_total=regions_total, pixels_computed=pixels,
            stage_ms={"represent": (t1 - t0 + inputs.ms) * 1e3, "motion": (t2 - t1) * 1e3,
                      "gate": (t3 - t2) * 1e3, "inference": (t4 - t3 - inputs.ms) * 1e3,
                      "paste": (t5 - t4) * 1e3},
            reset=reset, fresh=fresh)

    def _full_pass_expected(self, width: int, height: int) -> bool:
        """``warped`` reuse: whether the regions expected to pass the threshold at their last
        rate of change (:meth:`RegionGate.expected_changes`) would need windows costing more
        than ``max_window_fraction``, so that this frame is a keyframe without estimating
        motion for it first."""
        g = self.gating
        expected = self.gate.expected_changes()
        if expected is None or not expected.any():
            return False
        if expected.mean() > g.max_changed_fraction:
            return True
        windows = cluster_windows(expected, width, height, g.margin, self.stride,
                                  size_step=CLUSTER_SIZE_STEP * self.stride)[0]
        return _area(windows) > g.max_window_fraction * self.padded_pixels(width, height)

    def padded_pixels(self, width: int, height: int) -> int:
        """Input pixels of a full pass: the frame padded to the model's stride, as the model
        pads it (crops are counted the same way, on the padded frame)."""
        return padded_size(width, self.stride) * padded_size(height, self.stride)

    def _predict(self, frames: torch.Tensor, events: torch.Tensor) -> NDArray[np.uint8]:
        frames, events = frames.to(self.device), events.to(self.device)
        if self.guided is None:
            out = predict_labels(self.model, frames, events)
        else:
            out = guided_labels(self.model, frames, events, self.encoder.frame_mean,
                                self.encoder.frame_std, self.guided)
        return out.cpu().numpy()

    def _recompute(self, mask: NDArray[np.uint8], changed: NDArray[np.bool_],
                   frame: torch.Tensor, events: torch.Tensor) -> tuple[int, float]:
        """Segment the changed regions in one batch and paste them into ``mask``.

        Crops come from the frame zero-padded to the model's stride (``frame`` and ``events``
        are), as the model pads a full frame, so that every window lies on the full frame's
        sampling grid. Returns the input pixels computed and the time inference ended."""
        height, width = mask.shape
        g, s = self.gating, self.stride
        (crop_w, crop_h), windows = region_windows(width, height, g.cols, g.rows, g.margin, s)
        chosen = [windows[i] for i in np.flatnonzero(changed.ravel())]
        ux0 = min(r[0] for r, _ in chosen)
        uy0 = min(r[1] for r, _ in chosen)
        ux1 = max(r[2] for r, _ in chosen)
        uy1 = max(r[3] for r, _ in chosen)
        union = box_window(ux0, uy0, ux1, uy1, width, height, g.margin, s,
                           size_step=BOX_SIZE_STEP * s)
        union_pixels = (union[2] - union[0]) * (union[3] - union[1])
        merged = not g.batch_crops_only and len(chosen) * crop_w * crop_h >= union_pixels
        if merged:  # one crop, the bounding box of all changed regions, serves every region
            crops = [union]
            origin_of = [(union[0], union[1])] * len(chosen)
        else:
            crops = [(x, y, x + crop_w, y + crop_h) for _, (x, y) in chosen]
            origin_of = [origin for _, origin in chosen]
        frames, event_crops = stack_crops(frame, events, crops)
        assert frames is not None  # the hybrid model always has a frame
        labels = self._predict(frames, event_crops)
        done = time.perf_counter()
        for index, (((x0, y0, x1, y1), _), (wx0, wy0)) in enumerate(
                zip(chosen, origin_of, strict=True)):
            crop = labels[0 if merged else index]
            mask[y0:y1, x0:x1] = crop[y0 - wy0:y1 - wy0, x0 - wx0:x1 - wx0]
        return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in crops), done

    def _recompute_windows(self, mask: NDArray[np.uint8], changed: NDArray[np.bool_],
                           windows: list[tuple[int, int, int, int]], inputs: _ModelInputs
                           ) -> tuple[int, NDArray[np.bool_], float]:
        """``warped`` reuse: segment ``windows`` (equal ones in one batch) and paste each
        window's interior into ``mask`` and the scores.

        Returns the regions refreshed (the changed ones and every other region wholly inside a
        window's interior, which the gate then counts from zero), the pixels pasted (H, W) and
        the time inference ended.
        """
        height, width = mask.shape
        g = self.gating
        by_shape: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
        for w in windows:
            by_shape.setdefault((w[2] - w[0], w[3] - w[1]), []).append(w)
        frame, events = inputs.full()
        computed = []
        for group in by_shape.values():
            frames, event_crops = stack_crops(frame, events, group)
            assert frames is not None  # the hybrid model always has a frame
            computed.append((group, self._predict(frames, event_crops)))
        done = time.perf_counter()
        fresh = np.zeros(mask.shape, bool)
        labels = np.empty_like(mask)
        for group, crops in computed:
            for window, crop in zip(group, crops, strict=True):
                x0, y0 = window[:2]
                ix0, iy0, ix1, iy1 = window_interior(window, width, height, g.margin)
                labels[iy0:iy1, ix0:ix1] = crop[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
                fresh[iy0:iy1, ix0:ix1] = True
        np.copyto(mask, labels, where=fresh)
        self._warped_labels().paste(labels, fresh)
        covered = covered_regions(windows, width, height, g.rows, g.cols, g.margin) | changed
        self.gate.mark_recomputed(covered)
        return int(covered.sum()), fresh, done


def _area(windows: list[tuple[int, int, int, int]]) -> int:
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows)


class _ModelInputs:
    """The model's inputs for one frame, built on first use: a frame whose labels all follow
    the motion runs no model and needs none (about 2 ms of a 346 x 260 frame)."""

    def __init__(self, encoder: InputEncoder, image: NDArray[np.uint8], events: EventBatch,
                 stamp_ns: int, stride: int) -> None:
        self._args = (encoder, image, events, stamp_ns, stride)
        self._tensors: tuple[torch.Tensor, torch.Tensor] | None = None
        #: Seconds spent building them (reported as the ``represent`` stage).
        self.ms = 0.0

    def full(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame [C, H', W'] and events [T, 2, H', W'], padded to the stride and channels
        last, as the model reads them: the full pass takes them without a copy, and crops are
        cut from them on its grid."""
        if self._tensors is None:
            start = time.perf_counter()
            encoder, image, events, stamp_ns, stride = self._args
            frame = torch.from_numpy(encoder.frame_tensor(image, pad_to=stride,
                                                          channels_last=True))
            event_tensor = torch.from_numpy(encoder.event_tensor(events, stamp_ns, pad_to=stride,
                                                                 channels_last=True))
            self._tensors = frame, event_tensor
            self.ms = time.perf_counter() - start
        return self._tensors
