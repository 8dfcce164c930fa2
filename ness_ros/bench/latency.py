"""``ness bench latency``: full-frame and gated hybrid segmentation side by side, through the real
nodes in separate processes.

Each mode runs the demo's graph (synthetic_camera at 20 Hz in real time, hybrid_segmentation,
segmentation_evaluator) on the same held-out sequence, one after the other in this run. Full-frame
mode is the same node with ``keyframe_interval: 1`` (every frame is a keyframe). Latency is what
the node reports per mask on ``~/latency``: processing (publish minus the input's arrival) and
end-to-end (publish minus the input's stamp; the camera stamps live).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ness_ros.cli.report import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("latency", help="full-frame vs gated hybrid node: latency, "
                                   "frames/s and drops through the real nodes",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of driving")
    parser.add_argument("--seed", type=int, default=5001, help="held-out sequence seed")
    parser.add_argument("--theta", type=float, default=None, help="gated mode's threshold "
                        "(default: config/segmentation.yaml)")
    parser.add_argument("--model", default="", help="model file (default: packaged weights)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_latency"))
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ament_index_python.packages import get_package_share_directory

    from ness_ros.graph import segmentation_graph
    from ness_ros.graph_runner import run_until_source_ends

    config = Path(get_package_share_directory("ness_ros")) / "config" / "segmentation.yaml"
    frames_sent = int(round(args.duration * 20))
    rows, reports = [], {}
    for mode in ("full frame", "gated"):
        out = args.out / mode.replace(" ", "_")
        specs = segmentation_graph(mode="hybrid", config=config, theta=args.theta,
                                   model=args.model, source="synthetic", seed=args.seed,
                                   duration_s=args.duration)
        for spec in specs:
            if spec.executable == "hybrid_segmentation" and mode == "full frame":
                spec.parameters["keyframe_interval"] = 1
            if spec.executable == "segmentation_evaluator":
                spec.parameters["report_dir"] = str(out.resolve())
        report = run_until_source_ends(specs, out, args.duration * 4 + 240, desc=mode)
        if report is None:
            return 1
        reports[mode] = report
        received = report["masks_received"]
        rows.append({
            "mode": mode, "frames_sent": frames_sent, "masks": received,
            "dropped_fraction": max(0.0, 1 - received / frames_sent),
            "masks_per_s": report["frames_per_s"], "miou": report["miou"],
            "processing_p50_ms": report["processing_latency_ms"]["p50"],
            "processing_p95_ms": report["processing_latency_ms"]["p95"],
            "processing_max_ms": report["processing_latency_ms"]["max"],
            "end_to_end_p50_ms": report["end_to_end_latency_ms"]["p50"],
            "end_to_end_p95_ms": report["end_to_end_latency_ms"]["p95"],
            "recomputed_fraction": report["recomputed_fraction_mean"]})
    full, gated = rows
    ratios = {"masks_per_s": gated["masks_per_s"] / full["masks_per_s"],
              "processing_p95_ms": gated["processing_p95_ms"] / full["processing_p95_ms"]}
    print(format_table(rows, title=f"hybrid node at 20 Hz, {args.duration:g} s of seed "
                       f"{args.seed}, 346 x 260, nodes in separate processes"))
    print(format_table([{"ratio gated / full": k, "value": v} for k, v in ratios.items()]))
    stages = [{"mode": mode, "stage": stage, "p50_ms": times["p50"], "p95_ms": times["p95"]}
              for mode, report in reports.items()
              for stage, times in report.get("stage_ms", {}).items()]
    if stages:
        print(format_table(stages, title="where the node's time goes, per mask (the rest of "
                           "the processing latency is waiting: for the worker, for events)"))
    keeps_up = gated["dropped_fraction"] <= 0.05 and gated["processing_p95_ms"] <= 50.0
    print(f"gated mode keeps up with 20 Hz and p95 <= 50 ms: {'yes' if keeps_up else 'NO'}")
    write_json(args.json, {"rows": rows, "ratios": ratios, "gated_keeps_up": keeps_up,
                           "reports": reports})
    return 0
