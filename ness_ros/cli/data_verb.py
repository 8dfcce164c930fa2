"""``ness data``: generate synthetic sequences, preview them, measure them, score the colour
baseline.

    ness data generate --seed 1 --count 3 --duration 10 --out data/synth
    ness data preview data/synth --out previews
    ness data stats data/synth --json stats.json
    ness data baseline --train-seeds 1 2 --test-seeds 100 --json baseline.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ness_ros.report_tables import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("data", help="synthetic driving data: generate, preview, "
                                                "stats, colour baseline")
    verbs = parser.add_subparsers(title="data verbs", dest="data_verb", metavar="VERB")

    gen = verbs.add_parser("generate", help="generate sequences into DIR/seq_SEED")
    gen.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    gen.add_argument("--count", type=int, default=1, help="sequences, seeds SEED.. (default 1)")
    gen.add_argument("--out", type=Path, required=True, help="output folder")
    _add_sequence_options(gen)
    gen.add_argument("--no-events", action="store_true", help="frames and labels only")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_option(gen)
    gen.set_defaults(func=run_generate)

    prev = verbs.add_parser("preview", help="PNG panels: frame | events | labels")
    prev.add_argument("dir", type=Path, help="a sequence folder or a folder of them")
    prev.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    prev.add_argument("--every", type=int, default=10, help="every Nth frame (default 10)")
    prev.set_defaults(func=run_preview)

    stats = verbs.add_parser("stats", help="event rate, class frequencies, moving fraction, "
                                           "colour-baseline MIoU")
    stats.add_argument("dir", type=Path, help="a sequence folder or a folder of them")
    add_json_option(stats)
    stats.set_defaults(func=run_stats)

    base = verbs.add_parser("baseline", help="colour-only baseline: fit on some seeds, score "
                                             "MIoU on others")
    base.add_argument("--train-seeds", type=int, nargs="+", default=[1, 2])
    base.add_argument("--test-seeds", type=int, nargs="+", default=[100])
    base.add_argument("--bins", type=int, default=16, help="colour bins per channel")
    _add_sequence_options(base)
    base.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_option(base)
    base.set_defaults(func=run_baseline)
    parser.set_defaults(func=lambda args: _help(parser))


def _add_sequence_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--width", type=int, default=346, help="pixels (default 346)")
    parser.add_argument("--height", type=int, default=260, help="pixels (default 260)")
    parser.add_argument("--fps", type=float, default=20.0, help="frame rate (default 20)")


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_generate(args: argparse.Namespace) -> int:
    from ness_ros.data.sequence import generate_sequence
    from ness_ros.data.storage import save_sequence

    rows = []
    for seed in range(args.seed, args.seed + args.count):
        start = time.perf_counter()
        seq = generate_sequence(seed, args.duration, args.width, args.height, args.fps,
                                events=not args.no_events, progress=not args.quiet)
        seconds = time.perf_counter() - start
        folder = save_sequence(seq, args.out / f"seq_{seed:05d}")
        rows.append({"seed": seed, "frames": len(seq), "events": len(seq.events),
                     "event_rate_mps": round(seq.event_rate / 1e6, 3),
                     "generate_s": round(seconds, 2), "folder": str(folder)})
    print(format_table(rows, title="generated sequences"))
    write_json(args.json, {"sequences": rows})
    return 0


def run_preview(args: argparse.Namespace) -> int:
    import cv2

    from ness_ros.data.preview import preview_panel
    from ness_ros.data.storage import find_sequences, load_sequence

    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for folder in find_sequences(args.dir):
        seq = load_sequence(folder)
        for i in range(0, len(seq), max(1, args.every)):
            panel = preview_panel(seq.window(i))
            path = args.out / f"{folder.name}_{i:04d}.png"
            cv2.imwrite(str(path), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
            written += 1
    print(f"wrote {written} PNG panels (frame | events red ON blue OFF | labels) to {args.out}")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from ness_ros.data.stats import sequence_stats, split_baseline
    from ness_ros.data.storage import find_sequences, load_sequence

    folders = find_sequences(args.dir)
    sequences = [load_sequence(folder) for folder in folders]
    rows = [sequence_stats(seq, folder.name) for seq, folder in zip(sequences, folders,
                                                                     strict=True)]
    columns = ["name", "frames", "duration_s", "events", "event_rate_mps", "on_fraction",
               "moving_fraction", "mean_speed_mps"]
    print(format_table(rows, columns, title="sequences"))
    classes = [{"name": r["name"], **r["class_frequency"]} for r in rows]
    print(format_table(classes, title="class frequencies (fraction of labelled pixels)"))
    baseline = split_baseline(sequences)
    print(format_table([{"class": k, "iou": v} for k, v in baseline["per_class_iou"].items()],
                       title=f"colour baseline ({baseline['split']}): MIoU "
                             f"{baseline['miou']:.3f}, pixel accuracy "
                             f"{baseline['pixel_accuracy']:.3f}"))
    write_json(args.json, {"sequences": rows, "colour_baseline": baseline})
    return 0


def run_baseline(args: argparse.Namespace) -> int:
    from ness_ros.data.colour_baseline import colour_baseline_scores
    from ness_ros.data.sequence import SequenceConfig

    cfg = SequenceConfig(width=args.width, height=args.height, duration_s=args.duration,
                         fps=args.fps, events=False)
    scores = colour_baseline_scores(args.train_seeds, args.test_seeds, config=cfg,
                                    bins=args.bins, progress=not args.quiet)
    print(format_table([{"class": k, "iou": v} for k, v in scores["per_class_iou"].items()],
                       title=f"colour-only baseline, train seeds {args.train_seeds}, test seeds "
                             f"{args.test_seeds}: MIoU {scores['miou']:.3f}, pixel accuracy "
                             f"{scores['pixel_accuracy']:.3f}"))
    write_json(args.json, scores)
    return 0
