"""``ness eval model``, ``ness eval sweep`` and ``ness eval ceiling`` end to end on short
sequences."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.tiny_models import tiny_model_file


def ness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "ness_ros.cli.main", *args],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_eval_model_prints_scores_and_writes_confusion(tmp_path, monkeypatch):
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny_model_file(tmp_path, "evsegsnn")
    out = ness("eval", "model", "--model", str(model), "--seeds", "31", "--duration", "1",
               "--out", str(tmp_path / "eval"), "--no-progress", "--json",
               str(tmp_path / "eval.json")).stdout
    assert "per-class IoU" in out and "synaptic ops/frame" in out
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert figures["report"]["frames"] == 20
    assert figures["work"]["macs"] > 0 and figures["sequences"]["seeds"] == [31]
    ceiling = figures["head_resolution_ceiling"]  # EvSegSNN's head works at 1/2
    assert ceiling["head_stride"] == 2 and figures["report"]["miou"] < ceiling["miou"] < 1.0
    assert "MIoU ceiling of a 1/2 head" in out
    assert (tmp_path / "eval" / "confusion_evsegsnn.png").stat().st_size > 1000


def test_stops_shape_the_synthetic_drives(tmp_path, monkeypatch):
    """``--stops``: a 1 s drive has no stop by default; one stop of 0.6-1.1 s leaves the ego
    vehicle standing for much of it."""
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny_model_file(tmp_path, "evsegsnn")
    moving = {}
    for stops in ([], ["--stops", "1"]):
        json_path = tmp_path / f"eval{len(stops)}.json"
        ness("eval", "model", "--model", str(model), "--seeds", "33", "--duration", "1",
             *stops, "--out", str(tmp_path / "eval"), "--no-progress", "--json", str(json_path))
        moving[len(stops)] = json.loads(json_path.read_text())["sequences"]["moving_fraction"]
    assert moving[0] == 1.0 and moving[2] < 0.8


def test_sweep_runs_full_split_and_every_theta_on_the_same_frames(tmp_path, monkeypatch):
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny_model_file(tmp_path, "segsnn")
    out_dir = tmp_path / "sweep"
    out = ness("eval", "sweep", "--model", str(model), "--seeds", "31", "--duration", "1",
               "--thetas", "0", "2", "1000", "--grid", "2", "3", "--residual-thetas", "0.5",
               "1000", "--keyframe-intervals", "3", "--out", str(out_dir),
               "--no-progress").stdout
    assert "threshold sweep" in out
    rows = json.loads((out_dir / "sweep.json").read_text())["rows"]
    assert [r["theta"] for r in rows] == ["full", "0 (split)", "0 (split, merged box)", "0",
                                          "2", "1000", "warped 0.5", "warped 1000", "every 3",
                                          "full (again)"]
    assert [r["reuse"] for r in rows] == (["full"] + ["static"] * 5 + ["warped"] * 2
                                          + ["interval", "full"])
    # Without the gate, a keyframe every third frame of the 20 and carried labels between: a
    # third of a full pass's work, and carried ground truth below a full pass's ceiling.
    every_third = rows.pop(8)
    assert every_third["keyframes"] == 7 and every_third["motion_ms"] > 0
    assert every_third["macs_ratio"] == pytest.approx(20 / 7, rel=0.01)
    assert every_third["recomputed_fraction"] == pytest.approx(6 / 19)
    assert every_third["ceiling_miou"] < 1.0 and every_third["threshold"] == 3
    warped, never = rows[6], rows[7]
    # Warped reuse estimates motion on every frame that is not a keyframe, and a huge residual
    # threshold computes nothing after the keyframes (one every 2 s): its labels all follow the
    # motion, more than a full pass's worth of MACs cheaper.
    assert warped["motion_ms"] > 0 and never["motion_ms"] > 0
    # Warped rows are also timed frame by frame beside a full pass: computing nothing after the
    # keyframe, the huge threshold's row runs faster than it.
    assert never["paired_speedup"] > 1.0 and warped["paired_speedup"] > 0
    assert never["macs_ratio"] > 5 and never["keyframes"] == 1
    # Carried ground truth is not exact, but much better than ground truth kept in place.
    assert rows[5]["ceiling_miou"] < never["ceiling_miou"] < 1.0
    rows = rows[:6] + rows[8:]
    first, again = rows[0], rows.pop()
    # speed-ups are against the mean of the two full runs, which agree on everything else
    assert first["speedup"] + again["speedup"] == pytest.approx(2.0)
    assert again["miou"] == first["miou"] and again["recomputed_fraction"] == 1.0
    assert first["recomputed_fraction"] == 1.0
    for split in rows[1:3]:  # the split path recomputes every region, never as a keyframe
        assert split["recomputed_fraction"] == 1.0 and split["keyframes"] <= 1
    # One box of all regions is the full frame's work; per-region crops pay for their margins.
    assert rows[2]["macs_per_frame"] == pytest.approx(rows[0]["macs_per_frame"], rel=1e-6)
    assert rows[1]["macs_per_frame"] > rows[2]["macs_per_frame"]
    huge = rows[-1]
    assert huge["recomputed_fraction"] == 0.0  # theta = 1000 keeps the keyframes
    assert huge["macs_per_frame"] < rows[0]["macs_per_frame"]
    # With ground truth where the model ran: every region recomputed is exact, kept labels are
    # stale (1 s of driving), and the model itself is far below its ceiling.
    for row in (first, again, *rows[1:4]):
        assert row["ceiling_miou"] == 1.0
    assert huge["ceiling_miou"] < 0.95 and first["miou"] < 0.9
    assert (out_dir / "sweep.md").read_text().count("\n|") >= 6
    assert (out_dir / "sweep.png").stat().st_size > 1000


def test_ceiling_bounds_label_reuse_against_labels_and_the_full_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny_model_file(tmp_path, "segsnn")
    out_dir = tmp_path / "ceiling"
    out = ness("eval", "ceiling", "--model", str(model), "--seeds", "31", "--duration", "1",
               "--grids", "2x3", "4x6", "--budgets", "0.2", "1", "--out", str(out_dir),
               "--no-progress", "--json", str(tmp_path / "ceiling.json")).stdout
    assert "label reuse ceiling" in out and "full pass of segsnn" in out
    figures = json.loads((tmp_path / "ceiling.json").read_text())
    rows = figures["rows"]
    assert [(r["pasted"], r["reuse"], r["grid"], r["budget"]) for r in rows] == [
        (pasted, reuse, grid, budget) for pasted in ("ground truth", "full pass")
        for reuse in ("static", "warped") for grid in ("2x3", "4x6") for budget in (0.2, 1.0)]
    # Ground truth carried along the motion stays closer to the ground truth than kept in place.
    by_case = {(r["pasted"], r["reuse"], r["grid"], r["budget"]): r["miou"] for r in rows}
    for grid in ("2x3", "4x6"):
        assert by_case[("ground truth", "warped", grid, 0.2)] > \
            by_case[("ground truth", "static", grid, 0.2)]
    full_pass = figures["full_pass_miou"]
    for row in rows:
        baseline = 1.0 if row["pasted"] == "ground truth" else full_pass
        assert row["loss_points"] == pytest.approx(100 * (row["miou"] - baseline))
        if row["budget"] == 1.0:  # every region every frame: nothing is reused
            assert row["miou"] == pytest.approx(baseline) and row["computed_fraction"] == 1.0
        else:
            assert row["computed_fraction"] < 0.5
            if row["pasted"] == "ground truth":  # (a tiny model's masks may barely change)
                assert row["loss_points"] < 0
    assert (out_dir / "ceiling.png").stat().st_size > 1000


@pytest.mark.parametrize(("args", "message"), [
    (["ceiling", "--grids", "4by6"], "ROWSxCOLS"),
    (["ceiling", "--budgets", "0.2", "1.5"], "(0, 1]"),
    (["ceiling", "--keyframe-max-age", "-1"], "must be >= 0"),
    (["model", "--arch", "evsegsnn", "--upsampling", "guided"], "needs the hybrid model"),
    (["sweep", "--keyframe-intervals", "3", "0"], "at least 1"),
    (["model", "--dataset", "dsec", "--data-root", ".", "--stops", "2"], "--stops shapes"),
])
def test_bad_options_are_refused_with_a_reason(args, message):
    result = subprocess.run([sys.executable, "-m", "ness_ros.cli.main", "eval", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]


def test_eval_model_at_a_sensor_size_runs_the_model_at_the_working_size(tmp_path, monkeypatch):
    """``--size``: drives rendered at twice the model's size are segmented at the working
    resolution as the nodes do (the work per frame is the model's size's) and scored at the
    sensor's."""
    monkeypatch.setenv("NESS_CACHE_DIR", str(tmp_path / "cache"))
    model = tiny_model_file(tmp_path, "segsnn")  # trained size 96 x 64
    runs = {}
    for name, size in (("native", []), ("double", ["--size", "192", "128"])):
        out = ness("eval", "model", "--model", str(model), "--seeds", "31", "--duration", "1",
                   *size, "--out", str(tmp_path / name), "--no-progress", "--json",
                   str(tmp_path / f"{name}.json")).stdout
        runs[name] = (out, json.loads((tmp_path / f"{name}.json").read_text()))
    out, double = runs["double"]
    assert "model at 96 x 64 (sensor 192 x 128)" in out
    native = runs["native"][1]
    assert double["report"]["frames"] == native["report"]["frames"] == 20
    assert double["work"]["macs"] == pytest.approx(native["work"]["macs"], rel=0.01)
    assert sum(map(sum, double["report"]["confusion"])) == 20 * 192 * 128
