"""The launch file and ``ness demo`` start the same graph from one description."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path

import pytest

from conftest import REPO_ROOT, SHARED_DATA
from ness_ros.bag import IMAGE_TYPE, BagWriter
from ness_ros.cli.demo_verb import demo_graph
from ness_ros.graph import DEFAULT_REPORT_DIR, ros2_bag_available, segmentation_graph


def launch_module():
    path = REPO_ROOT / "launch" / "segmentation.launch.py"
    spec = importlib.util.spec_from_file_location("segmentation_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo_args(**overrides) -> argparse.Namespace:
    values = dict(mode="hybrid", duration=20.0, theta=None, reuse=None, seed=1000,
                  event_message="dvs",
                  model="", size=None, rate=1.0, upsampling=None)
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.mark.parametrize(("mode", "guided"), [("hybrid", ""), ("events", ""),
                                             ("hybrid", "true"), ("hybrid", "false")])
def test_launch_file_and_demo_agree(mode, guided, tmp_path):
    launch = launch_module()
    from_launch = launch.nodes_for({"mode": mode, "seed": "1000", "guided_upsampling": guided})
    upsampling = {"": None, "true": "guided", "false": "bilinear"}[guided]
    from_demo = demo_graph(demo_args(mode=mode, upsampling=upsampling), tmp_path)
    if guided:
        assert from_launch[0].parameters["guided_upsampling"] == (guided == "true")
    assert [s.name for s in from_launch] == [s.name for s in from_demo]
    for a, b in zip(from_launch, from_demo, strict=True):
        assert a.executable == b.executable and a.remappings == b.remappings
        assert [Path(p).resolve() for p in a.parameter_files] == \
            [Path(p).resolve() for p in b.parameter_files]
        # The demo sets its report folder, the length of its drive and one pass, nothing else.
        extra = {"report_dir", "duration_s", "loop"}
        assert {k: v for k, v in a.parameters.items() if k not in extra} == \
            {k: v for k, v in b.parameters.items() if k not in extra}


def test_report_dir_and_loop_are_launch_arguments_the_demo_overrides(tmp_path):
    """The launch file's defaults come from ness_ros.graph: a looping source and a report under
    the current directory; the demo plays once and reports to its --out."""
    launch = launch_module()
    assert launch.ARGUMENTS["report_dir"][0] == DEFAULT_REPORT_DIR
    assert launch.ARGUMENTS["loop"][0] == "true"
    camera, evaluator = launch.nodes_for({})[1:]
    assert camera.parameters["loop"] is True
    assert evaluator.parameters["report_dir"] == DEFAULT_REPORT_DIR
    assert not Path(DEFAULT_REPORT_DIR).is_absolute()
    camera, evaluator = launch.nodes_for({"loop": "false", "report_dir": "/data/r1"})[1:]
    assert camera.parameters["loop"] is False and evaluator.parameters["report_dir"] == "/data/r1"
    assert "report_dir:=''" in launch.nodes_for({"report_dir": ""})[2].ros_args()  # no report
    camera, evaluator = demo_graph(demo_args(), tmp_path / "out")[1:]
    assert camera.parameters["loop"] is False
    assert evaluator.parameters["report_dir"] == str((tmp_path / "out").resolve())


def test_graph_arguments_reach_the_nodes():
    nodes = segmentation_graph(mode="hybrid", config="c.yaml", theta=2.5, source="synthetic",
                               event_message="packet",
                               topics={"image": "/cam/rgb", "events": "/cam/ev",
                                       "labels": "/cam/gt"})
    seg, camera, evaluator = nodes
    assert seg.parameters["theta"] == 2.5 and seg.parameters["event_message"] == "packet"
    assert ("image", "/cam/rgb") in seg.remappings and ("events", "/cam/ev") in seg.remappings
    assert camera.parameters["event_message"] == "packet"
    assert ("labels", "/cam/gt") in evaluator.remappings
    args = seg.ros_args()
    assert args[:3] == ["--ros-args", "-r", "__node:=hybrid_segmentation"]
    assert "theta:=2.5" in args and "--params-file" in args
    assert "guided_upsampling" not in seg.parameters  # the config file's value stands
    guided = segmentation_graph(mode="hybrid", guided_upsampling=True)[0]
    assert "guided_upsampling:=true" in guided.ros_args()
    static = segmentation_graph(mode="hybrid", reuse="static")[0]
    assert "reuse:=static" in static.ros_args()
    with pytest.raises(ValueError, match="reuse"):
        segmentation_graph(mode="hybrid", reuse="dynamic")
    # By default the node finds an external driver's event type; the synthetic source sends
    # EventArrays and its node is told so.
    external = segmentation_graph(mode="hybrid", source="none")[0]
    assert external.parameters["event_message"] == "auto"
    seg, camera, _ = segmentation_graph(mode="hybrid", source="synthetic")
    assert seg.parameters["event_message"] == camera.parameters["event_message"] == "dvs"
    with pytest.raises(ValueError, match="event_message"):
        segmentation_graph(mode="hybrid", event_message="array")
    with pytest.raises(ValueError, match="mode"):
        segmentation_graph(mode="fast")
    with pytest.raises(ValueError, match="event-only"):
        segmentation_graph(mode="events", guided_upsampling=True)


def test_a_namespace_moves_the_whole_graph():
    """Every node gets the namespace; the nodes are wired to each other by relative names, so
    the evaluator listens to its own graph's masks in whatever namespace it runs."""
    launch = launch_module()
    for nodes in (launch.nodes_for({"namespace": "robot1"}),
                  segmentation_graph(namespace="robot1/")):
        assert [s.namespace for s in nodes] == ["robot1"] * 3
        seg, camera, evaluator = nodes
        assert seg.ros_args()[3:5] == ["-r", "__ns:=/robot1"]
        assert dict(evaluator.remappings) == {
            "mask": "hybrid_segmentation/mask", "latency": "hybrid_segmentation/latency",
            "label_info": "hybrid_segmentation/label_info", "labels": "camera/labels",
            "image": "camera/image"}
        assert dict(seg.remappings) == {"image": "camera/image", "events": "camera/events"}
        assert not any(target.startswith("/") for s in nodes for _, target in s.remappings)
    assert "__ns:=/a/b" in segmentation_graph(namespace="/a/b")[0].ros_args()
    assert not any(a.startswith("__ns") for a in segmentation_graph()[0].ros_args())
    events = segmentation_graph(mode="events", namespace="r2")[-1]
    assert ("mask", "event_segmentation/mask") in events.remappings
    for bad in ("1robot", "robot-1", "a//b", "robot 1"):
        with pytest.raises(ValueError, match="namespace"):
            segmentation_graph(namespace=bad)


def test_parameter_file_applies_in_any_namespace():
    """rcl matches ``/**/<node>`` in every namespace; a bare node name matches only at the
    root, where a namespaced node would silently take none of the file."""
    import yaml

    data = yaml.safe_load((REPO_ROOT / "config" / "segmentation.yaml").read_text())
    assert set(data) == {"/**/hybrid_segmentation", "/**/event_segmentation"}
    assert all(set(section) == {"ros__parameters"} for section in data.values())


def test_launch_description_builds_with_launch_ros():
    """Only where launch_ros exists (a ROS 2 install); the PyPI wheels have no launch."""
    pytest.importorskip("launch_ros")
    description = launch_module().generate_launch_description()
    names = [getattr(e, "name", None) for e in description.entities]
    assert "mode" in names and "theta" in names


def test_the_nodes_gating_defaults_have_one_source():
    """GatingConfig()'s defaults are the hybrid node's gating: its parameter table,
    config/segmentation.yaml, the argparse defaults of ness bag eval and replay and those of
    ness eval sweep's warped rows (and keyframe policy) may not drift from them."""
    import yaml

    from ness_ros.cli.main import build_parser
    from ness_ros.ros.hybrid_node import GATING_PARAMS, HybridSegmentationNode
    from ness_ros.segmentation.gating_config import GatingConfig

    node = GatingConfig()
    assert node.reuse == "warped"
    params = yaml.safe_load((REPO_ROOT / "config" / "segmentation.yaml").read_text())[
        "/**/hybrid_segmentation"]["ros__parameters"]
    declared = {spec.name: spec.default for spec in HybridSegmentationNode.extra_params}
    for name, field in GATING_PARAMS.items():
        assert declared[name] == getattr(node, field), name
        assert type(declared[name]) is type(getattr(node, field)), name  # ROS types them
        assert params[name] == getattr(node, field), name

    parser = build_parser()
    for verb in ("eval", "replay"):
        args = parser.parse_args(["bag", verb, "somewhere"])
        cli = {"reuse": args.reuse, "theta": args.theta, "residual_theta": args.residual_theta,
               "rows": args.grid[0], "cols": args.grid[1], "margin": args.margin,
               "keyframe_interval": args.keyframe_interval,
               "keyframe_max_age_s": args.keyframe_max_age,
               "max_changed_fraction": args.max_changed_fraction}
        assert cli == {field: getattr(node, field) for field in cli}, verb
    sweep = parser.parse_args(["eval", "sweep"])
    warped = {"rows": sweep.warped_grid[0], "cols": sweep.warped_grid[1],
              "margin": sweep.warped_margin, "keyframe_max_age_s": sweep.keyframe_max_age,
              "max_changed_fraction": sweep.max_changed_fraction,
              "accumulate": sweep.change_since == "region"}
    assert warped == {field: getattr(node, field) for field in warped}
    assert node.residual_theta in sweep.residual_thetas


REAL_BAG = SHARED_DATA / "evt3_event_camera_py"  # a real rosbag2 folder, only read here


def no_ros2_cli(monkeypatch, tmp_path) -> None:
    """PATH without a ``ros2`` command, as in a shell whose ROS was not sourced."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_bag_source_without_the_ros_cli_plays_through_the_own_player(monkeypatch, tmp_path):
    """The real bag holds EventPackets on /event_camera/events only: the event-only graph
    takes that lone event topic, and the player is remapped onto the graph's input."""
    no_ros2_cli(monkeypatch, tmp_path)
    assert not ros2_bag_available()
    launch = launch_module()
    nodes = launch.nodes_for({"mode": "events", "source": "bag", "bag": str(REAL_BAG),
                              "rate": "0.5", "namespace": "robot1", "use_sim_time": "true"})
    assert [s.name for s in nodes] == ["event_segmentation", "segmentation_evaluator",
                                       "bag_player"]
    player = nodes[-1]
    assert player.executable == "bag_player" and not player.command
    assert player.parameters == {"bag": str(REAL_BAG.resolve()), "rate": 0.5, "clock": True,
                                 "wait_for": "/event_camera/events"}
    assert player.remappings == [("event_camera/events", "camera/events")]
    assert player.namespace == "robot1" and "__ns:=/robot1" in player.ros_args()
    assert nodes[0].parameters["event_message"] == "auto"  # EventPackets, as the bag has
    absolute = segmentation_graph(mode="events", source="bag", bag=REAL_BAG,
                                  topics={"events": "/event_camera/events"})[-1]
    assert absolute.remappings == [("event_camera/events", "/event_camera/events")]
    assert "bag_player = ness_ros.ros.bag_player_node:main" in \
        (REPO_ROOT / "setup.py").read_text()


def test_bag_source_with_ros2_bag_uses_it_remapped_onto_the_graph(monkeypatch, tmp_path):
    """Where ``ros2`` and its bag verb exist (a fake pair here), ``ros2 bag play`` plays the
    bag, its recorded topics remapped onto the graph's inputs in its namespace."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ros2").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "ros2").chmod(0o755)
    (tmp_path / "ros2bag").mkdir()
    (tmp_path / "ros2bag" / "__init__.py").write_text("")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert ros2_bag_available()
    player = segmentation_graph(mode="events", source="bag", bag=REAL_BAG,
                                namespace="robot1")[-1]
    assert player.command[:6] == ["ros2", "bag", "play", str(REAL_BAG.resolve()), "--rate",
                                  "1.0"]
    assert player.command[6:] == ["--remap", "/event_camera/events:=/robot1/camera/events"]
    plain = segmentation_graph(mode="events", source="bag", bag=REAL_BAG, use_sim_time=True,
                               topics={"events": "/event_camera/events"})[-1]
    assert plain.command[6:] == ["--clock"]


def test_a_missing_empty_or_unreadable_bag_is_one_clear_error(tmp_path):
    launch = launch_module()
    with pytest.raises(ValueError, match=r"^source bag needs the path of a rosbag2 folder"):
        launch.nodes_for({"source": "bag", "bag": ""})
    with pytest.raises(ValueError, match=r"^bag .*nowhere does not exist$"):
        segmentation_graph(source="bag", bag=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="is not a rosbag2 folder"):
        segmentation_graph(source="bag", bag=tmp_path)
    empty = tmp_path / "empty"
    with BagWriter(empty) as writer:
        writer.add_topic("/camera/image", IMAGE_TYPE)
    with pytest.raises(ValueError, match="holds no messages"):
        segmentation_graph(source="bag", bag=empty)
    broken = tmp_path / "broken"
    shutil.copytree(REAL_BAG, broken)
    (broken / "metadata.yaml").write_text("rosbag2_bagfile_information: [\n")
    with pytest.raises(ValueError, match="cannot read the bag") as error:
        segmentation_graph(source="bag", bag=broken)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=r"has no image topic \(/camera/image\); its topics: "
                                         r"/event_camera/events$"):
        segmentation_graph(mode="hybrid", source="bag", bag=REAL_BAG)
