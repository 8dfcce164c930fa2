"""Region gating: which regions of a frame to segment again, and when to take a keyframe.

The decision alone, with no model: :class:`RegionGate` turns each frame's events into a set of
changed regions (or a keyframe) by the rules of :class:`GatingConfig`. The
:class:`~ness_ros.segmentation.hybrid.HybridSegmenter` runs its model on what the gate chooses;
:mod:`ness_ros.segmentation.ceiling` pastes ground-truth labels there instead, to measure what the
gate's choices cost with a perfect model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.events.batch import EventBatch
from ness_ros.events.representations import region_counts


@dataclass(frozen=True)
class GatingConfig:
    """Parameters of the region gating and the keyframe policy.

    Attributes:
        theta: change threshold in events per pixel: a region is recomputed when the mean count
            of events (both polarities) per pixel of the region is at or above it, counted since
            the region's labels were computed (``accumulate``) or since the previous processed
            frame. 0 recomputes every region; ``inf`` keeps the keyframe.
        accumulate: count a region's events from the frame its labels were last computed, so
            that slow but steady change (a road edge drifting under ego-motion) is caught once it
            adds up to theta; False counts only the events since the previous processed frame
            (the published rule), under which such a region keeps stale labels until the next
            keyframe.
        rows, cols: the region grid.
        margin: context margin in pixels around each changed region's crop.
        keyframe_interval: a full pass every this many frames (0: never by count).
        keyframe_max_age_s: a full pass when the last keyframe is older (0: never by age).
        max_changed_fraction: a full pass when more than this fraction of regions changed.
        batch_crops_only: always run per-region crops, never the merged bounding box (to measure
            the pure split path).
    """

    theta: float = 1.0
    accumulate: bool = True
    rows: int = 4
    cols: int = 6
    margin: int = 16
    keyframe_interval: int = 0
    keyframe_max_age_s: float = 0.0
    max_changed_fraction: float = 1.0
    batch_crops_only: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if not (self.theta >= 0):  # also rejects NaN
            raise ValueError(f"theta must be >= 0 events per pixel, got {self.theta}")
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"region grid must be at least 1 x 1, got {self.rows} x {self.cols}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0 pixels, got {self.margin}")
        if self.keyframe_interval < 0 or self.keyframe_max_age_s < 0:
            raise ValueError("keyframe_interval and keyframe_max_age_s must be >= 0")
        if not 0.0 <= self.max_changed_fraction <= 1.0:
            raise ValueError(f"max_changed_fraction must be in [0, 1], "
                             f"got {self.max_changed_fraction}")


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

    def configure(self, config: GatingConfig) -> None:
        """Change theta, grid or policy (a new grid forces a keyframe)."""
        config.validate()
        if (config.rows, config.cols) != (self.config.rows, self.config.cols):
            self._has_labels = False
        self.config = config

    def plan(self, stamp_ns: int, events: EventBatch) -> NDArray[np.bool_] | None:
        """Decide the frame at ``stamp_ns``: a (rows, cols) bool array of the regions to
        recompute, or None for a keyframe.

        ``events`` must hold, time-sorted, the events since the previous planned frame (more is
        fine: only that slice is counted). The decision is recorded: the next call assumes the
        chosen regions (or the whole frame) were segmented.
        """
        g = self.config
        changed = None
        if not self._keyframe_due(stamp_ns):
            change = region_counts(events.time_slice(self.last_stamp, stamp_ns), g.rows, g.cols)
            if g.accumulate and self._change is not None and self._change.shape == change.shape:
                change = change + self._change
            changed = change >= g.theta
            if changed.mean() > g.max_changed_fraction:
                changed = None
            else:
                self._change = np.where(changed, 0.0, change)
        if changed is None:
            self._keyframe_stamp, self._since_keyframe = stamp_ns, 0
            self._change = None
            self._has_labels = True
        else:
            self._since_keyframe += 1
        self.last_stamp = stamp_ns
        return changed

    def _keyframe_due(self, stamp_ns: int) -> bool:
        g = self.config
        if not self._has_labels:
            return True
        if g.keyframe_interval and self._since_keyframe + 1 >= g.keyframe_interval:
            return True
        return bool(g.keyframe_max_age_s
                    and stamp_ns - self._keyframe_stamp >= g.keyframe_max_age_s * 1e9)
