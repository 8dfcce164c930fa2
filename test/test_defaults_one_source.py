"""One source for each default: the core's dataclasses and signatures. The nodes' parameter
tables, config/segmentation.yaml and the offline evaluation's options are checked against them
(the gating's: test_launch_graph.py::test_the_nodes_gating_defaults_have_one_source)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from ness_ros.bag.offline import EvalOptions
from ness_ros.events.stream import EventStream
from ness_ros.ros.event_node import EventSegmentationNode
from ness_ros.ros.hybrid_node import HybridSegmentationNode
from ness_ros.ros.node_params import COMMON_PARAMS
from ness_ros.segmentation.pipeline import FramePipeline
from ness_ros.segmentation.working_resolution import EVENT_ONLY_MAX_PIXELS, WorkingResolution

REPO_ROOT = Path(__file__).resolve().parents[1]
NODES = {"/**/hybrid_segmentation": HybridSegmentationNode,
         "/**/event_segmentation": EventSegmentationNode}


def declared(node: type) -> dict[str, object]:
    return {spec.name: spec.default for spec in COMMON_PARAMS + node.extra_params}


@pytest.mark.parametrize("section", sorted(NODES))
def test_every_parameter_of_the_yaml_is_the_nodes_default(section):
    """config/segmentation.yaml documents the defaults: every value in it is the declared
    default, of the same type (ROS types parameters by their default)."""
    params = yaml.safe_load((REPO_ROOT / "config" / "segmentation.yaml").read_text())[section][
        "ros__parameters"]
    defaults = declared(NODES[section])
    assert set(params) <= set(defaults), set(params) - set(defaults)
    for name, value in params.items():
        assert value == defaults[name] and type(value) is type(defaults[name]), name


def test_event_intake_and_working_resolution_defaults_are_the_cores():
    stream = {name: p.default for name, p in inspect.signature(EventStream).parameters.items()}
    pipeline = {name: p.default
                for name, p in inspect.signature(FramePipeline).parameters.items()}
    working = WorkingResolution()
    for node in NODES.values():
        params = declared(node)
        assert params["event_buffer_max_events"] == stream["max_events"]
        assert params["event_buffer_seconds"] == stream["max_seconds"]
        assert params["max_event_skew_s"] == stream["max_skew_s"]
        assert params["live_stamp_tolerance_s"] == stream["live_tolerance_s"]
        assert params["live_stamp_tolerance_s"] == pipeline["live_tolerance_s"]
        assert params["working_size"] == working.size
        assert params["mask_resolution"] == working.mask_at
        assert params["roi_width"] == params["roi_height"] == 0  # the whole sensor
    assert declared(HybridSegmentationNode)["working_max_pixels"] == working.max_pixels == 0
    assert declared(EventSegmentationNode)["working_max_pixels"] == EVENT_ONLY_MAX_PIXELS
    offline = EvalOptions()
    assert offline.event_buffer_seconds == stream["max_seconds"]
    assert offline.event_buffer_max_events == stream["max_events"]
    assert offline.working == working
