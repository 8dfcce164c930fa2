"""The packaged weights, evaluated on sequences of seeds that training never saw.

Training used seeds 1-32 and validation seed 1001 (see each model card's ``data_seeds``); these
tests generate seed 7001 and 7002, run the same segmenters the nodes run, and check MIoU against
bars set below what the weights reached when they were made (see the cards' metrics), well above
a colour-only classifier trained on the same kind of data.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import REPO_ROOT
from ness_ros.data.cache import cached_sequence
from ness_ros.data.colour_baseline import ColourBaseline
from ness_ros.data.sequence import SequenceConfig, generate_sequence
from ness_ros.metrics import mean_iou
from ness_ros.models.weights import default_weights_path, load_model
from ness_ros.segmentation.evaluation import evaluate_events, evaluate_hybrid
from ness_ros.segmentation.gating_config import FULL_PASS, PUBLISHED_RULE, GatingConfig
from ness_ros.segmentation.guided import DEFAULT_GUIDED
from ness_ros.segmentation.inputs import InputEncoder

HELD_OUT = [7001, 7002]
#: MIoU the tests demand (fractions), about 5 points under what the packaged weights reach on
#: these seeds (SegSNN 0.708 with the model's bilinear logits, the default, and 0.734 with the
#: segmenter's guided upsampling; EvSegSNN 0.567; colour-only classifier 0.233). The design's
#: goal is 0.80 and 0.55: raise these as better weights are trained.
SEGSNN_BAR = 0.66
SEGSNN_GUIDED_BAR = 0.68
EVSEGSNN_BAR = 0.52
#: MIoU that guided upsampling must add to the bilinear logits (measured 0.026 here, 0.035 on
#: the validation seed where its settings were chosen).
GUIDED_GAIN = 0.015
#: MIoU the gated defaults may lose against the full pass (measured here: 2.8 points at theta 1,
#: change accumulated per region, 48 % of regions recomputed; ness eval sweep on seeds 5001-5002:
#: 3.6 points; with guided upsampling 4.0 and 4.8).
GATED_MIOU_LOSS = 0.05
#: MIoU the node's default gating (warped reuse) may lose against the full pass, and the
#: largest share of a full pass's pixels it may compute (measured here: 1.5 points, 0.34 of the
#: pixels, 2.9x fewer MACs; ness eval sweep on seeds 5001-5002: 1.3 points, 2.7x).
WARPED_MIOU_LOSS = 0.025
WARPED_PIXEL_SHARE = 0.45
#: Fraction of pixels whose label differs between theta = 0 split crops (16 px margin) and the
#: full pass (measured 0.052 on seed 7001).
BORDER_EFFECT_BOUND = 0.08


@pytest.fixture(scope="module")
def held_out():
    config = SequenceConfig(duration_s=3.0)
    return [cached_sequence(seed, config, progress=False) for seed in HELD_OUT]


def packaged(name: str):
    model, card = load_model(default_weights_path(name))
    assert not set(card.data_seeds) & set(HELD_OUT), "held-out seeds were used in training"
    return model, card, InputEncoder.from_card(card)


@pytest.fixture(scope="module")
def hybrid_full(held_out):
    model, card, encoder = packaged("segsnn")
    return evaluate_hybrid(model, encoder, held_out, FULL_PASS,
                           name="full")


def test_cards_say_how_to_reproduce_the_weights():
    for name in ("segsnn", "evsegsnn"):
        _, card, _ = packaged(name)
        assert card.training_command == (f"ness train --config config/training/{name}.yaml "
                                         f"--device cuda --export ness_ros/weights/{name}")
        assert (REPO_ROOT / "config" / "training" / f"{name}.yaml").is_file()
        assert card.data_seeds and card.metrics["val_miou"] > 0


def test_hybrid_segsnn_miou_on_unseen_seeds(hybrid_full):
    assert hybrid_full.frames == 120
    assert hybrid_full.miou >= SEGSNN_BAR, hybrid_full.per_class_iou


def test_guided_upsampling_beats_the_models_bilinear_logits(held_out, hybrid_full):
    model, card, encoder = packaged("segsnn")
    guided = evaluate_hybrid(model, encoder, held_out, FULL_PASS,
                             guided=DEFAULT_GUIDED)
    assert guided.miou >= SEGSNN_GUIDED_BAR, guided.per_class_iou
    assert guided.miou - hybrid_full.miou >= GUIDED_GAIN, (guided.miou, hybrid_full.miou)
    # Thin poles and signs (object) gain most.
    assert guided.per_class_iou[2] > hybrid_full.per_class_iou[2] + 0.03


@pytest.fixture(scope="module")
def events_only(held_out):
    model, card, encoder = packaged("evsegsnn")
    return evaluate_events(model, encoder, held_out)


def test_event_only_evsegsnn_miou_on_unseen_seeds(events_only):
    assert events_only.miou >= EVSEGSNN_BAR, events_only.per_class_iou


def test_models_far_above_the_colour_only_classifier(held_out, hybrid_full, events_only):
    baseline = ColourBaseline()
    for seed in (1, 2):  # training seeds, frames only
        seq = generate_sequence(seed, duration_s=3.0, events=False, progress=False)
        baseline.fit(seq.frames, seq.labels)
    confusion = sum(baseline.confusion(s.frames, s.labels) for s in held_out)
    colour_miou = mean_iou(confusion)
    assert colour_miou + 0.15 <= hybrid_full.miou, (colour_miou, hybrid_full.miou)
    assert colour_miou + 0.10 <= events_only.miou, (colour_miou, events_only.miou)


def test_node_defaults_follow_the_motion_close_to_the_full_pass_for_a_third_of_its_work(
        held_out, hybrid_full):
    model, card, encoder = packaged("segsnn")
    gated = evaluate_hybrid(model, encoder, held_out, GatingConfig(), ceiling=True)
    assert hybrid_full.miou - gated.miou <= WARPED_MIOU_LOSS, (hybrid_full.miou, gated.miou)
    assert gated.pixels_computed_fraction <= WARPED_PIXEL_SHARE
    # The same decisions with a perfect model: far above the model, and the carried labels
    # are what is left of the loss.
    assert gated.extra["ceiling_miou"] > hybrid_full.miou + 0.1
    assert gated.extra["motion_ms"] > 0


def test_published_rule_stays_close_to_the_full_pass(held_out, hybrid_full):
    model, card, encoder = packaged("segsnn")
    # The published rule (reuse: static) at the node's former defaults: theta 1 event per
    # pixel, grid 4 x 6, margin 16, keyframe every 2 s.
    gated = evaluate_hybrid(model, encoder, held_out, replace(PUBLISHED_RULE, theta=1.0,
                                                                    keyframe_max_age_s=2.0,
                                                                    max_changed_fraction=0.6))
    assert gated.recomputed_fraction < 0.6
    assert hybrid_full.miou - gated.miou <= GATED_MIOU_LOSS, (hybrid_full.miou, gated.miou)


@pytest.mark.parametrize("guided", [None, DEFAULT_GUIDED], ids=["bilinear", "guided"])
def test_theta_zero_split_differs_from_the_full_pass_only_at_crop_borders(held_out, guided):
    """Per-region crops (16 px margin) in one batch against one full pass on the same frames:
    labels differ only where a crop's border cuts the context (measured and bounded here); with
    the model's exact margin they are identical, guided upsampling or not."""
    from ness_ros.models.segsnn import SegSNN
    from ness_ros.segmentation.hybrid import HybridSegmenter

    model, card, encoder = packaged("segsnn")
    seq = held_out[0]
    full = HybridSegmenter(model, encoder, FULL_PASS, guided=guided)
    split = {margin: HybridSegmenter(model, encoder, replace(PUBLISHED_RULE,
        theta=0.0, margin=margin, batch_crops_only=True, max_changed_fraction=1.0),
        guided=guided) for margin in (16, SegSNN.exact_margin)}
    disagreement = {16: [], SegSNN.exact_margin: []}
    for i in range(0, 30):
        stamp = int(seq.stamps_ns[i])
        reference = full.segment(seq.frames[i], stamp, seq.events).mask
        for margin, segmenter in split.items():
            result = segmenter.segment(seq.frames[i], stamp, seq.events)
            if not result.keyframe:
                disagreement[margin].append(float((result.mask != reference).mean()))
    assert np.mean(disagreement[SegSNN.exact_margin]) <= 1e-4  # float rounding only
    assert np.mean(disagreement[16]) <= BORDER_EFFECT_BOUND, np.mean(disagreement[16])
