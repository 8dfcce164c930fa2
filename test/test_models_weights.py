"""Model files: safetensors weights plus a JSON card, round trips and every way they go wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ness_ros.labels import CLASS_NAMES
from ness_ros.models import (
    EvSegSNN,
    ModelCard,
    ModelError,
    SegSNN,
    default_weights_path,
    load_card,
    load_model,
    model_paths,
    save_model,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _segsnn_card(model: SegSNN, **overrides) -> ModelCard:
    fields = {"input_size": (346, 260), "event_window_ms": 50.0, "event_clip": 4.0,
              "event_scale": 0.25, "frame_mean": [0.4, 0.4, 0.4], "frame_std": [0.25, 0.25, 0.25],
              "training_command": "ness train segsnn --minutes 20", "data_seeds": [1, 2],
              "metrics": {"miou": 0.5}}
    fields.update(overrides)
    return ModelCard.for_model(model, **fields)


@pytest.fixture
def saved_segsnn(tmp_path: Path) -> tuple[SegSNN, Path]:
    torch.manual_seed(0)
    model = SegSNN(base_width=4, num_steps=2).eval()
    with torch.no_grad():  # non-default batch-norm statistics must survive the round trip too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    save_model(model, _segsnn_card(model), tmp_path / "segsnn")
    return model, tmp_path / "segsnn"


def test_segsnn_round_trip_gives_identical_outputs(saved_segsnn):
    model, stem = saved_segsnn
    loaded, card = load_model(stem.with_suffix(".safetensors"))
    assert isinstance(loaded, SegSNN) and not loaded.training
    assert card.architecture == "segsnn" and card.config == model.config()
    assert card.input_size == (346, 260) and card.num_steps == 2
    assert card.class_names == list(CLASS_NAMES) and len(card.weights_sha256) == 64
    frame, events = torch.randn(1, 3, 40, 52), (torch.rand(2, 1, 2, 40, 52) < 0.2).float()
    with torch.inference_mode():
        assert torch.equal(loaded(frame, events), model(frame, events))


def test_evsegsnn_round_trip_keeps_learned_decays(tmp_path):
    torch.manual_seed(0)
    model = EvSegSNN(base_width=4, num_steps=3).eval()
    with torch.no_grad():
        model.enc0.lif.beta.uniform_(0.2, 0.9)
    card = ModelCard.for_model(model, input_size=(346, 200), event_window_ms=50.0)
    save_model(model, card, tmp_path / "ev.json")  # a suffix is dropped
    loaded, loaded_card = load_model(tmp_path / "ev")
    assert torch.equal(loaded.enc0.lif.beta, model.enc0.lif.beta)
    events = (torch.rand(3, 2, 2, 33, 47) < 0.2).float()
    with torch.inference_mode():
        assert torch.equal(loaded(events), model(events))
    assert loaded_card.frame_mean is None


def test_files_are_written_beside_each_other(saved_segsnn):
    _, stem = saved_segsnn
    weights, card = model_paths(stem)
    assert weights.name == "segsnn.safetensors" and card.name == "segsnn.json"
    assert weights.is_file() and card.is_file()
    assert json.loads(card.read_text())["architecture"] == "segsnn"
    assert not list(stem.parent.glob(".segsnn*"))  # no temporary files left


def test_missing_files_raise(tmp_path, saved_segsnn):
    with pytest.raises(ModelError, match=r"nothing\.json: model card not found"):
        load_model(tmp_path / "nothing")
    _, stem = saved_segsnn
    stem.with_suffix(".safetensors").unlink()
    with pytest.raises(ModelError, match=r"segsnn\.safetensors: weights file not found"):
        load_model(stem)


def test_corrupt_weights_raise(saved_segsnn):
    _, stem = saved_segsnn
    weights = stem.with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelError, match=r"segsnn\.safetensors: SHA-256 does not match"):
        load_model(stem)
    card = json.loads(stem.with_suffix(".json").read_text())
    card["weights_sha256"] = ""  # without the checksum, safetensors itself finds the damage
    stem.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"segsnn\.safetensors: corrupt safetensors file"):
        load_model(stem)
    weights.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ModelError, match="corrupt safetensors file"):
        load_model(stem)


def _rewrite_weights(stem: Path, change) -> None:
    """Change the tensors of a saved model and update the card's checksum to match."""
    weights = stem.with_suffix(".safetensors")
    tensors = load_file(weights)
    change(tensors)
    save_file(tensors, weights, metadata={"format": "pt", "architecture": "segsnn"})
    card_path = stem.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["weights_sha256"] = ""
    card_path.write_text(json.dumps(card))


@pytest.mark.parametrize(("change", "match"), [
    (lambda t: t.pop("head.weight"), r"missing tensors \['head\.weight'\]"),
    (lambda t: t.update(extra=torch.zeros(2)), r"unexpected tensors \['extra'\]"),
    (lambda t: t.update({"head.bias": torch.zeros(7)}),
     r"tensor 'head\.bias' has shape \(7,\), the architecture expects \(6,\)"),
    (lambda t: t.update({"head.bias": torch.zeros(6, dtype=torch.float64)}),
     r"tensor 'head\.bias' has dtype torch\.float64"),
    (lambda t: t["head.bias"].__setitem__(0, float("nan")),
     r"tensor 'head\.bias' has non-finite values"),
])
def test_mismatched_tensors_raise(saved_segsnn, change, match):
    _, stem = saved_segsnn
    _rewrite_weights(stem, change)
    with pytest.raises(ModelError, match=r"segsnn\.safetensors: " + match):
        load_model(stem)


def test_weights_of_another_architecture_raise(tmp_path, saved_segsnn):
    _, stem = saved_segsnn
    ev = EvSegSNN(base_width=4, num_steps=2)
    save_model(ev, ModelCard.for_model(ev, input_size=(64, 48), event_window_ms=50.0),
               tmp_path / "ev")
    card = json.loads((tmp_path / "ev.json").read_text())
    stem.with_suffix(".json").write_text(json.dumps({**card, "weights_sha256": ""}))
    with pytest.raises(ModelError, match="holds segsnn weights, the card says evsegsnn"):
        load_model(stem)


@pytest.mark.parametrize(("edit", "match"), [
    ({"architecture": "unet"}, r"architecture 'unet' is not one of \['evsegsnn', 'segsnn'\]"),
    ({"num_steps": 5}, "num_steps 5 does not match config num_steps 2"),
    ({"input_size": [346]}, r"input_size must be \[width, height\]"),
    ({"event_window_ms": 0}, "event_window_ms must be > 0"),
    ({"frame_std": [0.2, 0.0, 0.2]}, "frame_std must be > 0"),
    ({"frame_mean": None}, "frame_mean must be 3 numbers"),
    ({"class_names": ["road"]}, "1 class_names but config num_classes is 6"),
    ({"palette": [[0, 0, 300]] * 6}, r"palette must be one \[r, g, b\]"),
    ({"metrics": {"miou": "high"}}, "metrics must map names to finite numbers"),
    ({"colour": "red"}, r"unknown model card fields \['colour'\]"),
    ({"format_version": 9}, "format_version 9 is not supported"),
])
def test_invalid_cards_raise_naming_the_file(saved_segsnn, edit, match):
    _, stem = saved_segsnn
    card_path = stem.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card.update(edit)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"segsnn\.json: " + match):
        load_model(stem)


def test_card_missing_field_and_bad_json_raise(saved_segsnn):
    _, stem = saved_segsnn
    card_path = stem.with_suffix(".json")
    card = json.loads(card_path.read_text())
    del card["event_window_ms"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"segsnn\.json: .*event_window_ms"):
        load_card(stem)
    card_path.write_text("{not json")
    with pytest.raises(ModelError, match=r"segsnn\.json: not valid JSON"):
        load_card(stem)


def test_card_config_that_cannot_build_raises(saved_segsnn):
    _, stem = saved_segsnn
    card_path = stem.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["config"]["depth"] = 50
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"segsnn\.safetensors: cannot build segsnn"):
        load_model(stem)


def test_save_refuses_a_card_of_another_model(tmp_path):
    model = SegSNN(base_width=4, num_steps=2)
    other = SegSNN(base_width=8, num_steps=2)
    with pytest.raises(ModelError, match="the card describes segsnn"):
        save_model(model, _segsnn_card(other), tmp_path / "m")
    with torch.no_grad():
        model.head.bias[0] = float("inf")
    with pytest.raises(ModelError, match="non-finite values; not saved"):
        save_model(model, _segsnn_card(model), tmp_path / "m")
    assert not list(tmp_path.iterdir())


def test_card_json_round_trip():
    card = _segsnn_card(SegSNN(num_steps=3))
    assert ModelCard.from_json(card.to_json()) == card
    with pytest.raises(ModelError, match="a model card must be a JSON object"):
        ModelCard.from_json("[1, 2]")


def test_default_weights_path_is_package_data():
    path = default_weights_path("segsnn")
    assert path.name == "segsnn.safetensors"
    assert path.parent == Path(__file__).resolve().parent.parent / "ness_ros" / "weights"
