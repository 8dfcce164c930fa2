"""Plots people would rather look at than read: confusion matrices, the threshold sweep, the
ceiling; :func:`save_figure` also writes the bag reports' latency histograms."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ness_ros.labels import CLASS_NAMES


def pyplot() -> Any:
    """matplotlib's pyplot drawing to files (the Agg backend), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: np.ndarray, path: Path, title: str = "",
                   class_names: Sequence[str] = CLASS_NAMES) -> Path:
    """Row-normalised confusion matrix (rows: ground truth) as a PNG."""
    plt = pyplot()
    conf = np.asarray(confusion, dtype=np.float64)
    rows = conf.sum(axis=1, keepdims=True)
    norm = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=35, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    for i in range(norm.shape[0]):
        for j in range(norm.shape[1]):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title or "confusion matrix (row-normalised)")
    return save_figure(fig, path)


#: The hybrid method's published trade-off on DSEC-Semantic (ICONIP 2024), against its full
#: pass (54.46 % MIoU, 151.25 frames/s, 5.99e12 FLOPs over the test set): theta, MIoU change
#: in points, frames/s ratio, and FLOPs ratio where the paper gives one.
PUBLISHED_POINTS = (
    (4.0, 53.05 - 54.46, 542.62 / 151.25, None),
    (4.75, 52.71 - 54.46, 666.52 / 151.25, 5.99 / 3.30),
    (6.0, 52.19 - 54.46, 916.82 / 151.25, None),
    (10.0, 51.11 - 54.46, 1513.67 / 151.25, 5.99 / 2.17),
)


def plot_sweep(rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """MIoU change against speed-up (frames/s ratio, left) and against fewer model MACs
    (right), one line per rule of reuse and one for warped reuse on a fixed keyframe schedule
    (rows from ``ness eval sweep``: ``reuse``,
    ``threshold``, ``delta_miou_points``, ``speedup``, ``macs_ratio``), with the published
    method's points on DSEC-Semantic."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6), sharey=True)
    styles = {"static": ("o-", "tab:blue", "static reuse, event count (published rule)"),
              "warped": ("s-", "tab:green", "warped reuse, residual (labels follow motion)"),
              "interval": ("d--", "tab:purple", "warped reuse, keyframe every N frames (no gate)")}
    for ax, key, label in ((axes[0], "speedup", "speed-up over the full pass (frames/s ratio; "
                            "warped: timed paired with it)"),
                           (axes[1], "macs_ratio", "fewer model MACs than the full pass (x)")):
        for reuse, (marker, colour, name) in styles.items():
            mine = [r for r in rows if r.get("reuse") == reuse]
            if not mine:
                continue
            x = [_speedup(r) if key == "speedup" else r[key] for r in mine]
            y = [r["delta_miou_points"] for r in mine]
            ax.plot(x, y, marker, color=colour, label=name)
            for r, xi, yi in zip(mine, x, y, strict=True):
                ax.annotate(f"{r['threshold']:g}", (xi, yi), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=colour)
        paper = [(t, d, fps if key == "speedup" else flops)
                 for t, d, fps, flops in PUBLISHED_POINTS]
        paper = [(t, d, v) for t, d, v in paper if v is not None]
        ax.plot([v for _, _, v in paper], [d for _, d, _ in paper], "^:", color="tab:red",
                label="published, DSEC-Semantic (FLOPs)" if key == "macs_ratio"
                else "published, DSEC-Semantic (GPU frames/s)")
        for t, d, v in paper:
            ax.annotate(f"{t:g}", (v, d), textcoords="offset points", xytext=(4, -10),
                        fontsize=7, color="tab:red")
        ax.axhline(0.0, color="tab:gray", ls="--", lw=0.8)
        ax.axvline(1.0, color="tab:gray", ls="--", lw=0.8)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MIoU change against the full pass (points)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(textwrap.fill(title, 160) if title else "change threshold sweep", fontsize=9)
    return save_figure(fig, path)


def _speedup(row: dict) -> float:
    """A row's speed-up: timed frame by frame beside a full pass where the sweep did so."""
    paired = row.get("paired_speedup", float("nan"))
    return paired if paired == paired else row["speedup"]  # NaN: not paired


def plot_ceiling(rows: Sequence[dict], path: Path, title: str = "",
                 allowed_loss_points: float = 1.5) -> Path:
    """MIoU lost against the fraction of regions computed, one line per grid and reference
    (rows from ``ness eval ceiling``), with the line ``allowed_loss_points`` under a full pass."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key in dict.fromkeys((r["pasted"], r.get("reuse", "static"), r["grid"]) for r in rows):
        mine = [r for r in rows if (r["pasted"], r.get("reuse", "static"), r["grid"]) == key]
        ax.plot([r["computed_fraction"] for r in mine], [r["loss_points"] for r in mine],
                "o-" if key[0] == "ground truth" else "s--",
                label=f"{key[0]}, {key[1]}, grid {key[2]}")
    ax.axhline(-allowed_loss_points, color="tab:gray", ls=":",
               label=f"{allowed_loss_points:g} points lost")
    ax.set_xlabel("fraction of regions computed per frame (keyframes included)")
    ax.set_ylabel("MIoU change against the full pass (points)")
    ax.set_title(title or "label reuse ceiling (clairvoyant gate)")
    return _save_with_grid(fig, ax, path)


def _save_with_grid(fig: Any, ax: Any, path: Path) -> Path:
    """A light grid and the legend on ``ax``, then ``fig`` written to ``path`` and closed."""
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def save_figure(fig: Any, path: Path, dpi: int = 120) -> Path:
    """Lay ``fig`` out, write it to ``path`` (its folder made) and close it; returns ``path``."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
