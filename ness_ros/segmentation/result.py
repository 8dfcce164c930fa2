"""What a segmenter returns for one frame: the mask and an account of the work it did."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass
class SegmentationResult:
    """One segmented frame.

    Attributes:
        mask: class ids (H, W) uint8 (255 = unlabelled).
        stamp_ns: stamp of the input frame or event window end, nanoseconds.
        keyframe: True when the whole frame was segmented in one pass.
        regions_recomputed: regions whose labels were computed again for this frame.
        regions_total: regions of the grid (1 for full-frame segmenters).
        pixels_computed: input pixels the model ran on, crops and margins included, and the
            zero padding to the model's stride (a full pass of the hybrid model counts the
            padded frame).
        stage_ms: wall time per stage in milliseconds (``represent``, ``motion``, ``gate``,
            ``inference``, ``paste``), always the same keys.
        reset: True when this frame reset the state (first frame, or time went backwards).
        fresh: (H, W) bool, the pixels whose labels were computed for this frame when only
            some were (None for a keyframe, and for a frame that computed nothing:
            ``regions_recomputed`` says which); offline evaluation replays it to measure what
            the same decisions would score with a perfect model.
    """

    mask: NDArray[np.uint8]
    stamp_ns: int
    keyframe: bool
    regions_recomputed: int
    regions_total: int
    pixels_computed: int
    stage_ms: dict[str, float] = field(default_factory=dict)
    reset: bool = False
    fresh: NDArray[np.bool_] | None = None

    @property
    def recomputed_fraction(self) -> float:
        """Fraction of the grid's regions computed again (1.0 for a keyframe)."""
        return self.regions_recomputed / self.regions_total if self.regions_total else 0.0
