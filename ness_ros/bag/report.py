"""Reports of bag evaluations: JSON for scripts, Markdown for people, and PNG figures.

One :class:`BagReport` describes an offline evaluation or a live replay; :func:`write_report`
writes ``report.json``, ``report.md``, ``confusion.png`` (when the bag has labels),
``overlays.png`` (frame or event image, mask over it, label) and ``latency.png`` (histogram).
ROS-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.labels import CLASS_NAMES


@dataclass
class BagReport:
    """What an evaluation of a bag measured.

    Attributes:
        kind: ``offline`` (``ness bag eval``) or ``replay`` (``ness bag replay``).
        title: one line naming bag, mode and model.
        figures: flat name -> value table (rates per second, times in ms, MIoU in [0, 1]).
        per_class_iou: class name -> IoU (None: class absent from labels and masks).
        confusion: (C, C) int64, rows ground truth, columns prediction; None without labels.
        latencies_ms: one latency sample per mask, milliseconds (what they measure is
            ``latency_label``).
        latency_label: axis label of the latency histogram.
        overlays: rows of (frame, mask over frame[, label]) RGB images.
        details: anything else worth keeping (topics, options, the node's diagnostics).
    """

    kind: str
    title: str
    figures: dict[str, Any]
    per_class_iou: dict[str, float | None] = field(default_factory=dict)
    confusion: NDArray[np.int64] | None = None
    latencies_ms: list[float] = field(default_factory=list)
    latency_label: str = "latency (ms)"
    overlays: list[NDArray[np.uint8]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data (NaN and infinity become None)."""
        return _clean({"kind": self.kind, "title": self.title, "figures": self.figures,
                       "per_class_iou": self.per_class_iou,
                       "confusion": None if self.confusion is None else self.confusion.tolist(),
                       "latencies_ms": self.latencies_ms, "details": self.details})


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def per_class(ious: list[float], names: Sequence[str] = CLASS_NAMES
              ) -> dict[str, float | None]:
    """IoU list in class order -> {class name: IoU or None for NaN}."""
    return {n: (None if not math.isfinite(v) else float(v))
            for n, v in zip(names, ious, strict=True)}


def events_image(events: EventBatch) -> NDArray[np.uint8]:
    """Events drawn for people, (H, W, 3) uint8: white background, ON blue, OFF red, darker
    where more events fell."""
    on = np.zeros((events.height, events.width), np.float32)
    off = np.zeros_like(on)
    pol = events.polarity != 0
    np.add.at(on, (events.y[pol], events.x[pol]), 1.0)
    np.add.at(off, (events.y[~pol], events.x[~pol]), 1.0)
    scale = max(1.0, float(np.percentile(on + off, 99)))
    a_on, a_off = np.clip(on / scale, 0, 1), np.clip(off / scale, 0, 1)
    img = np.full((events.height, events.width, 3), 255.0, np.float32)
    img[..., 0] -= 255 * a_on            # ON: take red away -> blue-ish
    img[..., 1] -= 200 * (a_on + a_off).clip(0, 1)
    img[..., 2] -= 255 * a_off           # OFF: take blue away -> red-ish
    return img.clip(0, 255).astype(np.uint8)


def latency_stats(samples: list[float]) -> dict[str, float]:
    """p50, p95 and max of ``samples`` (NaN when empty)."""
    if not samples:
        return {"p50": math.nan, "p95": math.nan, "max": math.nan}
    data = np.asarray(samples, dtype=np.float64)
    return {"p50": float(np.percentile(data, 50)), "p95": float(np.percentile(data, 95)),
            "max": float(data.max())}


def plot_latency(samples: list[float], path: Path, label: str, title: str) -> Path:
    """Histogram of latency samples (ms) with p50 and p95 marked, as a PNG."""
    from ness_ros.segmentation.plots import pyplot, save_figure

    plt = pyplot()
    stats = latency_stats(samples)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.hist(samples, bins=min(50, max(5, len(samples) // 3)), color="tab:blue", alpha=0.8)
    for key, style in (("p50", "--"), ("p95", ":")):
        ax.axvline(stats[key], color="black", ls=style, label=f"{key} {stats[key]:.1f} ms")
    ax.set_xlabel(label)
    ax.set_ylabel("masks")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path, dpi=110)


def markdown(report: BagReport, files: dict[str, Path]) -> str:
    """The report as Markdown: figures, per-class IoU, and the pictures."""
    lines = [f"# {report.title}", "", "| figure | value |", "|---|---|"]
    for key, value in report.figures.items():
        lines.append(f"| {key} | {_cell(value)} |")
    if report.confusion is not None:
        lines += ["", "## Per-class IoU", "", "| class | IoU |", "|---|---|"]
        lines += [f"| {n} | {_cell(v)} |" for n, v in report.per_class_iou.items()]
    for name, path in files.items():
        if path.suffix == ".png":
            lines += ["", f"## {name}", "", f"![{name}]({path.name})"]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def write_report(report: BagReport, out: str | Path) -> dict[str, Path]:
    """Write the report's files into ``out`` (created); returns them by name."""
    from ness_ros.segmentation.overlay import write_strip
    from ness_ros.segmentation.plots import plot_confusion

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    if report.confusion is not None and report.confusion.sum():
        miou = report.figures.get("miou", math.nan)
        files["confusion matrix"] = plot_confusion(
            report.confusion, out / "confusion.png", title=f"{report.kind}: MIoU "
            f"{100 * miou:.1f}% (row-normalised)")
    if report.overlays:
        files["overlays"] = write_strip(report.overlays, out / "overlays.png")
    if report.latencies_ms:
        files["latency"] = plot_latency(report.latencies_ms, out / "latency.png",
                                        report.latency_label, report.title)
    files["json"] = out / "report.json"
    files["json"].write_text(json.dumps(report.to_json(), indent=2) + "\n")
    files["markdown"] = out / "report.md"
    files["markdown"].write_text(markdown(report, files))
    return files
