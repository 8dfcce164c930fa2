"""Model files: weights in safetensors plus a JSON model card beside them.

A model ``NAME`` is two files, ``NAME.safetensors`` (the state dict, no pickle anywhere) and
``NAME.json`` (the :class:`ModelCard`: architecture and constructor config, classes, input size,
time steps, event and frame normalisation, how it was trained and what it achieved). Loading
rebuilds the architecture from the card and checks every tensor against it; anything missing,
corrupt or mismatched raises :class:`~ness_ros.models.errors.ModelError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import safetensors
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ness_ros.labels import CLASS_NAMES, PALETTE
from ness_ros.models.errors import ModelError
from ness_ros.models.evsegsnn import EvSegSNN
from ness_ros.models.segsnn import SegSNN

#: Architectures a card may name, by the name used in cards.
ARCHITECTURES: Mapping[str, type[nn.Module]] = {"evsegsnn": EvSegSNN, "segsnn": SegSNN}

#: Version of the card layout written by this code.
CARD_FORMAT_VERSION = 1

_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def default_weights_path(name: str) -> Path:
    """``ness_ros/weights/<name>.safetensors``, the packaged weights of model ``name`` (the
    card is beside it as ``<name>.json``). The file may not exist yet."""
    return _WEIGHTS_DIR / f"{name}.safetensors"


@dataclass
class ModelCard:
    """What a model is, what it expects as input, and how it was made.

    Attributes:
        architecture: a key of :data:`ARCHITECTURES`.
        config: the constructor keyword arguments (``model.config()``).
        input_size: (width, height) in pixels the model was trained on.
        num_steps: time steps T of the input (equal to ``config["num_steps"]``).
        event_window_ms: length of the event window binned into the T steps, milliseconds.
        event_representation: name of the event tensor recipe, e.g. ``"binned_counts"``.
        event_clip: per-bin event counts are clipped at this value (None: not clipped).
        event_scale: clipped counts are multiplied by this before entering the model.
        frame_mean, frame_std: per-channel frame normalisation ``(x / 255 - mean) / std`` for
            models with a frame input; None for event-only models.
        class_names: class names in id order.
        palette: RGB colour per class id.
        training_command: the command line that produced the weights.
        data_seeds: seeds of the training and evaluation data.
        metrics: achieved figures, e.g. ``{"miou": 0.52, "pixel_accuracy": 0.88}``.
        weights_sha256: SHA-256 of the weights file, written by :func:`save_model`.
        format_version: layout version of the card.
    """

    architecture: str
    config: dict[str, Any]
    input_size: tuple[int, int]
    num_steps: int
    event_window_ms: float
    event_representation: str = "binned_counts"
    event_clip: float | None = None
    event_scale: float = 1.0
    frame_mean: list[float] | None = None
    frame_std: list[float] | None = None
    class_names: list[str] = field(default_factory=lambda: list(CLASS_NAMES))
    palette: list[list[int]] = field(default_factory=lambda: PALETTE.tolist())
    training_command: str = ""
    data_seeds: list[int] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    weights_sha256: str = ""
    format_version: int = CARD_FORMAT_VERSION

    def __post_init__(self) -> None:
        self.input_size = tuple(self.input_size)  # type: ignore[assignment]
        _validate_card(self)

    @classmethod
    def for_model(cls, model: nn.Module, **fields_: Any) -> ModelCard:
        """A card with ``architecture``, ``config`` and ``num_steps`` taken from ``model``."""
        config = model.config()  # type: ignore[operator]
        return cls(architecture=_architecture_of(model), config=config,
                   num_steps=config["num_steps"], **fields_)

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready plain data."""
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        return data

    def to_json(self) -> str:
        """The card as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "model card") -> ModelCard:
        """Validate plain data (as read from JSON) and build the card.

        Raises:
            ModelError: not an object, unknown or missing fields, or invalid values; the message
                starts with ``source``.
        """
        if not isinstance(data, dict):
            raise ModelError(f"{source}: a model card must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"{source}: unknown model card fields {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ModelError(f"{source}: {exc}") from exc
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}") from exc

    @classmethod
    def from_json(cls, text: str, *, source: str = "model card") -> ModelCard:
        """Parse and validate JSON text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, source=source)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _validate_card(card: ModelCard) -> None:
    if card.format_version != CARD_FORMAT_VERSION:
        raise ModelError(f"format_version {card.format_version!r} is not supported "
                         f"(expected {CARD_FORMAT_VERSION})")
    if card.architecture not in ARCHITECTURES:
        raise ModelError(f"architecture {card.architecture!r} is not one of "
                         f"{sorted(ARCHITECTURES)}")
    if not isinstance(card.config, dict):
        raise ModelError(f"config must be an object, got {card.config!r}")
    if len(card.input_size) != 2 or not all(_is_int(v) and v > 0 for v in card.input_size):
        raise ModelError(f"input_size must be [width, height] in pixels, got {card.input_size!r}")
    if not _is_int(card.num_steps) or card.config.get("num_steps") != card.num_steps:
        raise ModelError(f"num_steps {card.num_steps!r} does not match config num_steps "
                         f"{card.config.get('num_steps')!r}")
    if not _is_number(card.event_window_ms) or card.event_window_ms <= 0:
        raise ModelError(f"event_window_ms must be > 0, got {card.event_window_ms!r}")
    if not isinstance(card.event_representation, str) or not card.event_representation:
        raise ModelError(f"event_representation must be a name, got {card.event_representation!r}")
    if card.event_clip is not None and not (_is_number(card.event_clip) and card.event_clip > 0):
        raise ModelError(f"event_clip must be > 0 or null, got {card.event_clip!r}")
    if not _is_number(card.event_scale) or card.event_scale <= 0:
        raise ModelError(f"event_scale must be > 0, got {card.event_scale!r}")
    _validate_frame_normalisation(card)
    _validate_classes(card)
    if not isinstance(card.training_command, str):
        raise ModelError(f"training_command must be a string, got {card.training_command!r}")
    if not isinstance(card.data_seeds, list) or not all(_is_int(s) for s in card.data_seeds):
        raise ModelError(f"data_seeds must be a list of integers, got {card.data_seeds!r}")
    if not isinstance(card.metrics, dict) or not all(
            isinstance(k, str) and _is_number(v) for k, v in card.metrics.items()):
        raise ModelError(f"metrics must map names to finite numbers, got {card.metrics!r}")
    if not isinstance(card.weights_sha256, str) or (
            card.weights_sha256 and len(card.weights_sha256) != 64):
        raise ModelError(f"weights_sha256 must be 64 hex digits or empty, "
                         f"got {card.weights_sha256!r}")


def _validate_frame_normalisation(card: ModelCard) -> None:
    channels = card.config.get("frame_channels")
    if channels is None:
        if card.frame_mean is not None or card.frame_std is not None:
            raise ModelError(f"{card.architecture} has no frame input, but frame_mean/frame_std "
                             "are given")
        return
    for name, values in (("frame_mean", card.frame_mean), ("frame_std", card.frame_std)):
        if not isinstance(values, list) or len(values) != channels \
                or not all(_is_number(v) for v in values):
            raise ModelError(f"{name} must be {channels} numbers, got {values!r}")
    if not all(v > 0 for v in card.frame_std):  # type: ignore[union-attr]
        raise ModelError(f"frame_std must be > 0, got {card.frame_std!r}")


def _validate_classes(card: ModelCard) -> None:
    names = card.class_names
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and n for n in names):
        raise ModelError(f"class_names must be a non-empty list of names, got {names!r}")
    if card.config.get("num_classes") != len(names):
        raise ModelError(f"{len(names)} class_names but config num_classes is "
                         f"{card.config.get('num_classes')!r}")
    palette = card.palette
    if not isinstance(palette, list) or len(palette) != len(names) or not all(
            isinstance(c, list) and len(c) == 3 and all(_is_int(v) and 0 <= v <= 255 for v in c)
            for c in palette):
        raise ModelError(f"palette must be one [r, g, b] (0-255) per class, got {palette!r}")


def _architecture_of(model: nn.Module) -> str:
    for name, cls in ARCHITECTURES.items():
        if type(model) is cls:
            return name
    raise ModelError(f"{type(model).__name__} is not one of the architectures "
                     f"{sorted(ARCHITECTURES)}")


def model_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(weights, card)`` paths for a stem, or for either file of the pair."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, write: Any) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_model(model: nn.Module, card: ModelCard, path_stem: str | os.PathLike[str]
               ) -> ModelCard:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` (each replaced atomically).

    Args:
        model: an :data:`ARCHITECTURES` model.
        card: its card; ``architecture`` and ``config`` must describe ``model``.
        path_stem: path without suffix (a ``.safetensors`` or ``.json`` suffix is dropped).

    Returns:
        The card as written, with ``weights_sha256`` filled in.

    Raises:
        ModelError: the card does not describe the model, or a weight is not finite.
    """
    weights_path, card_path = model_paths(path_stem)
    architecture = _architecture_of(model)
    if card.architecture != architecture or card.config != model.config():  # type: ignore[operator]
        raise ModelError(f"{card_path}: the card describes {card.architecture} {card.config}, "
                         f"the model is {architecture} {model.config()}")  # type: ignore[operator]
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{weights_path}: tensor {name!r} has non-finite values; not saved")
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": "pt", "architecture": architecture}
    _write_atomically(weights_path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    written = ModelCard.from_dict({**card.to_dict(), "weights_sha256": _sha256(weights_path)})
    _write_atomically(card_path, lambda tmp: Path(tmp).write_text(written.to_json()))
    return written


def load_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read and validate the card of a model (stem or either file of the pair)."""
    _, card_path = model_paths(path)
    try:
        text = card_path.read_text()
    except FileNotFoundError:
        raise ModelError(f"{card_path}: model card not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{card_path}: cannot read model card ({exc})") from exc
    return ModelCard.from_json(text, source=str(card_path))


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
               ) -> tuple[nn.Module, ModelCard]:
    """Rebuild a model from its card and load its weights, checking every tensor.

    Args:
        path: the stem, or either file of the pair.
        device: where to put the model.

    Returns:
        ``(model, card)``, the model in eval mode.

    Raises:
        ModelError: a file is missing or unreadable, the card is invalid, the weights file is
            corrupt or does not match the card's SHA-256, or a tensor is missing, unexpected,
            of the wrong shape or dtype, or not finite.
    """
    weights_path, _ = model_paths(path)
    card = load_card(path)
    if not weights_path.is_file():
        raise ModelError(f"{weights_path}: weights file not found")
    if card.weights_sha256 and _sha256(weights_path) != card.weights_sha256:
        raise ModelError(f"{weights_path}: SHA-256 does not match the model card "
                         "(corrupt or replaced weights)")
    try:
        model = ARCHITECTURES[card.architecture](**card.config)
    except (TypeError, ModelError) as exc:
        raise ModelError(f"{weights_path}: cannot build {card.architecture} from the card's "
                         f"config ({exc})") from exc
    try:
        tensors = load_file(weights_path)
        with safetensors.safe_open(weights_path, framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{weights_path}: corrupt safetensors file ({exc})") from exc
    if metadata.get("architecture", card.architecture) != card.architecture:
        raise ModelError(f"{weights_path}: holds {metadata['architecture']} weights, the card "
                         f"says {card.architecture}")
    _check_tensors(weights_path, model.state_dict(), tensors)
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval(), card


class Initialisation(NamedTuple):
    """What :func:`init_from_model` did: tensor names copied and left fresh, the source's card."""

    copied: list[str]
    fresh: list[str]
    card: ModelCard


def init_from_model(model: nn.Module, path: str | os.PathLike[str]) -> Initialisation:
    """Start ``model`` from the weights of a saved model of the same architecture (fine-tuning):
    every tensor with the same name and shape is copied, the others keep their initialisation,
    unless the model's ``start_fresh_layers(fresh)`` sets them from the copied ones.

    The source is read and checked as :func:`load_model` does (card, SHA-256, safetensors).

    Returns:
        The names of the copied tensors and of those left as they were, and the source's card.

    Raises:
        ModelError: the source cannot be loaded, is another architecture, or shares no tensor
            with ``model``.
    """
    source, card = load_model(path)
    architecture = _architecture_of(model)
    if card.architecture != architecture:
        raise ModelError(f"{path}: holds {card.architecture} weights, cannot start a "
                         f"{architecture} from them")
    found = source.state_dict()
    own = model.state_dict()
    copied = [name for name, tensor in own.items()
              if name in found and found[name].shape == tensor.shape]
    if not copied:
        raise ModelError(f"{path}: no tensor matches the model by name and shape")
    model.load_state_dict({name: found[name] for name in copied}, strict=False)
    fresh = [name for name in own if name not in copied]
    start_fresh_layers = getattr(model, "start_fresh_layers", None)
    if fresh and start_fresh_layers is not None:  # an architecture may seed new layers
        start_fresh_layers(fresh)
    return Initialisation(copied, fresh, card)


def _check_tensors(path: Path, expected: Mapping[str, torch.Tensor],
                   found: Mapping[str, torch.Tensor]) -> None:
    missing = sorted(set(expected) - set(found))
    if missing:
        raise ModelError(f"{path}: missing tensors {missing}")
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise ModelError(f"{path}: unexpected tensors {unexpected}")
    for name, reference in expected.items():
        tensor = found[name]
        if tensor.shape != reference.shape:
            raise ModelError(f"{path}: tensor {name!r} has shape {tuple(tensor.shape)}, the "
                             f"architecture expects {tuple(reference.shape)}")
        if tensor.dtype != reference.dtype:
            raise ModelError(f"{path}: tensor {name!r} has dtype {tensor.dtype}, the "
                             f"architecture expects {reference.dtype}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{path}: tensor {name!r} has non-finite values")
