"""``ness bench models`` on a small frame, and its region windows."""

from __future__ import annotations

import json

import pytest
import torch

from ness_ros.cli.main import main
from ness_ros.segmentation.crops import region_windows


@pytest.mark.parametrize(("width", "height", "grid", "margin"),
                         [(346, 260, (4, 3), 32), (346, 260, (4, 3), 0), (64, 48, (2, 2), 96)])
def test_region_windows_cover_regions_with_margin_on_the_stride_grid(width, height, grid, margin):
    stride = 16
    (crop_w, crop_h), windows = region_windows(width, height, *grid, margin, stride)
    assert len(windows) == grid[0] * grid[1]
    assert crop_w % stride == 0 and crop_h % stride == 0
    covered = torch.zeros(height, width, dtype=torch.int32)
    padded_w, padded_h = -(-width // stride) * stride, -(-height // stride) * stride
    for (x0, y0, x1, y1), (cx, cy) in windows:
        covered[y0:y1, x0:x1] += 1
        assert cx % stride == 0 and cy % stride == 0
        assert 0 <= cx and cx + crop_w <= padded_w and 0 <= cy and cy + crop_h <= padded_h
        # the margin is kept wherever the padded frame has room for it
        assert x0 - cx >= min(margin, x0) and cx + crop_w - x1 >= min(margin, padded_w - x1)
        assert y0 - cy >= min(margin, y0) and cy + crop_h - y1 >= min(margin, padded_h - y1)
    assert torch.all(covered == 1)  # the regions tile the frame


def test_bench_models_prints_and_writes_json(tmp_path, capsys):
    threads = torch.get_num_threads()
    path = tmp_path / "models.json"
    try:
        assert main(["bench", "models", "--width", "64", "--height", "48", "--steps", "2",
                     "--threads", "1", "--repeats", "1", "--grid", "2x2", "--random-weights",
                     "--json", str(path)]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "EvSegSNN full frame" in out and "4 crops, one batch" in out
    figures = json.loads(path.read_text())
    assert [m["name"] for m in figures["models"]] == ["evsegsnn", "segsnn"]
    for model in figures["models"]:
        assert model["params"] > 0 and model["macs"] > 0 and model["frames/s"] > 0
        assert model["energy_total_j"] == pytest.approx(model["energy_mac_j"]
                                                        + model["energy_ac_j"])
        assert model["T"] == 2 and model["weights"] == "untrained"
    full, crops = figures["segsnn_crops"]["rows"]
    assert crops["batch"] == 4 and crops["time ratio"] > 0 and 0 <= crops["agreement"] <= 1
    assert crops["MMACs"] > full["MMACs"]  # the crops overlap: more work than one frame
