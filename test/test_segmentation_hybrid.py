"""HybridSegmenter: keyframe reuse, region gating, batched recomputation, keyframe policy."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers.tiny_models import TINY_ENCODER, tiny_segsnn
from ness_ros.events.batch import EventBatch
from ness_ros.events.representations import region_bounds
from ness_ros.models.segsnn import SegSNN
from ness_ros.segmentation.crops import box_window, stack_crops
from ness_ros.segmentation.gating_config import PUBLISHED_RULE, GatingConfig
from ness_ros.segmentation.hybrid import HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder

H, W = 96, 128
MS = 1_000_000


@pytest.fixture(scope="module")
def model() -> SegSNN:
    return tiny_segsnn()


def encoder() -> InputEncoder:
    return TINY_ENCODER


def frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def blob_events(t0_ms: float, t1_ms: float, y0: int, y1: int, x0: int, x1: int,
                per_pixel: int, seed: int = 0) -> EventBatch:
    """``per_pixel`` events on average on each pixel of the box, spread over [t0, t1)."""
    rng = np.random.default_rng(seed)
    n = per_pixel * (y1 - y0) * (x1 - x0)
    t = np.sort(rng.integers(int(t0_ms * MS), int(t1_ms * MS), n))
    return EventBatch.from_arrays(t, rng.integers(x0, x1, n), rng.integers(y0, y1, n),
                                  rng.integers(0, 2, n), width=W, height=H)


def test_static_scene_keeps_keyframe_mask_bit_for_bit(model):
    seg = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE, theta=0.5, rows=3, cols=4))
    empty = EventBatch.empty(W, H)
    first = seg.segment(frame(1), 50 * MS, empty)
    assert first.keyframe and first.regions_recomputed == 12
    for i in range(2, 6):
        # A different image with no events: nothing changed, nothing is recomputed.
        result = seg.segment(frame(i), 50 * MS * i, empty)
        assert not result.keyframe and result.regions_recomputed == 0
        assert result.pixels_computed == 0
        np.testing.assert_array_equal(result.mask, first.mask)


def test_only_regions_with_events_are_recomputed(model):
    gating = replace(PUBLISHED_RULE, theta=1.0, rows=3, cols=4, margin=8, batch_crops_only=True)
    seg = HybridSegmenter(model, encoder(), gating)
    seg.segment(frame(1), 50 * MS, EventBatch.empty(W, H))
    rows, cols = region_bounds(H, W, 3, 4)
    # A moving object inside region (1, 2): 3 events per pixel there, nothing elsewhere.
    box = (int(rows[1]) + 2, int(rows[2]) - 2, int(cols[2]) + 2, int(cols[3]) - 2)
    events = blob_events(50, 100, *box, per_pixel=3)
    before = seg._mask.copy()
    calls = []
    hook = seg.model.register_forward_hook(lambda m, args, out: calls.append(args[0].shape))
    try:
        result = seg.segment(frame(2), 100 * MS, events)
    finally:
        hook.remove()
    assert result.regions_recomputed == 1 and not result.keyframe
    # One forward pass on one crop that holds the region plus its margin, not the whole frame.
    assert len(calls) == 1 and calls[0][0] == 1
    crop_h, crop_w = calls[0][-2:]
    assert rows[2] - rows[1] + 16 <= crop_h < H and cols[3] - cols[2] + 16 <= crop_w < W
    assert result.pixels_computed == crop_h * crop_w
    outside = np.ones((H, W), bool)
    outside[rows[1]:rows[2], cols[2]:cols[3]] = False
    np.testing.assert_array_equal(result.mask[outside], before[outside])


def test_theta_zero_split_matches_full_pass(model):
    """theta = 0 recomputes every region through the split path (per-region crops in one
    batch); with the model's exact margin the labels equal a full pass bit for bit, and with a
    small margin the difference is the split's border effect, bounded here."""
    full = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE, theta=0.0,
                                                     keyframe_interval=1))
    events = blob_events(0, 100, 0, H, 0, W, per_pixel=2, seed=3)
    full.segment(frame(1), 50 * MS, events)
    reference = full.segment(frame(2), 100 * MS, events)
    assert reference.keyframe
    for margin, max_disagreement in ((SegSNN.exact_margin, 0.0), (16, 0.35)):
        split = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE,
            theta=0.0, rows=3, cols=4, margin=margin, batch_crops_only=True))
        split.segment(frame(1), 50 * MS, events)
        result = split.segment(frame(2), 100 * MS, events)
        assert result.regions_recomputed == 12 and not result.keyframe
        disagreement = float((result.mask != reference.mask).mean())
        assert disagreement <= max_disagreement, (margin, disagreement)


def test_merged_box_used_when_cheaper(model):
    seg = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE, theta=0.0, rows=3, cols=4))
    seg.segment(frame(1), 50 * MS, EventBatch.empty(W, H))
    result = seg.segment(frame(2), 100 * MS, EventBatch.empty(W, H))
    assert result.regions_recomputed == 12
    assert result.pixels_computed == H * W  # the merged box is the whole frame


def test_keyframe_policy_interval_age_fraction_and_time_going_back(model):
    empty = EventBatch.empty(W, H)
    seg = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE, theta=1.0, keyframe_interval=3))
    flags = [seg.segment(frame(i), 50 * MS * i, empty).keyframe for i in range(1, 8)]
    assert flags == [True, False, False, True, False, False, True]

    seg = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE, theta=1.0,
                                                    keyframe_max_age_s=0.12))
    flags = [seg.segment(frame(i), 50 * MS * i, empty).keyframe for i in range(1, 6)]
    assert flags == [True, False, False, True, False]  # ages 0, 50, 100, 150 ms, 50 ms

    seg = HybridSegmenter(model, encoder(), replace(PUBLISHED_RULE, theta=1.0,
                                                    max_changed_fraction=0.5))
    seg.segment(frame(1), 50 * MS, empty)
    busy = blob_events(50, 100, 0, H, 0, W, per_pixel=2)
    assert seg.segment(frame(2), 100 * MS, busy).keyframe

    result = seg.segment(frame(3), 20 * MS, empty)  # a bag loop
    assert result.reset and result.keyframe


@pytest.mark.parametrize("bad", [dict(theta=-1.0), dict(theta=float("nan")), dict(rows=0),
                                 dict(margin=-2), dict(max_changed_fraction=1.5)])
def test_invalid_gating_is_rejected(bad):
    with pytest.raises(ValueError, match="must"):
        GatingConfig(**bad).validate()


def test_class_ids_equal_argmax_ties_to_the_lowest_class():
    from ness_ros.segmentation.predict import class_ids

    rng = np.random.default_rng(3)
    for shape in ((1, 6, 37, 53), (5, 3, 16, 16), (2, 1, 4, 4)):
        logits = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
        assert torch.equal(class_ids(logits), logits.argmax(1).to(torch.uint8))
        tied = torch.from_numpy(rng.integers(0, 3, shape).astype(np.float32))  # many ties
        assert torch.equal(class_ids(tied), tied.argmax(1).to(torch.uint8))
        strided = logits.contiguous(memory_format=torch.channels_last)
        assert torch.equal(class_ids(strided), logits.argmax(1).to(torch.uint8))


def test_frame_tensor_is_the_normalised_frame_channels_first():
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mono = rng.integers(0, 256, (H, W), dtype=np.uint8)
    mean, std = np.float32([0.4, 0.45, 0.5]), np.float32([0.2, 0.25, 0.3])
    colour = InputEncoder(num_steps=2, event_window_ns=MS, frame_channels=3,
                          frame_mean=tuple(mean), frame_std=tuple(std))
    for image, planes in ((rgb, np.moveaxis(rgb, 2, 0)), (mono, np.stack([mono] * 3))):
        expected = (planes.astype(np.float32) / np.float32(255) - mean[:, None, None]) \
            / std[:, None, None]
        got = colour.frame_tensor(image)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    luma = InputEncoder(num_steps=2, event_window_ns=MS, frame_channels=1, frame_mean=(0.45,),
                        frame_std=(0.25,))
    expected = (np.tensordot(np.float32([0.299, 0.587, 0.114]), np.moveaxis(rgb, 2, 0) / 255.0,
                             axes=1) - 0.45) / 0.25
    np.testing.assert_allclose(luma.frame_tensor(rgb)[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels", [3, 1])
def test_padded_channels_last_inputs_hold_the_same_values(channels):
    """What the segmenters feed the model (padded to its stride, channels last) equals the plain
    arrays on the sensor, is zero in the padding, and lies in (..., H, W, C) memory order."""
    rng = np.random.default_rng(5)
    h, w = 50, 70  # neither a multiple of 16
    enc = InputEncoder(num_steps=2, event_window_ns=50 * MS, event_clip=2.0, event_scale=0.5,
                       frame_channels=channels, frame_mean=(0.4,) * channels,
                       frame_std=(0.3,) * channels)
    n = 4000
    events = EventBatch.from_arrays(np.sort(rng.integers(0, 60 * MS, n)), rng.integers(0, w, n),
                                    rng.integers(0, h, n), rng.integers(0, 2, n), width=w,
                                    height=h)
    for image in (rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                  rng.integers(0, 256, (h, w), dtype=np.uint8)):
        plain = enc.frame_tensor(image)
        padded = enc.frame_tensor(image, pad_to=16, channels_last=True)
        assert padded.shape == (channels, 64, 80)
        np.testing.assert_array_equal(padded[:, :h, :w], plain)
        assert not padded[:, h:].any() and not padded[:, :, w:].any()
        assert padded.transpose(1, 2, 0).flags.c_contiguous
    plain = enc.event_tensor(events, 60 * MS)
    padded = enc.event_tensor(events, 60 * MS, pad_to=16, channels_last=True)
    assert plain.max() == 1.0 and padded.shape == (2, 2, 64, 80)  # clipped at 2, scaled by 0.5
    np.testing.assert_array_equal(padded[..., :h, :w], plain)
    assert not padded[..., h:, :].any() and not padded[..., w:].any()
    assert padded.transpose(0, 2, 3, 1).flags.c_contiguous


def test_stacked_crops_equal_the_slices_in_channels_last_order():
    rng = np.random.default_rng(6)
    frame_t = torch.from_numpy(rng.standard_normal((3, 64, 96)).astype(np.float32))
    events_t = torch.from_numpy(rng.standard_normal((2, 2, 64, 96)).astype(np.float32))
    windows = [(0, 0, 32, 48), (64, 16, 96, 64)]
    frames, events = stack_crops(frame_t, events_t, windows)
    assert torch.equal(frames, torch.stack([frame_t[:, y0:y1, x0:x1]
                                            for x0, y0, x1, y1 in windows]))
    assert torch.equal(events, torch.stack([events_t[:, :, y0:y1, x0:x1]
                                            for x0, y0, x1, y1 in windows], 1))
    assert frames.is_contiguous(memory_format=torch.channels_last)
    assert events.flatten(0, 1).is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="differ in size"):
        stack_crops(frame_t, events_t, [(0, 0, 32, 48), (0, 0, 32, 32)])


@pytest.mark.parametrize("accumulate", [True, False])
def test_slow_steady_change_is_caught_once_it_adds_up_to_theta(model, accumulate):
    from ness_ros.events.representations import region_counts

    gating = replace(PUBLISHED_RULE, theta=1.0, rows=3, cols=4, margin=8, accumulate=accumulate)
    seg = HybridSegmenter(model, encoder(), gating)
    seg.segment(frame(1), 50 * MS, EventBatch.empty(W, H))
    rows, cols = region_bounds(H, W, 3, 4)
    # A trickle in region (1, 2): one event on each pixel of a box of about 40 % of its area
    # per frame, so about 0.4 events per pixel of the region per frame, below theta.
    y0, x0 = int(rows[1]), int(cols[2])
    box = (y0, y0 + int(0.6 * (rows[2] - rows[1])), x0, x0 + int(0.7 * (cols[3] - cols[2])))
    recomputed, total = [], 0.0
    for i in range(2, 9):
        events = blob_events(50 * (i - 1), 50 * i, *box, per_pixel=1, seed=i)
        per_frame = region_counts(events, 3, 4)[1, 2]
        assert 0.3 < per_frame < 0.5
        result = seg.segment(frame(1), 50 * MS * i, events)
        assert not result.keyframe
        total += per_frame
        recomputed.append(result.regions_recomputed)
        if accumulate and total >= 1.0:
            assert result.regions_recomputed == 1, (i, total)
            total = 0.0
        else:
            assert result.regions_recomputed == 0, (i, total)
    assert sum(recomputed) == (2 if accumulate else 0)


def test_merged_box_sizes_snap_to_a_few_shapes_and_still_cover_the_box():
    """Sizes are multiples of the step (or the whole padded frame), origins stay on the stride
    grid, and the window still holds the box plus its margin wherever the frame allows."""
    width, height, margin, stride = 346, 260, 16, 16
    sizes = set()
    rng = np.random.default_rng(0)
    for _ in range(300):
        x0, y0 = int(rng.integers(0, width - 1)), int(rng.integers(0, height - 1))
        x1, y1 = int(rng.integers(x0 + 1, width + 1)), int(rng.integers(y0 + 1, height + 1))
        wx0, wy0, wx1, wy1 = box_window(x0, y0, x1, y1, width, height, margin, stride,
                                        size_step=64)
        assert wx0 % stride == 0 and wy0 % stride == 0
        assert 0 <= wx0 and wx1 <= 352 and 0 <= wy0 and wy1 <= 272
        assert wx0 <= max(0, x0 - margin) and wx1 >= min(352, x1 + margin)
        assert wy0 <= max(0, y0 - margin) and wy1 >= min(272, y1 + margin)
        assert (wx1 - wx0) % 64 == 0 or wx1 - wx0 == 352
        assert (wy1 - wy0) % 64 == 0 or wy1 - wy0 == 272
        sizes.add((wx1 - wx0, wy1 - wy0))
    assert len(sizes) <= 6 * 5
    with pytest.raises(ValueError, match="multiple of the stride"):
        box_window(0, 0, 10, 10, width, height, margin, stride, size_step=24)
