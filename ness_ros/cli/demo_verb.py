"""``ness demo``: the segmentation graph on the synthetic driving sequence, through the real nodes.

Starts the nodes of :func:`ness_ros.graph.segmentation_graph` (the graph of
``segmentation.launch.py``) as processes, lets the synthetic camera play for ``--duration``
seconds, stops the graph and prints what the evaluator node measured: MIoU, frames/s, latency and
the fraction of regions recomputed. The evaluator's report and an overlay strip are written to
``--out``. The graph runs on a free ROS_DOMAIN_ID of its own (unless ROS_DOMAIN_ID is set) with
discovery on this host, so two demos on one machine do not score each other's masks.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ness_ros.cli.errors import USAGE, option_errors
from ness_ros.report_tables import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the node graph on the synthetic sequence "
                                   "and print MIoU, frames/s and latency")
    parser.add_argument("--mode", choices=("hybrid", "events"), default="hybrid")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of driving")
    parser.add_argument("--reuse", choices=("warped", "static"), default=None,
                        help="hybrid mode: kept labels follow the motion (warped) or stay in "
                             "place (static, the published rule) (default: "
                             "config/segmentation.yaml)")
    parser.add_argument("--theta", type=float, default=None,
                        help="static reuse's change threshold (default: "
                             "config/segmentation.yaml)")
    parser.add_argument("--upsampling", choices=("guided", "bilinear"), default=None,
                        help="hybrid mode: class scores upsampled along the frame's edges "
                             "(guided) or bilinear logits (default: config/segmentation.yaml)")
    parser.add_argument("--seed", type=int, default=1000, help="synthetic sequence seed")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="playback rate of the synthetic camera (1.0 = real time)")
    parser.add_argument("--event-message", choices=("dvs", "packet"), default="dvs")
    parser.add_argument("--model", default="", help="model file (default: packaged weights)")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("WIDTH", "HEIGHT"),
                        help="image size of the synthetic camera (default 346 260)")
    parser.add_argument("--working-size", default=None, help="the segmentation node's "
                        "working_size: auto, sensor or WIDTHxHEIGHT (default: auto)")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"),
                        help="folder for logs, report.json and overlays.png")
    add_json_option(parser)
    parser.set_defaults(func=run)


def demo_graph(args: argparse.Namespace, report_dir: Path):
    """The graph the demo runs: the launch file's graph with the demo's arguments."""
    from ament_index_python.packages import get_package_share_directory

    from ness_ros.graph import segmentation_graph

    config = Path(get_package_share_directory("ness_ros")) / "config" / "segmentation.yaml"
    guided = None if args.upsampling is None else args.upsampling == "guided"
    specs = segmentation_graph(mode=args.mode, config=config, theta=args.theta,
                               reuse=args.reuse,
                               guided_upsampling=guided, model=args.model, source="synthetic",
                               event_message=args.event_message, seed=args.seed,
                               rate=args.rate, duration_s=args.duration, loop=False,
                               evaluate=True, report_dir=report_dir.resolve())
    for spec in specs:
        if spec.executable == "synthetic_camera" and args.size:
            spec.parameters["width"], spec.parameters["height"] = args.size
        if spec.executable in SEGMENTERS and getattr(args, "working_size", None):
            spec.parameters["working_size"] = args.working_size
    return specs


#: The segmentation nodes' executables (the other nodes of a graph: source, evaluator).
SEGMENTERS = ("hybrid_segmentation", "event_segmentation")


def run(args: argparse.Namespace) -> int:
    from ness_ros.graph_runner import STARTUP_S, run_until_source_ends

    out = args.out
    with option_errors(USAGE):  # a mode, size or option the graph refuses
        specs = demo_graph(args, out)
    print(f"starting {', '.join(s.name for s in specs)} (logs in {out / 'logs'})")
    # The camera prepares its sequence (generated once, then cached), plays it once and exits.
    # The graph keeps to a ROS domain of its own (ROS_DOMAIN_ID if set) and to this host.
    report = run_until_source_ends(specs, out, args.duration / args.rate * 4 + 180,
                                   expected_s=args.duration / args.rate + STARTUP_S, desc="demo")
    if report is None:
        return 1
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
    print(f"report: {out / 'report.json'}"
          + (f"\noverlays: {overlays}" if overlays.exists() else ""))
    write_json(args.json, {**figures, "report": report})
    return 0 if report["frames_evaluated"] > 0 else 1


