"""Guided upsampling of the head's class scores: the numba pass, the guide, thin structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from helpers.tiny_models import tiny_segsnn
from ness_ros.segmentation.gating_config import PUBLISHED_RULE
from ness_ros.segmentation.guided import (
    DEFAULT_GUIDED,
    GuidedUpsampling,
    brightness,
    guided_class_ids,
    guided_coefficients,
    guided_labels,
    guided_scores,
)
from ness_ros.segmentation.hybrid import HybridSegmenter
from ness_ros.segmentation.inputs import InputEncoder


def encoder() -> InputEncoder:
    return InputEncoder(num_steps=2, event_window_ns=50_000_000, event_clip=4.0,
                        event_scale=0.25, frame_channels=3, frame_mean=(0.4, 0.5, 0.6),
                        frame_std=(0.2, 0.25, 0.3))


@pytest.mark.parametrize("channels_last", [False, True])
def test_brightness_undoes_the_normalisation(channels_last):
    image = np.random.default_rng(0).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    enc = encoder()
    frame = torch.from_numpy(enc.frame_tensor(image, pad_to=16, channels_last=channels_last))
    seen = brightness(frame[None], enc.frame_mean, enc.frame_std)
    assert seen.shape == (1, 1, 32, 48)
    np.testing.assert_allclose(seen[0, 0, :30, :41].numpy(), image.mean(axis=2) / 255, atol=1e-5)
    with pytest.raises(ValueError, match="3 channels"):
        brightness(frame[None], (0.5,), (0.25,))


@pytest.mark.parametrize(("stride", "batch", "cells"), [(4, 1, (7, 9)), (4, 2, (5, 12)),
                                                         (2, 1, (6, 4))])
def test_numba_pass_picks_the_best_of_torchs_bilinear_scores(stride, batch, cells):
    rng = np.random.default_rng(stride + batch)
    logits = torch.from_numpy(rng.normal(0, 2, (batch, 6, *cells)).astype(np.float32))
    guide = torch.from_numpy(rng.random((batch, 1, cells[0] * stride, cells[1] * stride),
                                        dtype=np.float32))
    ids = guided_class_ids(logits, guide, stride, DEFAULT_GUIDED)
    a, b = guided_coefficients(logits, guide, stride, DEFAULT_GUIDED)
    reference = guided_scores(a, b, guide, stride).argmax(dim=1)
    assert ids.dtype == torch.uint8 and ids.shape == reference.shape
    # Equal but where two classes' scores tie to float rounding.
    assert (ids.long() == reference).float().mean() >= 0.999


def test_a_line_thinner_than_a_head_cell_follows_the_frame():
    """A 2-pixel pole: bilinear logits at 1/4 resolution lose it, the guided pass draws it."""
    height, width, stride = 48, 64, 4
    label = np.zeros((height, width), np.int64)
    label[:, 29:31] = 1
    shares = F.avg_pool2d(F.one_hot(torch.from_numpy(label), 2).permute(2, 0, 1)[None].float(),
                          stride)
    logits = torch.log(shares.clamp_min(0.05))  # what a head that saw the pole could say
    guide = torch.full((1, 1, height, width), 0.3)
    guide[..., 29:31] = 0.9  # the pole is bright in the frame

    def pole_iou(ids: torch.Tensor) -> float:
        pred = ids[0].numpy() == 1
        return float((pred & (label == 1)).sum() / (pred | (label == 1)).sum())

    bilinear = F.interpolate(logits, scale_factor=stride, mode="bilinear",
                             align_corners=False).argmax(dim=1)
    guided = guided_class_ids(logits, guide, stride, DEFAULT_GUIDED)
    assert pole_iou(guided) >= 0.95
    assert pole_iou(guided) >= pole_iou(bilinear) + 0.3


def test_guided_labels_of_a_segsnn_on_an_unpadded_frame():
    model = tiny_segsnn(base_width=4)  # seed 0, 2 steps, eval mode
    enc = encoder()
    image = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    frame = torch.from_numpy(enc.frame_tensor(image))[None]
    events = torch.rand(2, 1, 2, 50, 70)
    ids = guided_labels(model, frame, events, enc.frame_mean, enc.frame_std, DEFAULT_GUIDED)
    assert ids.shape == (1, 50, 70) and ids.dtype == torch.uint8
    with torch.inference_mode():
        logits = model(frame, events, upsample=False)
        assert logits.shape == (1, 6, 64 // 4, 80 // 4)
        guide = F.pad(brightness(frame, enc.frame_mean, enc.frame_std), (0, 10, 0, 14),
                      mode="replicate")
        a, b = guided_coefficients(logits, guide, 4, DEFAULT_GUIDED)
        reference = guided_scores(a, b, guide, 4).argmax(dim=1)[:, :50, :70]
    assert (ids.long() == reference).float().mean() >= 0.999


def test_settings_are_checked():
    assert DEFAULT_GUIDED.reach(4) == 12
    for bad in (GuidedUpsampling(radius=0), GuidedUpsampling(eps=0.0)):
        with pytest.raises(ValueError, match="guided upsampling"):
            bad.validate()
    with pytest.raises(ValueError, match="head_stride"):
        HybridSegmenter(torch.nn.Conv2d(5, 6, 1), encoder(), PUBLISHED_RULE,
                        guided=DEFAULT_GUIDED)
    logits = torch.zeros(1, 6, 4, 4)
    with pytest.raises(ValueError, match="does not cover"):
        guided_coefficients(logits, torch.zeros(1, 1, 15, 16), 4, DEFAULT_GUIDED)
