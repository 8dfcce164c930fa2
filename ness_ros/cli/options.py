"""Command-line options that several verbs share."""

from __future__ import annotations

import argparse
from typing import Any


def add_upsampling_option(parser: argparse.ArgumentParser) -> None:
    """``--upsampling guided|bilinear``: how the hybrid segmenter upsamples the head's scores."""
    parser.add_argument("--upsampling", choices=("guided", "bilinear"), default="bilinear",
                        help="hybrid model: the model's bilinear logits (the nodes' default) "
                             "or class scores upsampled along the frame's edges (guided)")


def upsampling(args: argparse.Namespace) -> Any:
    """The :class:`~ness_ros.segmentation.guided.GuidedUpsampling` that ``--upsampling`` asks
    for, or None."""
    from ness_ros.segmentation.guided import DEFAULT_GUIDED

    return DEFAULT_GUIDED if args.upsampling == "guided" else None
