"""``ness data``: generate, stats, preview and baseline on tiny sequences, in process."""

from __future__ import annotations

import json

import cv2

from ness_ros.cli.main import main


def test_generate_stats_preview(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["data", "generate", "--seed", "7", "--count", "2", "--duration", "0.5",
                 "--width", "64", "--height", "48", "--out", str(out), "--quiet",
                 "--json", str(tmp_path / "gen.json")]) == 0
    rows = json.loads((tmp_path / "gen.json").read_text())["sequences"]
    assert [r["seed"] for r in rows] == [7, 8] and all(r["events"] > 0 for r in rows)
    assert (out / "seq_00007" / "meta.json").is_file()

    assert main(["data", "stats", str(out), "--json", str(tmp_path / "stats.json")]) == 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    seq = stats["sequences"][0]
    assert seq["frames"] == 10 and seq["event_rate_mps"] > 0 and 0 <= seq["moving_fraction"] <= 1
    assert abs(sum(seq["class_frequency"].values()) - 1.0) < 1e-3
    assert 0 <= stats["colour_baseline"]["miou"] <= 1
    assert stats["colour_baseline"]["split"] == "fit on seeds [7], test on seed 8"
    assert "colour baseline" in capsys.readouterr().out

    assert main(["data", "preview", str(out / "seq_00008"), "--out", str(tmp_path / "png"),
                 "--every", "5"]) == 0
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.name for p in pngs] == ["seq_00008_0000.png", "seq_00008_0005.png"]
    assert cv2.imread(str(pngs[0])).shape == (48, 3 * 64, 3)


def test_baseline(tmp_path):
    path = tmp_path / "baseline.json"
    assert main(["data", "baseline", "--train-seeds", "1", "--test-seeds", "100", "--duration",
                 "0.5", "--width", "64", "--height", "48", "--quiet", "--json", str(path)]) == 0
    scores = json.loads(path.read_text())
    assert scores["train_seeds"] == [1] and scores["test_seeds"] == [100]
    assert 0 < scores["miou"] < 1 and set(scores["per_class_iou"]) >= {"flat", "vehicle"}


def test_data_without_verb_prints_help(capsys):
    assert main(["data"]) == 2
    assert "generate" in capsys.readouterr().out
