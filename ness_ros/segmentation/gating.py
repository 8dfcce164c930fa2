"""Region gating: which regions of a frame to segment again, and when to take a keyframe.

The decision alone, with no model: :class:`RegionGate` turns each frame's change into a set of
changed regions (or a keyframe) by the rules of :class:`GatingConfig`. Two rules of reuse:

- ``static`` (the published rule): kept labels stay where they were computed; a region's change
  is its mean event count per pixel.
- ``warped``: kept labels move with the motion between frames
  (:mod:`ness_ros.segmentation.motion`); a region's change is the share of its pixels that the
  motion does not explain (photometric residual near label edges, content that entered the
  view, labels the warp left uncertain), given by the segmenter as a per-pixel weight map.

The
:class:`~ness_ros.segmentation.hybrid.HybridSegmenter` runs its model on what the gate chooses;
:mod:`ness_ros.segmentation.ceiling` pastes ground-truth labels there instead, to measure what the
gate's choices cost with a perfect model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.representations import region_bounds, region_counts
from ness_ros.segmentation.gating_config import (
    FULL_PASS,
    PUBLISHED_RULE,
    REUSE_RULES,
    GatingConfig,
)

__all__ = ["FULL_PASS", "PUBLISHED_RULE", "REUSE_RULES", "GatingConfig", "RegionGate"]

class RegionGate:
    """The keyframe policy and the per-region change of :class:`GatingConfig`, frame by frame.

    Call :meth:`plan` once per processed frame, in stamp order; it returns the regions to
    recompute, or None when the frame must be a keyframe (segmented in full).
    """

    def __init__(self, config: GatingConfig) -> None:
        config.validate()
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is a keyframe."""
        self._has_labels = False
        self.last_stamp: int | None = None
        self._keyframe_stamp = 0
        self._since_keyframe = 0
        #: Events per pixel per region since its labels were computed (``accumulate``).
        self._change: NDArray[np.float64] | None = None
        #: ``warped``: the last frame's change per region, the rate expected of the next.
        self._rate: NDArray[np.float64] | None = None

    def configure(self, config: GatingConfig) -> None:
        """Change theta, grid or policy (a new grid forces a keyframe)."""
        config.validate()
        if (config.rows, config.cols) != (self.config.rows, self.config.cols):
            self._has_labels = False
        self.config = config

    @property
    def threshold(self) -> float:
        """The change threshold of the configured rule of reuse."""
        g = self.config
        return g.residual_theta if g.reuse == "warped" else g.theta

    def plan(self, stamp_ns: int, events: EventBatch,
             unexplained: NDArray[np.float32] | None = None) -> NDArray[np.bool_] | None:
        """Decide the frame at ``stamp_ns``: a (rows, cols) bool array of the regions to
        recompute, or None for a keyframe.

        ``events`` must hold, time-sorted, the events since the previous planned frame (more is
        fine: only that slice is counted). With ``warped`` reuse, ``unexplained`` is the (H, W)
        weight map of what the motion does not explain (1 for an unexplained pixel), and the
        events are not counted; it may be None only when a keyframe is due or when
        ``residual_theta`` is inf (:attr:`GatingConfig.reads_residual`). The decision is
        recorded: the next call assumes the chosen regions (or the whole frame) were segmented;
        :meth:`mark_recomputed` adds regions computed beyond those.
        """
        g = self.config
        changed = None
        if not self.keyframe_due(stamp_ns):
            if g.reuse == "warped":
                if unexplained is not None:
                    change = self._rate = self._region_means(unexplained)
                elif not g.reads_residual:  # residual_theta inf: no region ever passes
                    change = self._rate = np.zeros((g.rows, g.cols))
                else:
                    raise ValueError("warped reuse needs the map of unexplained pixels")
            else:
                assert self.last_stamp is not None  # labels exist only after a planned frame
                change = region_counts(events.time_slice(self.last_stamp, stamp_ns),
                                       g.rows, g.cols)
            if g.accumulate and self._change is not None and self._change.shape == change.shape:
                change = change + self._change
            changed = change >= self.threshold
            if changed.mean() > g.max_changed_fraction:
                changed = None
            else:
                self._change = np.where(changed, 0.0, change)
        if changed is None:
            self._record_keyframe(stamp_ns)
        else:
            self._since_keyframe += 1
        self.last_stamp = stamp_ns
        return changed

    def force_keyframe(self) -> None:
        """Make the next planned frame a keyframe."""
        self._has_labels = False

    def promote_to_keyframe(self) -> None:
        """Make the frame just planned a keyframe after all (the segmenter found a full pass
        cheaper than the planned crops)."""
        if self.last_stamp is None:
            raise ValueError("no frame has been planned")
        self._record_keyframe(self.last_stamp)

    def _record_keyframe(self, stamp_ns: int) -> None:
        self._keyframe_stamp, self._since_keyframe = stamp_ns, 0
        self._change = None
        self._has_labels = True

    def expected_changes(self) -> NDArray[np.bool_] | None:
        """``warped`` reuse: the regions expected to pass the threshold at the next frame if
        each changes at the rate it changed at the last one. None right after a keyframe: the
        rate is measured again on the first frame carried from it (a rate kept across keyframes
        could predict keyframe after keyframe without ever being measured again)."""
        if self.config.reuse != "warped" or self._rate is None or self._change is None \
                or self._change.shape != self._rate.shape:
            return None
        return self._change + self._rate >= self.threshold

    def mark_recomputed(self, regions: NDArray[np.bool_]) -> None:
        """Record that ``regions`` (rows, cols) were computed again besides the planned ones
        (those inside a crop's interior): their change starts from zero."""
        if self._change is not None:
            self._change[regions] = 0.0

    def _region_means(self, values: NDArray[np.float32]) -> NDArray[np.float64]:
        """Mean of ``values`` (H, W) over each region of the grid, shape (rows, cols)."""
        g = self.config
        height, width = values.shape
        row_edges, col_edges = region_bounds(height, width, g.rows, g.cols)
        sums = np.add.reduceat(np.add.reduceat(values, row_edges[:-1], axis=0, dtype=np.float64),
                               col_edges[:-1], axis=1)
        return sums / np.outer(np.diff(row_edges), np.diff(col_edges))

    def keyframe_due(self, stamp_ns: int) -> bool:
        """Whether the keyframe policy alone makes the frame at ``stamp_ns`` a keyframe (the
        segmenter then needs no motion estimate)."""
        g = self.config
        if not self._has_labels:
            return True
        if g.keyframe_interval and self._since_keyframe + 1 >= g.keyframe_interval:
            return True
        return bool(g.keyframe_max_age_s
                    and stamp_ns - self._keyframe_stamp >= g.keyframe_max_age_s * 1e9)
