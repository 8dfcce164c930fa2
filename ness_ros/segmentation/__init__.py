"""Segmentation: the frame pipeline, model inputs, the event-only and hybrid segmenters and
their gating, evaluation (metrics: :mod:`ness_ros.metrics`). ROS-free.

The names below are imported on first use, so that light modules of the package (the gating
defaults the command line reads, say) load without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it.
_EXPORTS = {
    "FramePipeline": "pipeline", "RecordedEvents": "pipeline", "Segmenter": "pipeline",
    "HybridSegmenter": "hybrid", "EventSegmenter": "event_only",
    "GatingConfig": "gating_config", "FULL_PASS": "gating_config",
    "PUBLISHED_RULE": "gating_config", "RegionGate": "gating",
    "InputEncoder": "inputs", "SegmentationResult": "result",
    "WorkingResolution": "working_resolution", "SensorRescaler": "working_resolution",
    "WarpedLabels": "motion", "OnlineEvaluator": "online_eval",
    "evaluate_hybrid": "evaluation", "evaluate_events": "evaluation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
