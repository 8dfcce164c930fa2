"""``ness train``: train EvSegSNN or SegSNN on synthetic sequences, DSEC-Semantic or DDD17 (YAML
config or flags)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from ness_ros.cli.errors import USAGE, CliError
from ness_ros.report_tables import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    from ness_ros.training.config import FIELD_HELP, TrainConfig  # no torch: a quick parser

    parser = subparsers.add_parser(
        "train", help="train a segmentation model on synthetic sequences, DSEC-Semantic or "
                      "DDD17",
        description="Train a model; a YAML --config sets any field, flags override it.")
    parser.add_argument("--config", type=Path, help="YAML file with TrainConfig fields")
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        text = f"{FIELD_HELP[field.name]} (default: {shown if shown != '' else 'none'})"
        if field.name in ("train_seeds", "val_seeds"):
            parser.add_argument(flag, type=int, nargs="+", default=None, help=text)
        elif field.name == "crop":
            parser.add_argument(flag, type=int, nargs=2, default=None, metavar=("H", "W"),
                                help=text)
        else:
            parser.add_argument(flag, type=type(default), default=None, help=text)
    parser.add_argument("--resume", action="store_true", help="continue from out-dir/last")
    parser.add_argument("--export", type=Path, default=None,
                        help="write the best model as EXPORT.safetensors + EXPORT.json")
    parser.add_argument("--no-progress", action="store_true")
    add_json_option(parser)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    import yaml

    from ness_ros.training.trainer import TrainConfig

    values: dict[str, Any] = {}
    if args.config:
        loaded = yaml.safe_load(args.config.read_text()) or {}
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = set(loaded) - known
        if unknown:
            raise CliError(f"{args.config}: unknown fields {sorted(unknown)}", USAGE)
        values.update(loaded)
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name)
        if value is not None:
            values[field.name] = value
    if "crop" in values:
        values["crop"] = tuple(values["crop"])
    return TrainConfig(**values)


def run(args: argparse.Namespace) -> int:
    """Train; under torchrun every process trains, rank 0 alone prints, exports and writes
    the JSON (see ness_ros.training.distributed)."""
    from ness_ros.training.distributed import is_main_process
    from ness_ros.training.trainer import export, train

    config = config_from_args(args)
    facts: dict[str, Any] = {}
    # A setting it cannot use (TrainingError), a data or model file it cannot read: ness's
    # main prints the one line that says why.
    model, card, history = train(config, resume=args.resume, progress=not args.no_progress,
                                 facts=facts)
    if not is_main_process():
        return 0
    rows = [dataclasses.asdict(r) for r in history]
    print(format_table(rows, title=f"ness train {config.model}"))
    if args.export:
        export(model, card, args.export)
        print(f"exported {args.export}.safetensors and {args.export}.json")
    write_json(args.json, {"config": dataclasses.asdict(config), "history": rows,
                           "card": card.to_dict(), **facts})
    return 0
