"""``ness train`` under torchrun: two processes on the CPU (gloo) with DistributedDataParallel,
each on its shard; one checkpoint and one export, written by rank 0; resumed by one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from ness_ros.models.weights import load_model
from ness_ros.training.distributed import state_checksum
from ness_ros.training.trainer import TrainConfig

#: A run of seconds: 0.6 s of 64 x 48 driving (11 samples with a full event window), SegSNN
#: (batch norms: buffers DistributedDataParallel broadcasts) of base width 4.
TINY = dict(model="segsnn", train_seeds=[11], val_seeds=[1011], duration_s=0.6, width=64,
            height=48, crop=(32, 48), batch_size=2, base_width=4, num_steps=2, val_frames=6,
            threads=1)
SAMPLES = 11


def _flags(values: dict) -> list[str]:
    flags: list[str] = []
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        flags += [flag, *map(str, value)] if isinstance(value, (list, tuple)) else [flag,
                                                                                   str(value)]
    return flags


def _run(cmd: list[str], tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def test_two_processes_train_in_sync_and_one_process_resumes(tmp_path):
    run_dir, stem = tmp_path / "run", tmp_path / "model"
    common = [*_flags(TINY), "--data-dir", str(tmp_path / "data"), "--out-dir", str(run_dir),
              "--no-progress"]
    two = _run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "2", "-m", "ness_ros.cli.main", "train", *common,
                "--epochs", "2", "--export", str(stem), "--json", str(tmp_path / "two.json")],
               tmp_path)
    # Rank 0 alone prints the table and exports.
    assert two.stdout.count("exported ") == 1 and two.stdout.count("ness train segsnn") == 1
    assert "DistributedDataParallel: 2 processes (gloo), 2 steps of 2 samples" in two.stdout
    facts = json.loads((tmp_path / "two.json").read_text())
    ddp = facts["distributed"]
    assert ddp["world_size"] == 2 and ddp["backend"] == "gloo" and ddp["in_sync"] is True
    sums = ddp["parameter_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1]
    # The checksums are those of the weights rank 0 saved after the last epoch.
    names = {name for name, _ in TrainConfig(**TINY).build_model().named_parameters()}
    saved = load_file(str(run_dir / "last.safetensors"))
    assert state_checksum({k[len("model."):]: v for k, v in saved.items()
                           if k[len("model."):] in names}) == sums[0]
    losses = [r["train_loss"] for r in facts["history"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    model, card = load_model(stem)
    assert card.architecture == "segsnn" and card.config["base_width"] == 4
    assert card.training_command.startswith("torchrun --nproc-per-node 2 -m ness_ros.cli.main "
                                            "train --model segsnn")
    checkpoint = json.loads((run_dir / "last.json").read_text())
    two_proc_steps = SAMPLES // 2 // TINY["batch_size"]
    assert checkpoint["scheduler"]["last_epoch"] == 2 * two_proc_steps

    # One process, no torchrun, continues from the two-process checkpoint: the written
    # schedule (two epochs; resuming keeps it) is restated in its own steps per epoch (the whole
    # set, not a half).
    _run([sys.executable, "-m", "ness_ros.cli.main", "train", *common, "--epochs", "3",
          "--resume", "--json", str(tmp_path / "one.json")], tmp_path)
    one = json.loads((tmp_path / "one.json").read_text())
    assert [r["epoch"] for r in one["history"]] == [0, 1, 2] and "distributed" not in one
    assert one["history"][:2] == facts["history"]
    checkpoint = json.loads((run_dir / "last.json").read_text())
    one_proc_steps = SAMPLES // TINY["batch_size"]
    assert checkpoint["meta"]["epoch"] == 2
    assert checkpoint["scheduler"]["last_epoch"] == 3 * one_proc_steps
    assert checkpoint["scheduler"]["lr_lambdas"][0] == {"warmup_steps": one_proc_steps,
                                                        "total_steps": 2 * one_proc_steps}


def test_without_torchrun_nothing_is_distributed(monkeypatch):
    from ness_ros.training import distributed

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    alone = distributed.setup("cpu")
    assert not alone.enabled and alone.is_main and distributed.is_main_process()
    assert alone.broadcast(3) == 3 and alone.all_gather("x") == ["x"]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not distributed.is_main_process()
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(ValueError, match="wants GPU 1, but 0 are visible"):
        distributed.setup("cuda")
