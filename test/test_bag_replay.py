"""Live replay: bags published into ROS, the real segmentation nodes in their own processes."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from conftest import SHARED_DATA
from helpers.bags import drive, recorded_bag
from helpers.tiny_models import tiny_model_files
from ness_ros.bag import (
    EvalOptions,
    bag_info,
    evaluate_bag,
    resolve_topics,
)
from ness_ros.cli.main import main
from ness_ros.models.weights import load_model
from ness_ros.segmentation.gating_config import FULL_PASS

W, H = 128, 96
REPORT_FILES = ("report.json", "report.md", "overlays.png", "latency.png")


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    return recorded_bag(drive(tmp_path_factory, W, H), tmp_path_factory)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_model_files(tmp_path_factory.mktemp("models"), W, H, base_width=4, seed=1)


def replay(args: list[str], out) -> dict:
    assert main(["bag", "replay", *args, "--threads", "1", "--out", str(out), "--json",
                 str(out / "figures.json"), "--no-progress", "--startup-timeout", "60"]) == 0
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
    data = json.loads((out / "figures.json").read_text())
    assert data["figures"]["node_exit_code"] == 0, data["details"]["node_log_tail"]
    return data


def test_live_replay_agrees_with_offline_eval(bag, models, tmp_path):
    # Full frames (keyframe every frame): a mask depends on its own frame and event window
    # only, so frames the node drops under load do not change the others' masks.
    data = replay([str(bag), "--model", str(models["hybrid"]), "--rate", "1.0",
                   "--keyframe-interval", "1"], tmp_path / "replay")
    live = data["figures"]
    assert live["inputs_published"] == 40 and live["events_published"] == 249_109
    assert live["masks_received"] >= 24, live  # masks for most frames (load drops some)
    assert live["frames_dropped"] == 40 - live["masks_received"]
    assert live["frames_evaluated"] == live["masks_received"] == live["masks_without_input"] + \
        len(data["latencies_ms"])
    assert 0 < live["latency_ms_p50"] <= live["latency_ms_p95"] <= live["latency_ms_max"]
    assert 0.8 < live["real_time_factor"] < 1.1
    assert live["node_frames_published"] == live["masks_received"]
    assert (tmp_path / "replay" / "confusion.png").is_file()
    model, card = load_model(models["hybrid"])
    threads = torch.get_num_threads()
    try:
        offline = evaluate_bag(bag, model, card, resolve_topics(bag_info(bag)),
                               EvalOptions(gating=FULL_PASS,
                                           progress=False))
    finally:
        torch.set_num_threads(threads)
    assert abs(live["miou"] - offline.figures["miou"]) <= 0.01, (live, offline.figures)


def test_real_evt3_bag_through_the_event_only_node(models, tmp_path):
    bag = tmp_path / "evt3"
    shutil.copytree(SHARED_DATA / "evt3_event_camera_py", bag)
    data = replay([str(bag), "--mode", "events", "--model", str(models["events"])],
                  tmp_path / "replay")
    live = data["figures"]
    assert live["node"] == "event_segmentation" and live["inputs_published"] is None
    assert live["event_messages_published"] == 517 and live["events_published"] == 343_474
    assert live["masks_received"] > 0 and live["events_per_s"] > 0
    assert math.isfinite(live["latency_ms_p50"]) and live["latency_ms_p50"] > 0
    assert live["miou"] is None  # no labels in a real recording
    assert "trigger:=period" in " ".join(data["details"]["node_command"])
