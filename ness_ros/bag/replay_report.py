"""The figures of a live replay (ROS-free): from the replay's tally to a :class:`BagReport`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ness_ros.bag.live_stats import ReplayTally
from ness_ros.bag.reader import BagInfo, BagTopics
from ness_ros.bag.replay import trigger_topic
from ness_ros.bag.report import BagReport, latency_stats, per_class
from ness_ros.graph import NodeSpec


def _number(values: dict[str, str], key: str) -> float:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return math.nan


def replay_report(path: str | Path, info: BagInfo, topics: BagTopics, options,
                  spec: NodeSpec, tally: ReplayTally, sent: dict[str, Any],
                  exit_code: int | None, node_log: str) -> BagReport:
    """Figures of a replay: what went out (``sent``), what came back (``tally``), the node's
    last diagnostics and exit code. Times in ms, rates per second of wall time."""
    summary = tally.evaluator.summary()
    latency = latency_stats(tally.latencies_ms)
    processing = latency_stats(tally.processing_ms)
    wall = ((sent["wall_last_s"] or 0.0) - (sent["wall_first_s"] or 0.0))
    span = ((sent["bag_last_ns"] or 0) - (sent["bag_first_ns"] or 0)) / 1e9
    by_frame = trigger_topic(topics, options.mode) is not None
    mask_span = (tally.last_mask_s or 0.0) - (tally.first_mask_s or 0.0)
    diag = tally.diagnostics
    figures: dict[str, Any] = {
        "mode": options.mode, "node": spec.name, "rate": options.rate,
        "inputs_published": sent["frames"] if by_frame else None,
        "event_messages_published": sent["event_messages"],
        "events_published": sent["events"], "masks_received": tally.masks,
        "frames_dropped": max(0, sent["frames"] - tally.masks) if by_frame else None,
        "node_frames_dropped": _number(diag, "frames_dropped"),
        "node_frames_published": _number(diag, "frames_published"),
        "frames_evaluated": summary.frames_evaluated,
        "miou": summary.miou, "pixel_accuracy": summary.pixel_accuracy,
        "latency_ms_p50": latency["p50"], "latency_ms_p95": latency["p95"],
        "latency_ms_max": latency["max"],
        "node_processing_ms_p50": processing["p50"], "node_processing_ms_p95": processing["p95"],
        "masks_per_s": (tally.masks - 1) / mask_span if mask_span > 0 else math.nan,
        "events_per_s": sent["events"] / wall if wall > 0 else math.nan,
        "node_events_per_s_max": tally.node_events_per_s_max,
        "recording_s": span, "replay_wall_s": wall,
        "real_time_factor": span / wall if wall > 0 else math.nan,
        "masks_without_input": tally.unknown_inputs,
        "rejected_messages": sent["rejected"],
        "node_rejected_total": _number(diag, "rejected_total"),
        "node_events_received": _number(diag, "events_received"),
        "node_lost_packets": _number(diag, "events_lost_packets"),
        "node_exit_code": exit_code,
    }
    has_labels = topics.labels is not None and summary.frames_evaluated > 0
    return BagReport(
        kind="replay",
        title=f"ness bag replay {Path(path).name}: {spec.name} at x{options.rate:g}",
        figures=figures,
        per_class_iou=per_class(summary.per_class_iou, tally.class_names) if has_labels else {},
        confusion=tally.evaluator.confusion.copy() if has_labels else None,
        latencies_ms=list(tally.latencies_ms),
        latency_label="publish of the input to receipt of its mask (ms)",
        overlays=list(tally.overlays),
        details={"bag": str(path), "storage": info.storage, "topics": topics.__dict__,
                 "node_command": spec.ros_args(), "node_diagnostics": diag,
                 "node_log_tail": node_log[-2000:]})
