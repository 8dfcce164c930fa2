"""Command-line options that several verbs and benchmarks share (ROS-free; the CLI and
:mod:`ness_ros.bench` both import it)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ness_ros.segmentation.guided import GuidedUpsampling


def add_upsampling_option(parser: argparse.ArgumentParser) -> None:
    """``--upsampling guided|bilinear``: how the hybrid segmenter upsamples the head's scores."""
    parser.add_argument("--upsampling", choices=("guided", "bilinear"), default="bilinear",
                        help="hybrid model: the model's bilinear logits (the nodes' default) "
                             "or class scores upsampled along the frame's edges (guided)")


def upsampling(args: argparse.Namespace, *, hybrid: bool = True) -> GuidedUpsampling | None:
    """The :class:`~ness_ros.segmentation.guided.GuidedUpsampling` that ``--upsampling`` asks
    for, or None; ValueError when it is asked of an event-only run (``hybrid`` False)."""
    from ness_ros.segmentation.guided import DEFAULT_GUIDED, NEEDS_FRAMES

    if args.upsampling != "guided":
        return None
    if not hybrid:
        raise ValueError(NEEDS_FRAMES)
    return DEFAULT_GUIDED
