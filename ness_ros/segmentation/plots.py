"""Plots people would rather look at than read: confusion matrices and the threshold sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ness_ros.labels import CLASS_NAMES


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: np.ndarray, path: Path, title: str = "",
                   class_names: Sequence[str] = CLASS_NAMES) -> Path:
    """Row-normalised confusion matrix (rows: ground truth) as a PNG."""
    plt = _pyplot()
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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_sweep(rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """MIoU against speed-up for each theta of a sweep (rows from ``ness eval sweep``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    gated = [r for r in rows if r["theta"] != "full"]
    x = [r["speedup"] for r in gated]
    y = [100 * r["miou"] for r in gated]
    ax.plot(x, y, "o-", color="tab:blue", label="gated (theta)")
    for r, xi, yi in zip(gated, x, y, strict=True):
        ax.annotate(f"{r['theta']}", (xi, yi), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    full = [r for r in rows if r["theta"] == "full"]
    if full:
        ax.axhline(100 * full[0]["miou"], color="tab:gray", ls="--", label="full frame")
    ax.set_xlabel("speed-up over full-frame segmentation (frames/s ratio)")
    ax.set_ylabel("MIoU (%)")
    ax.set_title(title or "change threshold sweep")
    return _save_with_grid(plt, fig, ax, path)


def plot_ceiling(rows: Sequence[dict], path: Path, title: str = "",
                 allowed_loss_points: float = 1.5) -> Path:
    """MIoU lost against the fraction of regions computed, one line per grid and reference
    (rows from ``ness eval ceiling``), with the line ``allowed_loss_points`` under a full pass."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key in dict.fromkeys((r["pasted"], r["grid"]) for r in rows):
        mine = [r for r in rows if (r["pasted"], r["grid"]) == key]
        ax.plot([r["computed_fraction"] for r in mine], [r["loss_points"] for r in mine],
                "o-" if key[0] == "ground truth" else "s--", label=f"{key[0]}, grid {key[1]}")
    ax.axhline(-allowed_loss_points, color="tab:gray", ls=":",
               label=f"{allowed_loss_points:g} points lost")
    ax.set_xlabel("fraction of regions computed per frame (keyframes included)")
    ax.set_ylabel("MIoU change against the full pass (points)")
    ax.set_title(title or "label reuse ceiling (clairvoyant gate)")
    return _save_with_grid(plt, fig, ax, path)


def _save_with_grid(plt, fig, ax, path: Path) -> Path:  # noqa: ANN001 (matplotlib objects)
    """A light grid and the legend on ``ax``, then ``fig`` written to ``path`` and closed."""
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
