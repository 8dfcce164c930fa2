"""Offline evaluation of bags: the same figures as evaluating the sequence itself."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from conftest import SHARED_DATA
from helpers.bags import drive, recorded_bag
from helpers.scores import miou_of, scored_pixels
from helpers.tiny_models import tiny_model_files
from ness_ros.bag import (
    BagError,
    EvalOptions,
    bag_info,
    evaluate_bag,
    resolve_topics,
)
from ness_ros.cli.main import main
from ness_ros.models.weights import load_model
from ness_ros.segmentation.evaluation import evaluate_hybrid
from ness_ros.segmentation.gating_config import PUBLISHED_RULE
from ness_ros.segmentation.inputs import InputEncoder

W, H = 128, 96
EVT3_BAG = SHARED_DATA / "evt3_event_camera_py"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    return drive(tmp_path_factory, W, H)


@pytest.fixture(scope="module")
def bag(sequence, tmp_path_factory):
    return recorded_bag(sequence, tmp_path_factory)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_model_files(tmp_path_factory.mktemp("models"), W, H, base_width=8, seed=0)


def test_offline_eval_equals_evaluating_the_sequence(sequence, bag, models):
    model, card = load_model(models["hybrid"])
    gating = replace(PUBLISHED_RULE, theta=1.0, rows=2, cols=3, margin=8, keyframe_max_age_s=0.5)
    direct = evaluate_hybrid(model, InputEncoder.from_card(card), [sequence], gating)
    report = evaluate_bag(bag, model, card, resolve_topics(bag_info(bag)),
                          EvalOptions(gating=gating, progress=False))
    np.testing.assert_array_equal(report.confusion, np.array(direct.confusion))
    figures = report.figures
    assert figures["masks"] == figures["frames_evaluated"] == 40
    assert figures["miou"] == pytest.approx(direct.miou)
    assert figures["keyframes"] == direct.keyframes
    assert figures["events"] == len(sequence.events)
    assert figures["frames_per_s"] > 0 and figures["events_per_s"] > 0


def test_cli_eval_writes_the_report(bag, models, tmp_path):
    out, out_json = tmp_path / "report", tmp_path / "eval.json"
    assert main(["bag", "eval", str(bag), "--model", str(models["hybrid"]), "--threads", "1",
                 "--keyframe-interval", "1", "--out", str(out), "--json", str(out_json),
                 "--no-progress"]) == 0
    for name in ("report.json", "report.md", "confusion.png", "overlays.png", "latency.png"):
        assert (out / name).is_file(), name
    data = json.loads(out_json.read_text())
    assert data == json.loads((out / "report.json").read_text())
    figures = data["figures"]
    assert figures["keyframes"] == figures["masks"] == 40
    assert figures["frames_per_s"] > 0
    assert scored_pixels(data["confusion"]) == 40 * W * H  # synthetic labels cover every pixel
    assert figures["miou"] == pytest.approx(miou_of(data["confusion"]), abs=1e-9)
    assert set(data["per_class_iou"]) == {"flat", "background", "object", "vegetation",
                                          "human", "vehicle"}
    assert "| miou |" in (out / "report.md").read_text()


def test_event_only_eval_of_the_real_evt3_bag(models, tmp_path):
    bag = tmp_path / "evt3"
    shutil.copytree(EVT3_BAG, bag)
    model, card = load_model(models["events"])
    topics = resolve_topics(bag_info(bag))
    assert (topics.events, topics.event_message) == ("/event_camera/events", "packet")
    report = evaluate_bag(bag, model, card, topics,
                          EvalOptions(mode="events", period_s=0.25, progress=False))
    figures = report.figures
    assert figures["events"] == 343_474  # every event of the recording decoded
    assert figures["masks"] == 8  # 2.08 s of events, one mask per 0.25 s after the first
    assert figures["events_per_s"] > 0 and report.confusion is None
    assert figures["recording_events_per_s"] == pytest.approx(343_474 / 2.076, rel=0.01)
    assert report.overlays and report.overlays[0].shape == (480, 2 * 640, 3)


def test_errors_name_the_problem(bag, models, tmp_path):
    model, card = load_model(models["hybrid"])
    evt3 = resolve_topics(bag_info(EVT3_BAG))
    with pytest.raises(BagError, match="hybrid mode needs an image topic"):
        evaluate_bag(EVT3_BAG, model, card, evt3, EvalOptions(progress=False))
    with pytest.raises(BagError, match="has type sensor_msgs/msg/Image, expected"):
        resolve_topics(bag_info(bag), events="/camera/image")
    with pytest.raises(BagError, match="not a rosbag2 folder"):
        bag_info(tmp_path)
    assert main(["bag", "eval", str(bag), "--mode", "events", "--model",
                 str(models["hybrid"]), "--out", str(tmp_path / "x")]) == 1


def test_working_resolution_and_roi_offline_as_in_the_nodes(bag, models, tmp_path):
    """``--working-size`` and ``--roi``: the model runs at the working size, masks come back at
    the sensor's resolution and are scored inside the roi only (the rest counted, unscored)."""
    out, out_json = tmp_path / "report", tmp_path / "eval.json"
    assert main(["bag", "eval", str(bag), "--model", str(models["hybrid"]), "--threads", "1",
                 "--working-size", "64x48", "--roi", "0", "16", str(W), str(H - 32),
                 "--out", str(out), "--json", str(out_json), "--no-progress"]) == 0
    figures = json.loads(out_json.read_text())["figures"]
    assert figures["masks"] == figures["frames_evaluated"] == 40
    assert figures["unscored_pixels"] == 40 * W * 32  # synthetic labels cover every pixel
    assert figures["resolution"] == (f"model at 64 x 48 (sensor {W} x {H}, roi {W} x {H - 32} "
                                     "at (0, 16)), mask at the sensor resolution")
    assert main(["bag", "eval", str(bag), "--model", str(models["hybrid"]), "--roi", "0", "0",
                 str(W + 1), str(H), "--out", str(tmp_path / "x"), "--no-progress"]) == 1
