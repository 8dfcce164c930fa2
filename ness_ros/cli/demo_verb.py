"""``ness demo``: the segmentation graph on the synthetic driving sequence, through the real nodes.

Starts the nodes of :func:`ness_ros.graph.segmentation_graph` (the graph of
``segmentation.launch.py``) as processes, lets the synthetic camera play for ``--duration``
seconds, stops the graph and prints what the evaluator node measured: MIoU, frames/s, latency and
the fraction of regions recomputed. The evaluator's report and an overlay strip are written to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ness_ros.cli.report import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the node graph on the synthetic sequence "
                                   "and print MIoU, frames/s and latency")
    parser.add_argument("--mode", choices=("hybrid", "events"), default="hybrid")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of driving")
    parser.add_argument("--theta", type=float, default=None,
                        help="change threshold (default: config/segmentation.yaml)")
    parser.add_argument("--seed", type=int, default=1000, help="synthetic sequence seed")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="playback rate of the synthetic camera (1.0 = real time)")
    parser.add_argument("--event-message", choices=("dvs", "packet"), default="dvs")
    parser.add_argument("--model", default="", help="model file (default: packaged weights)")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("WIDTH", "HEIGHT"),
                        help="image size of the synthetic camera (default 346 260)")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"),
                        help="folder for logs, report.json and overlays.png")
    add_json_option(parser)
    parser.set_defaults(func=run)


def demo_graph(args: argparse.Namespace, report_dir: Path):
    """The graph the demo runs: the launch file's graph with the demo's arguments."""
    from ament_index_python.packages import get_package_share_directory

    from ness_ros.graph import segmentation_graph

    config = Path(get_package_share_directory("ness_ros")) / "config" / "segmentation.yaml"
    specs = segmentation_graph(mode=args.mode, config=config, theta=args.theta,
                               model=args.model, source="synthetic",
                               event_message=args.event_message, seed=args.seed,
                               rate=args.rate, duration_s=args.duration, evaluate=True)
    for spec in specs:
        if spec.executable == "segmentation_evaluator":
            spec.parameters["report_dir"] = str(report_dir.resolve())
        if spec.executable == "synthetic_camera" and args.size:
            spec.parameters["width"], spec.parameters["height"] = args.size
    return specs


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ness_ros.graph_runner import GraphProcesses

    out = args.out
    specs = demo_graph(args, out)
    report_path = out / "report.json"
    if report_path.exists():
        report_path.unlink()
    print(f"starting {', '.join(s.name for s in specs)} (logs in {out})")
    with GraphProcesses(specs, out / "logs", env={"PYTHONUNBUFFERED": "1"}) as graph:
        # The camera generates its sequence first, then plays it and exits.
        budget = args.duration / args.rate * 4 + 180
        with tqdm(total=int(budget), desc="demo", unit="s", leave=False) as bar:
            started = time.monotonic()
            code = None
            while code is None and time.monotonic() - started < budget:
                code = graph.wait("synthetic_camera", timeout=1.0)
                bar.update(1)
                if graph.failed():
                    break
        failed = graph.failed()
        time.sleep(1.0)  # the last masks are still on their way
    if failed or code is None:
        for name in failed or ["synthetic_camera"]:
            print(f"--- {name} log ---\n{graph.log_text(name)[-3000:]}")
        print("the demo graph did not complete")
        return 1
    if not report_path.exists():
        log = graph.log_text("segmentation_evaluator")
        print(f"the evaluator wrote no report; its log:\n{log}")
        return 1
    report = json.loads(report_path.read_text())
    figures = {
        "mode": args.mode, "seed": args.seed, "duration_s": args.duration,
        "frames_evaluated": report["frames_evaluated"], "miou": report["miou"],
        "pixel_accuracy": report["pixel_accuracy"], "frames_per_s": report["frames_per_s"],
        "processing_latency_p50_ms": report["processing_latency_ms"]["p50"],
        "processing_latency_p95_ms": report["processing_latency_ms"]["p95"],
        "end_to_end_latency_p50_ms": report["end_to_end_latency_ms"]["p50"],
        "end_to_end_latency_p95_ms": report["end_to_end_latency_ms"]["p95"],
        "recomputed_fraction_mean": report["recomputed_fraction_mean"],
        "keyframes": report["keyframes"],
    }
    rows = [{"figure": k, "value": v} for k, v in figures.items()]
    print(format_table(rows, title=f"ness demo: {args.mode} segmentation of the synthetic drive"))
    overlays = out / "overlays.png"
    print(f"report: {report_path}" + (f"\noverlays: {overlays}" if overlays.exists() else ""))
    write_json(args.json, {**figures, "report": report})
    return 0 if report["frames_evaluated"] > 0 else 1


