"""``ness train`` end to end on a tiny configuration: checkpoints, resume, export, model card."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from ness_ros.models.weights import load_model
from ness_ros.training.checkpoint import load_checkpoint
from ness_ros.training.trainer import TrainConfig, train

TINY = dict(train_seeds=[11], val_seeds=[1011], duration_s=0.6, width=64, height=48,
            crop=(32, 48), batch_size=4, base_width=4, num_steps=2, val_frames=6)


def test_train_checkpoints_and_resume(tmp_path):
    config = TrainConfig(model="segsnn", epochs=2, data_dir=str(tmp_path / "data"),
                         out_dir=str(tmp_path / "run"), **TINY)
    model, card, history = train(config, progress=False, log=lambda _: None, stop_after=1)
    assert len(history) == 1 and np.isfinite(history[0].train_loss)
    assert (tmp_path / "run" / "last.safetensors").is_file()
    # Resume: the second epoch starts from the saved state, not from scratch.
    _, card2, history2 = train(config, resume=True, progress=False, log=lambda _: None)
    assert [r.epoch for r in history2] == [0, 1]
    meta = json.loads((tmp_path / "run" / "last.json").read_text())["meta"]
    assert meta["epoch"] == 1
    assert card2.data_seeds == [11, 1011] and card2.input_size == (64, 48)


def test_checkpoint_round_trip_restores_optimizer(tmp_path):
    import torch

    from ness_ros.training.checkpoint import save_checkpoint

    config = TrainConfig(**TINY)
    model = config.build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    frames, events = torch.rand(2, 3, 48, 64), torch.rand(2, 2, 2, 48, 64)
    model(frames, events).mean().backward()
    opt.step()
    save_checkpoint(tmp_path / "ck", model, opt, None, {"epoch": 3})
    model2 = config.build_model()
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    assert load_checkpoint(tmp_path / "ck", model2, opt2, None)["epoch"] == 3
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)


def test_ness_train_cli_exports_a_loadable_model(tmp_path):
    stem = tmp_path / "tiny_evsegsnn"
    cmd = [sys.executable, "-m", "ness_ros.cli.main", "train", "--model", "evsegsnn",
           "--epochs", "1", "--data-dir", str(tmp_path / "data"), "--out-dir",
           str(tmp_path / "run"), "--export", str(stem), "--no-progress", "--json",
           str(tmp_path / "train.json")]
    for key, value in TINY.items():
        flag = "--" + key.replace("_", "-")
        cmd += [flag, *map(str, value)] if isinstance(value, (list, tuple)) else [flag,
                                                                                 str(value)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    model, card = load_model(stem)
    assert card.architecture == "evsegsnn" and card.frame_mean is None
    assert card.training_command.startswith("ness train --model evsegsnn")
    figures = json.loads((tmp_path / "train.json").read_text())
    assert len(figures["history"]) == 1
