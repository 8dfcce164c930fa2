"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint ``STEM`` is ``STEM.safetensors`` holding the model's state dict under ``model.*`` and
the optimizer's per-parameter tensors under ``optim.<index>.<name>``, plus ``STEM.json`` holding
the epoch, the best validation score, the optimizer's scalar state and the training config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ness_ros.models.errors import ModelError


def save_checkpoint(stem: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, meta: dict[str, Any]) -> None:
    """Write ``stem``.safetensors and ``stem``.json atomically (temp file, then rename)."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in
               model.state_dict().items()}
    opt_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in opt_state["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"optim.{index}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[name] = float(value)
    doc = {"meta": meta, "optimizer": {"param_groups": opt_state["param_groups"],
                                       "scalars": scalars},
           "scheduler": scheduler.state_dict() if scheduler is not None else None}
    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp_weights = stem.with_suffix(".safetensors.tmp")
    tmp_json = stem.with_suffix(".json.tmp")
    save_file(tensors, str(tmp_weights))
    tmp_json.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp_weights, stem.with_suffix(".safetensors"))
    os.replace(tmp_json, stem.with_suffix(".json"))


def load_checkpoint(stem: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any) -> dict[str, Any]:
    """Restore model, optimizer and scheduler from ``stem``; returns the saved ``meta``.

    Raises:
        ModelError: a file is missing or does not fit the model and optimizer.
    """
    weights, doc_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    if not weights.is_file() or not doc_path.is_file():
        raise ModelError(f"checkpoint {stem}: {weights.name} or {doc_path.name} is missing")
    try:
        tensors = load_file(str(weights))
        doc = json.loads(doc_path.read_text())
    except Exception as exc:  # safetensors and json raise several types for corrupt files
        raise ModelError(f"checkpoint {stem}: cannot read it ({exc})") from exc
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"checkpoint {stem}: does not fit the model ({exc})") from exc
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, values in doc["optimizer"]["scalars"].items():
        for name, value in values.items():
            state.setdefault(int(index), {})[name] = torch.tensor(value)
    optimizer.load_state_dict({"state": state, "param_groups": doc["optimizer"]["param_groups"]})
    if scheduler is not None and doc.get("scheduler") is not None:
        scheduler.load_state_dict(doc["scheduler"])
    return doc["meta"]
