"""``ness bench latency``: full-frame and gated hybrid segmentation side by side, through the real
nodes in separate processes.

Each mode runs the demo's graph (synthetic_camera at 20 Hz in real time, hybrid_segmentation,
segmentation_evaluator) on the same held-out sequence, one after the other in this run. Full-frame
mode is the same node with ``keyframe_interval: 1`` (every frame is a keyframe). With
``--repeats N`` the two modes alternate N times and the summary gives each figure's median over
the runs: on a small shared machine one run's p95 can double when a neighbour is busy. Latency is
what the node reports per mask on ``~/latency``: processing (publish minus the input's arrival)
and end-to-end (publish minus the input's stamp; the camera stamps live). Each run also gives the
fraction of the machine's CPU time that was busy (the graph included) and that the hypervisor
took for other guests (steal), over the whole run with start-up, so that a slow run can be told
from a slow change.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from ness_ros.bench.errors import BenchError
from ness_ros.cli_options import add_upsampling_option
from ness_ros.report_tables import add_json_option, format_table, write_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("latency", help="full-frame vs gated hybrid node: latency, "
                                   "frames/s and drops through the real nodes",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of driving")
    parser.add_argument("--seed", type=int, default=5001, help="held-out sequence seed")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each mode, "
                        "alternating; the summary takes medians")
    parser.add_argument("--reuse", choices=("warped", "static"), default=None,
                        help="gated mode's rule of label reuse (default: "
                             "config/segmentation.yaml)")
    parser.add_argument("--theta", type=float, default=None, help="gated mode's threshold "
                        "with static reuse (default: config/segmentation.yaml)")
    parser.add_argument("--model", default="", help="model file (default: packaged weights)")
    parser.add_argument("--size", type=int, nargs=2, default=(346, 260),
                        metavar=("WIDTH", "HEIGHT"), help="image size of the synthetic camera")
    parser.add_argument("--working-size", default=None, help="the hybrid node's working_size: "
                        "auto, sensor or WIDTHxHEIGHT (default: auto)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_latency"))
    add_upsampling_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ament_index_python.packages import get_package_share_directory

    from ness_ros.graph import segmentation_graph
    from ness_ros.graph_runner import STARTUP_S, run_until_source_ends
    from ness_ros.machine_load import cpu_counters, load_between

    if args.repeats < 1:
        raise BenchError(f"--repeats must be >= 1, got {args.repeats}")
    config = Path(get_package_share_directory("ness_ros")) / "config" / "segmentation.yaml"
    frames_sent = int(round(args.duration * 20))
    rows, reports = [], {}
    for run_index in range(1, args.repeats + 1):
        for mode in MODES:
            name = mode if args.repeats == 1 else f"{mode} #{run_index}"
            out = args.out / name.replace(" ", "_").replace("#", "")
            specs = segmentation_graph(mode="hybrid", config=config, theta=args.theta,
                                       reuse=args.reuse,
                                       guided_upsampling=args.upsampling == "guided",
                                       model=args.model, source="synthetic", seed=args.seed,
                                       duration_s=args.duration)
            for spec in specs:
                if spec.executable == "synthetic_camera":
                    spec.parameters["width"], spec.parameters["height"] = args.size
                if spec.executable == "hybrid_segmentation" and args.working_size:
                    spec.parameters["working_size"] = args.working_size
                if spec.executable == "hybrid_segmentation" and mode == "full frame":
                    spec.parameters["keyframe_interval"] = 1
                if spec.executable == "segmentation_evaluator":
                    spec.parameters["report_dir"] = str(out.resolve())
            counters = cpu_counters()
            report = run_until_source_ends(specs, out, args.duration * 4 + 240,
                                           expected_s=args.duration + STARTUP_S, desc=name)
            if report is None:
                return 1
            reports[name] = report
            rows.append({**latency_row(mode, run_index, frames_sent, report),
                         **load_between(counters, cpu_counters())})
    summary = [median_row(mode, [row for row in rows if row["mode"] == mode]) for mode in MODES]
    full, gated = summary
    ratios = {"masks_per_s": gated["masks_per_s"] / full["masks_per_s"],
              "processing_p50_ms": gated["processing_p50_ms"] / full["processing_p50_ms"],
              "processing_p95_ms": gated["processing_p95_ms"] / full["processing_p95_ms"]}
    title = (f"hybrid node at 20 Hz, {args.duration:g} s of seed {args.seed}, "
             f"{args.size[0]} x {args.size[1]} (working size {args.working_size or 'auto'}), "
             f"nodes in separate processes, {args.upsampling} upsampling")
    if args.repeats > 1:
        print(format_table(rows, title=title + ", every run"))
        title = f"median of {args.repeats} runs of each mode"
    print(format_table(summary, title=title))
    print(format_table([{"ratio gated / full": k, "value": v} for k, v in ratios.items()]))
    stages = [{"run": name, "stage": stage, "p50_ms": times["p50"], "p95_ms": times["p95"]}
              for name, report in reports.items()
              for stage, times in report.get("stage_ms", {}).items()]
    if stages:
        print(format_table(stages, title="where the node's time goes, per mask: waits for the "
                           "worker (queue) and for events, then the stages"))
    keeps_up = gated["dropped_fraction"] <= 0.05 and gated["processing_p95_ms"] <= 50.0
    medians = " (medians)" if args.repeats > 1 else ""
    print(f"gated mode keeps up with 20 Hz and p95 <= 50 ms{medians}: "
          f"{'yes' if keeps_up else 'NO'}")
    halves = (ratios["processing_p50_ms"] <= 0.5
              and gated["dropped_fraction"] <= full["dropped_fraction"])
    print(f"gated processing p50 at most half of full frame's, with no more drops{medians}: "
          f"{'yes' if halves else 'NO'}")
    write_json(args.json, {"rows": rows, "medians": summary, "ratios": ratios,
                           "gated_keeps_up": keeps_up, "gated_halves_p50": halves,
                           "reports": reports})
    return 0


MODES = ("full frame", "gated")


def latency_row(mode: str, run_index: int, frames_sent: int,
                report: dict[str, Any]) -> dict[str, Any]:
    """One run's figures from the evaluator's report."""
    received = report["masks_received"]
    return {
        "mode": mode, "run": run_index, "frames_sent": frames_sent, "masks": received,
        "dropped_fraction": max(0.0, 1 - received / frames_sent),
        "masks_per_s": report["frames_per_s"], "miou": report["miou"],
        "processing_p50_ms": report["processing_latency_ms"]["p50"],
        "processing_p95_ms": report["processing_latency_ms"]["p95"],
        "processing_max_ms": report["processing_latency_ms"]["max"],
        "end_to_end_p50_ms": report["end_to_end_latency_ms"]["p50"],
        "end_to_end_p95_ms": report["end_to_end_latency_ms"]["p95"],
        "recomputed_fraction": report["recomputed_fraction_mean"]}


def median_row(mode: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs of one mode (the median run for one run)."""
    row: dict[str, Any] = {"mode": mode, "runs": len(runs)}
    for key, value in runs[0].items():
        if key not in ("mode", "run") and isinstance(value, (int, float)):
            row[key] = float(statistics.median(run[key] for run in runs))
    return row
