"""``ness eval``: offline evaluation on held-out synthetic sequences, or on a real data set's
split (``--dataset``: ``model`` on DSEC-Semantic or DDD17, ``sweep`` on DSEC-Semantic's sequences
with their frames).

``ness eval model``  a model over sequences: MIoU, pixel accuracy, per-class IoU, frames/s,
                     work and energy per frame, a confusion-matrix PNG; and the MIoU ceiling of
                     a head at the model's output resolution.
``ness eval sweep``  the hybrid method's change-threshold sweep in the form of the paper's
                     table: full-frame baseline, every theta of the published rule (static
                     reuse) and every residual threshold of warped reuse on the same frames, one
                     after the other, in one process; Markdown, JSON and a PNG plot with the
                     paper's points. Each row also gives the MIoU its decisions reach with
                     perfect labels (on DSEC, whose labels leave pixels unlabelled, a range).
``ness eval ceiling`` what reusing labels costs on the drives themselves, with no model: the
                     MIoU of a clairvoyant gate that recomputes the regions with the most wrong
                     labels, for several grids and budgets of regions per frame; a PNG plot.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Any

from ness_ros.cli.errors import USAGE, CliError
from ness_ros.cli_options import add_upsampling_option, upsampling
from ness_ros.report_tables import add_json_option, format_table, write_json
from ness_ros.segmentation.gating_config import FULL_PASS, PUBLISHED_RULE, GatingConfig

#: The hybrid node's gating (the defaults of the warped rows and of the keyframe policy).
NODE = GatingConfig()

#: Held-out seeds: never used for training (training uses 1-99, validation 1001-1099).
HELD_OUT_SEEDS = [5001, 5002]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", help="model file (default: packaged weights)")
    parser.add_argument("--seeds", type=int, nargs="+", default=HELD_OUT_SEEDS,
                        help=f"held-out sequence seeds (default {HELD_OUT_SEEDS})")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per sequence")
    parser.add_argument("--stops", type=int, default=None,
                        help="synthetic drives: full stops of the ego vehicle per sequence "
                             "(default: one per started 8 s beyond the first 4 s, the ego "
                             "moving about 90%% of the time)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and OpenCV threads (0: their defaults; default 1, as the "
                             "node runs)")
    parser.add_argument("--out", type=Path, default=Path("runs/eval"), help="output folder")
    parser.add_argument("--no-progress", action="store_true")
    add_upsampling_option(parser)
    add_json_option(parser)


def _dataset_options(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--dataset", choices=("synthetic", "dsec", "ddd17"), default="synthetic",
                        help=help_text)
    parser.add_argument("--data-root", type=Path, default=None,
                        help="the real data set's folder, holding train/ and test/")
    parser.add_argument("--split", default="test", help="split folder of --data-root")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="offline evaluation and the threshold sweep")
    sub = parser.add_subparsers(title="evaluations", dest="evaluation", metavar="KIND")
    model = sub.add_parser("model", help="evaluate a model on held-out sequences")
    model.add_argument("--arch", choices=("segsnn", "evsegsnn"), default="segsnn",
                       help="which packaged model when --model is not given")
    model.add_argument("--size", type=int, nargs=2, default=None, metavar=("WIDTH", "HEIGHT"),
                       help="render the drives at this sensor size (default: the model's) and "
                            "run the model at --working-size, as the nodes do")
    model.add_argument("--working-size", default="auto",
                       help="the nodes' working_size: auto, sensor or WIDTHxHEIGHT")
    _dataset_options(model, "synthetic drives (--seeds), or every labelled window of a split "
                            "of DSEC-Semantic or DDD17 (--data-root, --split), scored in the "
                            "model card's classes (a hybrid model on DSEC: its frames, brought "
                            "into the event camera's frame, from each sequence's images/ and "
                            "calibration/)")
    _common(model)
    model.set_defaults(func=run_model)
    sweep = sub.add_parser("sweep", help="change-threshold sweep of the hybrid method")
    sweep.add_argument("--thetas", type=float, nargs="*",
                       default=[0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0],
                       help="thetas of the published rule (static reuse), events per pixel")
    sweep.add_argument("--grid", type=int, nargs=2, default=[PUBLISHED_RULE.rows,
                                                             PUBLISHED_RULE.cols],
                       metavar=("ROWS", "COLS"), help="region grid of the published rule")
    sweep.add_argument("--margin", type=int, default=PUBLISHED_RULE.margin,
                       help="context margin of the published rule, pixels")
    sweep.add_argument("--residual-thetas", type=float, nargs="*",
                       default=[0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.6],
                       help="residual thresholds of warped reuse (none: no warped rows); the "
                            f"node's default is {NODE.residual_theta:g}")
    sweep.add_argument("--keyframe-intervals", type=int, nargs="*", default=[2, 3, 4],
                       help="rows of warped reuse without the residual gate, the gate's "
                            "baseline: a keyframe every N frames and the labels carried along "
                            "the motion in between (none: no such rows)")
    sweep.add_argument("--warped-grid", type=int, nargs=2, metavar=("ROWS", "COLS"),
                       default=[NODE.rows, NODE.cols],
                       help="region grid of warped reuse (default: the node's)")
    sweep.add_argument("--warped-margin", type=int, default=NODE.margin,
                       help="context margin of warped reuse's windows (default: the node's)")
    sweep.add_argument("--no-paired", dest="paired", action="store_false",
                       help="do not time a full pass beside each warped row, frame by frame "
                            "(the paired_speedup column; it doubles those rows' time)")
    sweep.add_argument("--change-since", choices=("region", "frame"), default="region",
                       help="count a region's events since its labels were computed (region, "
                            "the default) or since the previous frame (frame, the published rule)")
    sweep.add_argument("--keyframe-max-age", type=float, default=NODE.keyframe_max_age_s,
                       help="keyframe policy: full pass when the keyframe is older, s "
                            "(default: the node's)")
    sweep.add_argument("--max-changed-fraction", type=float,
                       default=NODE.max_changed_fraction, help="keyframe policy: full pass "
                       "when more than this share of the regions changed (default: the node's)")
    _dataset_options(sweep, "synthetic drives (--seeds), or the sequences of a split of "
                            "DSEC-Semantic with their frames (--data-root, --split; each its "
                            "labelled frames, 20 Hz, for --duration s from --start, 0: to its "
                            "end), scored in the model card's classes; the ceiling is a range "
                            "there (ceiling_miou to ceiling_miou_high)")
    sweep.add_argument("--start", type=float, default=0.0,
                       help="--dataset dsec: each sequence's span starts this long after its "
                            "first label, s")
    _common(sweep)
    sweep.set_defaults(func=run_sweep)
    ceiling = sub.add_parser("ceiling", help="accuracy ceiling of label reuse, with no model")
    ceiling.add_argument("--grids", nargs="+", default=[(4, 6), (8, 12), (16, 24)],
                         type=_grid, metavar="ROWSxCOLS")
    ceiling.add_argument("--budgets", type=float, nargs="+",
                         default=[0.05, 0.1, 0.15, 0.2, 0.3, 0.5],
                         help="fractions of the regions recomputed per frame")
    ceiling.add_argument("--keyframe-max-age", type=float, default=2.0,
                         help="a full frame of ground truth when the last is this old, s")
    ceiling.add_argument("--reuse", nargs="+", choices=("static", "warped"),
                         default=["static", "warped"],
                         help="kept labels stay in place (static) or follow the motion between "
                              "frames (warped, DIS optical flow as the node carries them)")
    ceiling.add_argument("--reference", nargs="+", choices=("labels", "model"),
                         default=["labels", "model"],
                         help="what the gate pastes: the ground truth, or the model's full-pass "
                              "masks (losses then count against the full pass, as in the sweep)")
    _dataset_options(ceiling, "synthetic drives only: the real data sets leave pixels "
                              "unlabelled, where reused ground truth has no class to score")
    _common(ceiling)
    ceiling.set_defaults(func=run_ceiling)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _grid(text: str) -> tuple[int, int]:
    rows, _, cols = text.partition("x")
    if not (rows.isdigit() and cols.isdigit() and int(rows) > 0 and int(cols) > 0):
        raise argparse.ArgumentTypeError(f"grid must be ROWSxCOLS, e.g. 4x6, got {text!r}")
    return int(rows), int(cols)


def _sequences(args: argparse.Namespace, width: int, height: int) -> list:
    from ness_ros.data.cache import cached_sequence
    from ness_ros.data.sequence import SequenceConfig

    if args.stops is not None and args.stops < 0:
        raise CliError(f"--stops must be >= 0, got {args.stops}", USAGE)
    config = SequenceConfig(width=width, height=height, duration_s=args.duration,
                            stops=args.stops)
    return [cached_sequence(s, config, progress=not args.no_progress) for s in args.seeds]


def _load(args: argparse.Namespace, arch: str):
    import torch

    from ness_ros.models.weights import default_weights_path, load_model
    from ness_ros.segmentation.inputs import InputEncoder

    if args.threads:
        import cv2

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    model, card = load_model(args.model or default_weights_path(arch))
    return model, card, InputEncoder.from_card(card)


def _setup(args: argparse.Namespace, arch: str, size: list[int] | None = None):
    model, card, encoder = _load(args, arch)
    if getattr(args, "dataset", "synthetic") != "synthetic":
        _refuse_stops(args)
        from ness_ros.cli.eval_dataset import dataset_sequences

        return model, card, encoder, dataset_sequences(args, card, encoder)
    width, height = size or card.input_size
    return model, card, encoder, _sequences(args, width, height)


def _work_frames(length: int) -> range:
    """The frames the full pass's work is averaged over: every 40th from the 6th (the first
    of a short sequence)."""
    return range(5 if length > 5 else 0, length, 40)


def _sequence_facts(sequences) -> dict[str, Any]:
    import numpy as np

    if not hasattr(sequences[0], "seed"):  # a real data set's sequences
        return {"sequences": [{"name": s.name, "frames": len(s), "start_s": s.span_s[0],
                               "span_s": s.span_s[1]} for s in sequences],
                "frames": int(sum(len(s) for s in sequences))}
    return {"seeds": [s.seed for s in sequences],
            "moving_fraction": float(np.mean(np.concatenate([s.moving for s in sequences]))),
            "frames": int(sum(len(s) for s in sequences)),
            "events_per_s": float(np.mean([s.event_rate for s in sequences]))}


def _refuse_stops(args: argparse.Namespace) -> None:
    if args.stops is not None:
        raise CliError("--stops shapes synthetic drives; a real data set's sequences are as "
                       "recorded", USAGE)


def run_model(args: argparse.Namespace) -> int:
    if args.dataset != "synthetic":
        _refuse_stops(args)
        from ness_ros.cli.eval_dataset import run_dataset_model

        return run_dataset_model(args)
    from ness_ros.labels import CLASS_NAMES
    from ness_ros.metrics import mean_iou, per_class_iou
    from ness_ros.segmentation.ceiling import head_resolution_confusion
    from ness_ros.segmentation.evaluation import (
        evaluate_events,
        evaluate_hybrid,
        full_frame_work,
    )
    from ness_ros.segmentation.plots import plot_confusion
    from ness_ros.segmentation.working_resolution import (
        EVENT_ONLY_MAX_PIXELS,
        WorkingResolution,
    )

    try:
        guided = upsampling(args, hybrid=args.arch == "segsnn")
    except ValueError as exc:
        raise CliError(f"{exc} (--arch segsnn)", USAGE) from exc
    model, card, encoder, sequences = _setup(args, args.arch, size=args.size)
    rescaler = None
    if args.size and tuple(args.size) != tuple(card.input_size):
        cap = EVENT_ONLY_MAX_PIXELS if card.architecture == "evsegsnn" else 0
        rescaler = WorkingResolution(args.working_size, max_pixels=cap).rescaler(
            tuple(args.size), card.input_size)
        print(f"{rescaler.describe()} (as the nodes run it)")
    work = full_frame_work(model, encoder, sequences[0], _work_frames(len(sequences[0])),
                           rescaler)
    progress = not args.no_progress
    if card.architecture == "segsnn":
        report = evaluate_hybrid(model, encoder, sequences, FULL_PASS,
                                 name="full frame", work=work, progress=progress,
                                 guided=guided, rescaler=rescaler)
    else:
        report = evaluate_events(model, encoder, sequences, work=work, progress=progress,
                                 rescaler=rescaler)
    stride = int(model.head_stride)
    seen = head_resolution_confusion(sequences, stride)
    ceiling = mean_iou(seen)
    rows = [{"class": n, "IoU": v, f"ceiling (1/{stride} head)": c}
            for n, v, c in zip(CLASS_NAMES, report.per_class_iou, per_class_iou(seen),
                               strict=True)]
    how = f", {args.upsampling} upsampling" if card.architecture == "segsnn" else ""
    print(format_table(rows, title=f"{card.architecture} on seeds {args.seeds}{how}: "
                                   "per-class IoU"))
    summary = {"MIoU": report.miou, f"MIoU ceiling of a 1/{stride} head": ceiling,
               "pixel accuracy": report.pixel_accuracy,
               "frames": report.frames, "frames/s": report.frames_per_s,
               "parameters": work.params, "MACs/frame": work.macs,
               "synaptic ops/frame": work.synops, "energy/frame (mJ)": work.energy_total_j * 1e3,
               "spike rate": work.spike_rate}
    print(format_table([{"figure": k, "value": v} for k, v in summary.items()]))
    png = plot_confusion(report.confusion, args.out / f"confusion_{card.architecture}.png",
                         title=f"{card.architecture}, MIoU {100 * report.miou:.1f}%")
    print(f"confusion matrix: {png}")
    print(f"MIoU ceiling: the ground truth seen through a head at 1/{stride} resolution, "
          f"upsampled bilinearly as the model's logits are")
    write_json(args.json, {"report": dataclasses.asdict(report), "work": dataclasses.asdict(work),
                           "sequences": _sequence_facts(sequences),
                           "upsampling": args.upsampling, "head_resolution_ceiling": {
                               "head_stride": stride, "miou": ceiling,
                               "per_class_iou": per_class_iou(seen).tolist()}})
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from ness_ros.segmentation.ceiling import gate_ceiling
    from ness_ros.segmentation.evaluation import evaluate_hybrid, full_frame_work
    from ness_ros.segmentation.plots import plot_confusion, plot_sweep

    real = args.dataset != "synthetic"
    if not real and args.start:
        raise CliError("--start cuts a real data set's sequences (--dataset dsec); synthetic "
                       "drives are --seeds of --duration s", USAGE)
    if any(n < 1 for n in args.keyframe_intervals):
        raise CliError(f"--keyframe-intervals are frames between keyframes, at least 1, got "
                       f"{args.keyframe_intervals}", USAGE)
    model, card, encoder, sequences = _setup(args, "segsnn")
    work = full_frame_work(model, encoder, sequences[0], _work_frames(len(sequences[0])))
    progress = not args.no_progress
    gating = dataclasses.replace(PUBLISHED_RULE, rows=args.grid[0], cols=args.grid[1],
                                 margin=args.margin, accumulate=args.change_since == "region",
                                 keyframe_max_age_s=args.keyframe_max_age,
                                 max_changed_fraction=args.max_changed_fraction)
    warped = GatingConfig(rows=args.warped_grid[0],
                                 cols=args.warped_grid[1], margin=args.warped_margin,
                                 accumulate=args.change_since == "region",
                                 keyframe_max_age_s=args.keyframe_max_age,
                                 max_changed_fraction=args.max_changed_fraction)
    every_frame = dataclasses.replace(gating, keyframe_interval=1)  # the full pass
    guided = upsampling(args)

    def evaluate(name: str, g: GatingConfig, **options: Any):
        return evaluate_hybrid(model, encoder, sequences, g, name=name, work=work,
                               progress=progress, guided=guided, **options)

    paired = {"paired_with": every_frame} if args.paired else {}

    # theta = 0 through the gated path (no keyframe policy): per-region crops in one batch, and
    # the planner's choice (here the one bounding box of all regions).
    every_region = dataclasses.replace(gating, theta=0.0, max_changed_fraction=1.0,
                                       keyframe_max_age_s=0.0)
    runs = [("static", "0 (split)", dataclasses.replace(every_region, batch_crops_only=True)),
            ("static", "0 (split, merged box)", every_region)]
    runs += [("static", f"{t:g}", dataclasses.replace(gating, theta=t)) for t in args.thetas]
    # Each row's ceiling, (low, high): its decisions replayed with ground truth pasted. On
    # synthetic drives the static rows replay the gate's own choices (the segmenter's, on the
    # same events); a real recording serves its events window by window and leaves pixels
    # unlabelled, so there every row is replayed in its run, where labels reused from
    # unlabelled pixels are unknown and the ceiling a range.
    ceiling: dict[str, tuple[float, float]] = {}

    def gated(name: str, g: GatingConfig) -> Any:
        report = evaluate(name, g, ceiling=real)
        if real:
            ceiling[name] = (report.extra["ceiling_miou"], report.extra["ceiling_miou_high"])
        else:
            miou = gate_ceiling(sequences, g).miou  # fully labelled frames: no range
            ceiling[name] = (miou, miou)
        return report

    full = gated("full", every_frame)
    reports = [("full", "full", full)]
    reports += [(reuse, name, gated(name, g)) for reuse, name, g in runs]
    carried = [("warped", f"warped {t:g}", dataclasses.replace(warped, residual_theta=t))
               for t in args.residual_thetas]
    # The same carried labels on a fixed schedule: what the gate's choice of keyframes adds.
    carried += [("interval", f"every {n}", dataclasses.replace(
        warped, residual_theta=math.inf, keyframe_interval=n)) for n in args.keyframe_intervals]
    for reuse, name, g in carried:
        # The decisions of warped reuse depend on the masks it carries: replayed in the run.
        report = evaluate(name, g, ceiling=True, **paired)
        reports.append((reuse, name, report))
        ceiling[name] = (report.extra["ceiling_miou"], report.extra["ceiling_miou_high"])
    # The full pass once more at the end: speed-ups are taken against the mean of both runs, and
    # the two rows show how far this machine's speed drifted over the sweep.
    reports.append(("full", "full (again)", evaluate("full again", every_frame)))
    baseline_fps = (full.frames_per_s + reports[-1][2].frames_per_s) / 2
    rows = []
    for reuse, name, r in reports:
        is_full = reuse == "full"
        threshold = (float("nan") if is_full or name.startswith("0 (")
                     else float(name.split()[-1]))
        rows.append({"reuse": reuse, "theta": name, "threshold": threshold,
                     "miou": r.miou, "delta_miou_points": 100 * (r.miou - full.miou),
                     "ceiling_miou": ceiling["full" if is_full else name][0],
                     "ceiling_miou_high": ceiling["full" if is_full else name][1],
                     "frames_per_s": r.frames_per_s, "speedup": r.frames_per_s / baseline_fps,
                     "paired_speedup": r.extra.get("paired_speedup", float("nan")),
                     "macs_per_frame": r.macs_per_frame,
                     "macs_ratio": work.macs / r.macs_per_frame,
                     "synops_per_frame": r.synops_per_frame,
                     "motion_ms": r.extra.get("motion_ms", 0.0),
                     "recomputed_fraction": 1.0 if is_full else r.recomputed_fraction,
                     "keyframes": r.keyframes, "per_class_iou": r.per_class_iou,
                     "confusion": r.confusion})
    facts = _sequence_facts(sequences)
    if real:
        names = ", ".join(s["name"] for s in facts["sequences"])
        source = f"{facts['frames']} labelled frames of DSEC-Semantic {args.split} ({names})"
    else:
        source = (f"{facts['frames']} frames of seeds {facts['seeds']}, ego moving "
                  f"{100 * facts['moving_fraction']:.0f}% of the time")
    title = (f"threshold sweep: {source}, {args.threads or 'default'} "
             f"thread(s); static: grid {args.grid[0]}x{args.grid[1]}, margin {args.margin}; "
             f"warped: grid {warped.rows}x{warped.cols}, margin {warped.margin}; change counted "
             f"since the {'region was recomputed' if gating.accumulate else 'previous frame'}, "
             f"{args.upsampling} upsampling")
    table = [{k: v for k, v in row.items()
              if k not in ("threshold", "per_class_iou", "confusion")} for row in rows]
    table = [{**row, "miou": 100 * row["miou"], "ceiling_miou": 100 * row["ceiling_miou"],
              "ceiling_miou_high": 100 * row["ceiling_miou_high"]} for row in table]
    print(format_table(table, title=title))
    print("theta: events per pixel (static, the published rule) or, for warped rows, the share "
          "of a region's pixels the motion left unexplained; every N: warped reuse with no "
          "residual gate, a keyframe every N frames (the gate's baseline, residual_theta inf: "
          "the gate's inputs are not computed); ceiling_miou: the MIoU of each "
          "row's decisions with ground truth pasted where the model ran (a perfect model; see "
          "`ness eval ceiling`) and ceiling_miou_high, the high end of its range where "
          "labels are missing (the same on fully labelled frames); macs_ratio: full-pass MACs "
          "over the row's; motion_ms: mean time per frame of the motion estimate, flow and "
          "carried labels (in frames_per_s); "
          "paired_speedup: a full pass timed on the same frames, alternating with the row's "
          "segmenter frame by frame, over the row's time (the same load on both)")
    if real:
        print("ceiling on DSEC: a range [ceiling_miou, ceiling_miou_high]: DSEC's labels leave "
              "pixels unlabelled (and those the frame camera does not see are ignored), so a "
              "label a row reused from such a pixel is unknown; scored on the row's own pixels "
              "(labelled now), the low end counts those unknown labels wrong, the high end "
              "right")
    print(format_table([{"class": name, "IoU": iou}
                        for name, iou in zip(card.class_names, full.per_class_iou, strict=True)],
                       title=f"per-class IoU of the full pass, the model's "
                             f"{len(card.class_names)} classes (every row's: sweep.json)"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.md").write_text(_markdown(title, table))
    png = plot_sweep([r for r in rows if r["reuse"] != "full" and not r["theta"].startswith("0 (")],
                     args.out / "sweep.png", title=title)
    confusion_png = plot_confusion(np.asarray(full.confusion), args.out / "sweep_confusion.png",
                                   title=f"full pass, MIoU {100 * full.miou:.1f}%",
                                   class_names=card.class_names)
    print(f"written: {args.out / 'sweep.md'}, {png}, {confusion_png}")
    write_json(args.json or args.out / "sweep.json",
               {"rows": rows, "sequences": facts, "class_names": list(card.class_names),
                "dataset": args.dataset, "gating": dataclasses.asdict(gating),
                "warped_gating": dataclasses.asdict(warped), "threads": args.threads,
                "upsampling": args.upsampling, "work_full_frame": dataclasses.asdict(work),
                "model": card.to_dict()})
    return 0


def run_ceiling(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ness_ros.segmentation.ceiling import best_choice_ceiling
    from ness_ros.segmentation.plots import plot_ceiling

    if args.dataset != "synthetic":
        raise CliError(f"--dataset {args.dataset}: the ceiling pastes ground truth and reuses it "
                       "from frame to frame, so it needs fully labelled frames; the real data "
                       "sets leave pixels unlabelled (DSEC: and unseen by the frame camera), "
                       "where kept ground truth would have no class to score. It runs on "
                       "synthetic drives; `ness eval sweep --dataset dsec` gives the sweep "
                       "with each row's ceiling as a range", USAGE)
    bad = [b for b in args.budgets if not 0.0 < b <= 1.0]
    if bad:
        raise CliError(f"budgets are fractions of the regions in (0, 1], got {bad}", USAGE)
    if not args.keyframe_max_age >= 0:
        raise CliError(f"--keyframe-max-age must be >= 0 s (0: never), got "
                       f"{args.keyframe_max_age}", USAGE)
    model = card = None
    if "model" in args.reference:
        model, card, encoder, sequences = _setup(args, "segsnn")
    else:
        from ness_ros.models.weights import default_weights_path, load_card

        sequences = _sequences(args, *load_card(args.model or default_weights_path("segsnn"))
                               .input_size)
    references: dict[str, tuple[list | None, float]] = {}
    if "labels" in args.reference:
        references["labels"] = (None, 1.0)
    if model is not None:
        from ness_ros.segmentation.evaluation import evaluate_hybrid

        masks: list = []
        full = evaluate_hybrid(model, encoder, sequences, FULL_PASS,
                               name="full pass", progress=not args.no_progress, masks_out=masks,
                               guided=upsampling(args))
        references["model"] = (masks, full.miou)
    rows = []
    cases = [(ref, reuse, grid, budget) for ref in references for reuse in args.reuse
             for grid in args.grids for budget in args.budgets]
    for ref, reuse, (n_rows, n_cols), budget in tqdm(cases, desc="ceiling",
                                                     disable=args.no_progress, leave=False):
        masks, baseline = references[ref]
        r = best_choice_ceiling(sequences, n_rows, n_cols, budget, references=masks,
                                keyframe_max_age_s=args.keyframe_max_age, reuse=reuse)
        rows.append({"pasted": "ground truth" if ref == "labels" else "full pass",
                     "reuse": reuse, "grid": f"{n_rows}x{n_cols}", "budget": budget,
                     "regions_per_frame": max(1, round(budget * n_rows * n_cols)),
                     "computed_fraction": r.computed_fraction, "miou": r.miou,
                     "loss_points": 100 * (r.miou - baseline), "keyframes": r.keyframes})
    facts = _sequence_facts(sequences)
    title = (f"label reuse ceiling: {facts['frames']} frames of seeds {facts['seeds']}, ego "
             f"moving {100 * facts['moving_fraction']:.0f}% of the time; each frame a "
             f"clairvoyant gate recomputes the regions whose labels are most wrong, "
             + (f"a keyframe every {args.keyframe_max_age:g} s" if args.keyframe_max_age
                else "no keyframe after the first"))
    print(format_table([{**row, "miou": 100 * row["miou"]} for row in rows], title=title))
    if "model" in references:
        print(f"full pass of {card.architecture}: MIoU {100 * references['model'][1]:.2f}")
    print("loss_points: MIoU lost to reused labels alone, against the full pass of what is "
          "pasted; a gate that counts events should not expect to lose less at that budget")
    args.out.mkdir(parents=True, exist_ok=True)
    png = plot_ceiling(rows, args.out / "ceiling.png")
    print(f"written: {png}")
    write_json(args.json or args.out / "ceiling.json",
               {"rows": rows, "sequences": facts, "keyframe_max_age_s": args.keyframe_max_age,
                "upsampling": args.upsampling,
                "full_pass_miou": references["model"][1] if "model" in references else None})
    return 0


def _markdown(title: str, rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = [f"# {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = [f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else str(v)
                 for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
