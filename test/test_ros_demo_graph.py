"""The demo's node graph end to end: synthetic_camera, a segmentation node and the evaluator,
each in its own process, started by ``ness demo`` as the launch file would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.scores import miou_of, scored_pixels
from helpers.tiny_models import tiny_model_file

#: The tiny untrained model of each demo mode (base width 4, 2 steps, seed 0, 96 x 64).
ARCHITECTURE = {"hybrid": "segsnn", "events": "evsegsnn"}


@pytest.mark.parametrize("mode,message", [("hybrid", "dvs"), ("events", "packet")])
def test_demo_graph_reports_miou_and_latency(mode, message, tmp_path, monkeypatch):
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "ness_ros.cli.main", "demo", "--mode", mode,
           "--duration", "3", "--rate", "0.5", "--size", "96", "64", "--seed", "7",
           "--event-message", message,
           "--model", str(tiny_model_file(tmp_path, ARCHITECTURE[mode])),
           "--out", str(out), "--json", str(tmp_path / "demo.json")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    figures = json.loads((tmp_path / "demo.json").read_text())
    # 3 s at 20 Hz: 60 frames published at half speed. A loaded machine drops frames (the
    # newest frame wins), so this asks only that a good share was segmented and matched.
    assert figures["frames_evaluated"] >= 10, figures
    # The MIoU is the one of the evaluator's confusion matrix, which counts every pixel of
    # every evaluated frame (synthetic labels cover the frame) but those the node left unlabelled.
    report = figures["report"]
    assert figures["miou"] == pytest.approx(miou_of(report["confusion"]), abs=1e-9)
    assert scored_pixels(report["confusion"]) + report["unscored_pixels"] \
        == figures["frames_evaluated"] * 96 * 64
    assert figures["processing_latency_p95_ms"] > 0
    assert "MIoU" in result.stdout or "miou" in result.stdout
    assert (out / "report.json").is_file() and (out / "overlays.png").is_file()


def test_bench_latency_runs_both_modes_through_the_nodes(tmp_path, monkeypatch):
    """``ness bench latency``, briefly, with the packaged weights: both modes alternate, every
    run is a row, and the summary holds each mode's medians."""
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "ness_ros.cli.main", "bench", "latency", "--duration", "1.5",
           "--repeats", "2", "--out", str(tmp_path / "bench"), "--json",
           str(tmp_path / "bench.json")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "median of 2 runs of each mode" in result.stdout
    assert "gated mode keeps up with 20 Hz" in result.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [(row["mode"], row["run"]) for row in report["rows"]] == [
        ("full frame", 1), ("gated", 1), ("full frame", 2), ("gated", 2)]
    full, gated = report["medians"]
    assert full["recomputed_fraction"] == 1.0 and 0.0 < gated["recomputed_fraction"] <= 1.0
    for row in report["rows"]:
        assert row["masks"] > 0 and row["processing_p95_ms"] >= row["processing_p50_ms"] > 0
    assert set(report["reports"]["gated #2"]["stage_ms"]) >= {
        "queue", "events_wait", "represent", "gate", "inference", "publish"}
