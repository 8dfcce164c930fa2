"""``ness train`` end to end on a tiny configuration: checkpoints, resume, export, model card."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

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


def test_preloaded_samples_and_time_budget(tmp_path):
    # The GPU path (samples encoded once, kept on the device) run on the CPU; sequences made by
    # two processes; a budget already spent after the first epoch ends the run there.
    config = TrainConfig(model="segsnn", fine_width=4, epochs=40, preload="yes",
                         data_workers=2, time_budget_min=1e-4, data_dir=str(tmp_path / "data"),
                         out_dir=str(tmp_path / "run"), **{**TINY, "train_seeds": [11, 12]})
    logs: list[str] = []
    model, card, history = train(config, progress=False, log=logs.append)
    assert len(history) == 1 and np.isfinite(history[0].train_loss)
    assert any("1 epochs instead of 40" in line for line in logs), logs
    meta = json.loads((tmp_path / "run" / "last.json").read_text())["meta"]
    assert meta["config"]["epochs"] == 1 and card.metrics["epochs"] == 1.0
    assert card.config["fine_width"] == 4
    assert len(list((tmp_path / "data" / "sequences").iterdir())) == 3


def test_warmup_cosine_schedule():
    from ness_ros.training.trainer import WarmupCosine

    schedule = WarmupCosine(4, 12)
    assert [schedule(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert schedule(8) == pytest.approx(0.5) and schedule(12) == pytest.approx(0.0)
    schedule.total_steps = 20  # fitted to a time budget after the warm-up: steps before keep
    assert schedule(3) == 1.0 and schedule(12) == pytest.approx(0.5)


def test_augment_batch_moves_frame_events_and_labels_together():
    import torch

    from ness_ros.training.dataset import Augmentation, augment_batch

    encoder = TrainConfig(**TINY).encoder()
    batch, height, width = 6, 20, 30
    columns = torch.arange(width, dtype=torch.float32).expand(batch, height, width)
    rows = torch.arange(height, dtype=torch.float32)[:, None].expand(batch, height, width)
    # Intensity 0.4 everywhere in channel 0 (normalised), the column in channel 1, the row in
    # channel 2; events carry the column, labels the row * width + column.
    frames = torch.stack([torch.full_like(columns, (0.4 - 0.45) / 0.25), columns, rows], 1)
    events = torch.stack([columns, rows], 1).expand(2, -1, -1, -1, -1).clone()
    labels = (rows * width + columns).long()
    aug = Augmentation(crop=(8, 12), flip=0.5, gain=0.5)
    generator = torch.Generator().manual_seed(3)
    f, e, lb = augment_batch(frames, events, labels, aug, encoder, generator)
    assert f.shape == (batch, 3, 8, 12) and e.shape == (2, batch, 2, 8, 12)
    assert lb.shape == (batch, 8, 12)
    assert torch.equal(e[0, :, 0], e[1, :, 0])
    assert torch.equal(lb, (e[0, :, 1] * width + e[0, :, 0]).long())  # same crop and flip
    flipped = e[0, :, 0, 0, 0] > e[0, :, 0, 0, -1]
    assert 0 < int(flipped.sum()) < batch  # some samples flipped, some not
    intensity = f[:, 0] * 0.25 + 0.45  # gain in [0.5, 1.5] on 0.4, one value per sample
    per_sample = intensity.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1], atol=1e-6)
    assert ((per_sample[:, 0] >= 0.2 - 1e-6) & (per_sample[:, 0] <= 0.6 + 1e-6)).all()
    assert per_sample[:, 0].std() > 0.01


def test_train_parallel_script_trains_each_config_within_its_budget(tmp_path):
    import yaml

    from conftest import REPO_ROOT

    configs = []
    for model in ("segsnn", "evsegsnn"):
        path = tmp_path / f"tiny_{model}.yaml"
        path.write_text(yaml.safe_dump({**TINY, "crop": list(TINY["crop"]), "model": model,
                                        "epochs": 50, "data_dir": str(tmp_path / "data")}))
        configs.append(str(path))
    out = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "train_parallel.py"), "--out", str(out),
         "--device", "cpu", "--budget-min", "0.05", "--deadline-min", "3", "--workers", "2",
         *configs], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    for model in ("segsnn", "evsegsnn"):
        folder = out / f"tiny_{model}"
        load_model(folder / f"tiny_{model}")  # exported and loadable
        log = (folder / "log.txt").read_text()
        assert "epochs instead of 50" in log, log


def test_init_weights_starts_a_finer_model_from_a_saved_one(tmp_path):
    # A 1/4-resolution SegSNN saved, then a SegSNN with the 1/2-resolution stage started from
    # it: every shared tensor is copied, the new stage keeps its own initialisation.
    import torch

    from ness_ros.models.errors import ModelError
    from ness_ros.models.weights import ModelCard, init_from_model, save_model

    torch.manual_seed(1)
    coarse = TrainConfig(**TINY).build_model()
    card = ModelCard.for_model(coarse, input_size=(64, 48), event_window_ms=50.0,
                               frame_mean=[0.45] * 3, frame_std=[0.25] * 3)
    save_model(coarse, card, tmp_path / "coarse")
    fine = TrainConfig(**{**TINY, "fine_width": 4}).build_model()
    copied, fresh, source_card = init_from_model(fine, tmp_path / "coarse")
    assert source_card.architecture == "segsnn"
    assert sorted(copied) == sorted(coarse.state_dict())  # the head reads 4 channels in both
    assert sorted(fresh) == sorted(n for n in fine.state_dict() if n.startswith("dec0."))
    source = coarse.state_dict()
    for name in copied:
        assert torch.equal(fine.state_dict()[name], source[name]), name
    # The new stage starts as a pass-through of the upsampled dec1 spikes (its first 4 input
    # channels), not of the stem's; at another width it keeps its random start.
    expected = torch.zeros(4, 8, 1, 1)
    expected[:, :4, 0, 0] = torch.eye(4)
    assert torch.equal(fine.dec0.conv.weight, expected)
    narrower = TrainConfig(**{**TINY, "fine_width": 2}).build_model()
    random_start = narrower.dec0.conv.weight.clone()
    fresh_narrow = init_from_model(narrower, tmp_path / "coarse").fresh
    assert "head.weight" in fresh_narrow and torch.equal(narrower.dec0.conv.weight, random_start)

    # An event-only model cannot start a hybrid one.
    events_only = TrainConfig(**{**TINY, "model": "evsegsnn"}).build_model()
    save_model(events_only, ModelCard.for_model(events_only, input_size=(64, 48),
                                                event_window_ms=50.0), tmp_path / "ev")
    with pytest.raises(ModelError, match="evsegsnn weights"):
        init_from_model(fine, tmp_path / "ev")

    # Through the trainer: the run says what it copied and trains from there.
    save_model(coarse, ModelCard.from_dict({
        **card.to_dict(), "training_command": "ness train --export coarse",
        "data_seeds": [5, 1011]}), tmp_path / "coarse")
    config = TrainConfig(model="segsnn", fine_width=4, epochs=1,
                         init_weights=str(tmp_path / "coarse"), data_dir=str(tmp_path / "data"),
                         out_dir=str(tmp_path / "run"), **TINY)
    logs: list[str] = []
    _, card, history = train(config, progress=False, log=logs.append)
    assert any(f"{len(copied)} tensors copied" in line and "dec0.conv.weight" in line
               for line in logs), logs
    assert len(history) == 1 and card.config["fine_width"] == 4
    # The card tells how to make the model from nothing, and every seed its weights saw.
    assert card.training_command.startswith("ness train --export coarse && ness ")
    assert card.data_seeds == [5, 1011, 11]


def test_ness_train_help_explains_every_field():
    # Every TrainConfig field is a flag with its meaning and default (FIELD_HELP).
    import dataclasses

    from ness_ros.cli.main import build_parser
    from ness_ros.training.config import FIELD_HELP

    assert set(FIELD_HELP) == {f.name for f in dataclasses.fields(TrainConfig)}
    parser = build_parser()
    train_parser = next(
        action.choices["train"] for action in parser._actions
        if isinstance(getattr(action, "choices", None), dict) and "train" in action.choices)
    text = " ".join(train_parser.format_help().split())
    assert "--init-weights INIT_WEIGHTS a saved model (stem or file)" in text
    assert "(default: segsnn)" in text and "(default: 128 160)" in text
    assert "(default: none)" in text  # empty strings say so
