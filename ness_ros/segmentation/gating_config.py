"""The settings of region gating, importable without NumPy kernels or OpenCV (command lines
build their defaults from them before they load anything heavy).

:class:`GatingConfig` is what :class:`~ness_ros.segmentation.gating.RegionGate` and
:class:`~ness_ros.segmentation.hybrid.HybridSegmenter` run. Its defaults are the one source of
the hybrid node's gating: the node's parameter table, ``config/segmentation.yaml`` and the
argparse defaults of ``ness bag eval``/``replay`` and of ``ness eval sweep``'s warped rows are
built from or tested against them. :data:`PUBLISHED_RULE` is the published rule (static reuse),
which the sweep's static rows and the ceiling run, and :data:`FULL_PASS` a full pass every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

#: Presets of the motion estimate, DIS settings (:data:`ness_ros.segmentation.motion.FLOW_PRESETS`):
#: OpenCV's own, and ``fine``, ultrafast with smaller patches at about its cost (the default).
FLOW_PRESET_NAMES = ("ultrafast", "fine", "fast", "medium")

#: Rules of label reuse (:attr:`GatingConfig.reuse`).
REUSE_RULES = ("static", "warped")


@dataclass(frozen=True)
class GatingConfig:
    """Parameters of the region gating and the keyframe policy; the defaults are the hybrid
    node's (``config/segmentation.yaml``, the node's parameter defaults, ``ness demo``,
    ``ness bag``, ``ness bench latency``): labels carried along the motion, a region recomputed
    once 0.7 of its pixels' worth of unexplained change has added up, a full pass when windows
    would cost more than 15 % of one, when the keyframe is 2 s old or when more than 60 % of
    the regions changed. Measured with ``ness eval sweep`` on held-out seeds 5001-5002 (and
    checked on 6101-6102, see doc/results.md): 1.05 (1.03) MIoU points under the full pass for
    2.65x (2.45x) fewer model MACs, 1.9x (1.8x) its frames/s.

    Attributes:
        reuse: ``static`` (kept labels stay in place, change = events per pixel, the published
            rule) or ``warped`` (kept labels follow the motion, change = share of pixels the
            motion does not explain).
        theta: change threshold of ``static`` reuse in events per pixel: a region is recomputed
            when the mean count of events (both polarities) per pixel of the region is at or
            above it, counted since the region's labels were computed (``accumulate``) or since
            the previous processed frame. 0 recomputes every region; ``inf`` keeps the keyframe.
        residual_theta: change threshold of ``warped`` reuse: a region is recomputed when the
            share of its pixels left unexplained by the motion, summed over the frames since
            its labels were computed (``accumulate``), is at or above it.
        residual_level: grey levels of photometric residual (current frame against the previous
            one warped into it) above which a pixel counts as unexplained.
        flow_preset: DIS preset of the motion estimate: OpenCV's ``ultrafast``, ``fast``,
            ``medium``, or ``fine`` (ultrafast with 6 x 6 patches and 6 descent
            iterations: thin objects carried further at about ultrafast's cost).
        max_window_fraction: ``warped`` reuse runs the changed regions as windows (one per
            cluster, with its margin) only while they cost at most this fraction of a full
            pass's pixels, and a full pass otherwise. 0: any change is a full pass.
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

    reuse: str = "warped"
    theta: float = 1.0
    residual_theta: float = 0.7
    residual_level: int = 16
    flow_preset: str = "fine"
    max_window_fraction: float = 0.15
    accumulate: bool = True
    rows: int = 8
    cols: int = 12
    margin: int = 32
    keyframe_interval: int = 0
    keyframe_max_age_s: float = 2.0
    max_changed_fraction: float = 0.6
    batch_crops_only: bool = False

    @property
    def reads_residual(self) -> bool:
        """Whether ``warped`` reuse's gate reads what the motion leaves unexplained: not with
        ``residual_theta`` inf, where only the keyframe policy recomputes (the residual and
        its map are then not computed)."""
        return math.isfinite(self.residual_theta)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid field."""
        if self.reuse not in REUSE_RULES:
            raise ValueError(f"reuse must be one of {', '.join(REUSE_RULES)}, got {self.reuse!r}")
        if not (self.theta >= 0):  # also rejects NaN
            raise ValueError(f"theta must be >= 0 events per pixel, got {self.theta}")
        if not (self.residual_theta >= 0):
            raise ValueError(f"residual_theta must be >= 0 (a share of a region's pixels), "
                             f"got {self.residual_theta}")
        if not 0 <= self.residual_level <= 255:
            raise ValueError(f"residual_level must be in [0, 255] grey levels, "
                             f"got {self.residual_level}")
        if not 0.0 <= self.max_window_fraction <= 1.0:
            raise ValueError(f"max_window_fraction must be in [0, 1], "
                             f"got {self.max_window_fraction}")
        if self.flow_preset not in FLOW_PRESET_NAMES:
            raise ValueError(f"flow_preset must be one of {', '.join(FLOW_PRESET_NAMES)}, "
                             f"got {self.flow_preset!r}")
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"region grid must be at least 1 x 1, got {self.rows} x {self.cols}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0 pixels, got {self.margin}")
        if self.keyframe_interval < 0 or self.keyframe_max_age_s < 0:
            raise ValueError("keyframe_interval and keyframe_max_age_s must be >= 0")
        if not 0.0 <= self.max_changed_fraction <= 1.0:
            raise ValueError(f"max_changed_fraction must be in [0, 1], "
                             f"got {self.max_changed_fraction}")


#: The published rule: kept labels stay in place, a region recomputed when its events reach
#: theta per pixel, on a 4 x 6 grid with 16-pixel margins, no keyframe by age or changed share.
#: What ``ness eval sweep``'s static rows (with their command-line values) and the tests of the
#: static path run.
PUBLISHED_RULE = GatingConfig(reuse="static", theta=1.0, residual_theta=0.2, rows=4, cols=6,
                              margin=16, keyframe_max_age_s=0.0, max_changed_fraction=1.0)

#: A full pass every frame (the reference of speed-ups and of label reuse's losses).
FULL_PASS = replace(PUBLISHED_RULE, keyframe_interval=1)
