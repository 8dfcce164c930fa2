"""Launch the ness_ros segmentation graph.

    ros2 launch ness_ros segmentation.launch.py mode:=hybrid source:=synthetic reuse:=static

Arguments (``ros2 launch ness_ros segmentation.launch.py --show-args``): mode (hybrid | events),
config (parameter file of the segmentation node), reuse (warped | static), theta,
guided_upsampling (true | false),
model, device (cpu | cuda), source
(none | synthetic | bag), bag (path, for source:=bag), event_message (auto | dvs | packet), the
input topic names image_topic / events_topic / labels_topic (relative by default), namespace
(every node in it; under an outer PushRosNamespace), seed and rate of the synthetic source,
loop (true | false: the synthetic source plays once and exits), evaluate (true | false),
report_dir (the evaluator's report.json and overlays.png, under the current directory by
default; empty: none) and use_sim_time.

With source:=bag the bag is checked before anything starts and played by ``ros2 bag play``,
or by ness_ros's own bag_player node where the ROS 2 command line is absent; with a namespace,
ros2 bag play's topics are remapped into it (an outer PushRosNamespace does not reach that
process; the bag_player node, a launch_ros Node, follows it).

The node graph itself comes from :func:`ness_ros.graph.segmentation_graph`, which ``ness demo``
also runs where the ROS 2 command line is absent, so both start the same nodes with the same
parameters and remappings.
"""

from __future__ import annotations

import os
from typing import Any

from ness_ros.graph import DEFAULT_REPORT_DIR, GRAPH_TOPICS

#: Launch arguments: name -> (default, description).
ARGUMENTS: dict[str, tuple[str, str]] = {
    "mode": ("hybrid", "hybrid (frames + events) or events (event-only model)"),
    "config": ("", "parameter file of the segmentation node (empty: the packaged "
                   "config/segmentation.yaml)"),
    "reuse": ("", "warped (kept labels follow the motion) or static (the published rule) "
                  "(empty: the config's)"),
    "theta": ("", "static reuse's change threshold in events per pixel (empty: the config's)"),
    "guided_upsampling": ("", "true: class scores upsampled along the frame's edges, false: "
                              "bilinear (empty: the config's)"),
    "model": ("", "model file (empty: the packaged default weights)"),
    "device": ("cpu", "cpu or cuda"),
    "source": ("synthetic", "none (external driver), synthetic (synthetic_camera) or bag"),
    "bag": ("", "rosbag2 folder to play when source:=bag (ros2 bag play, or ness_ros's own "
                "bag_player where the ROS 2 command line is absent)"),
    "event_message": ("auto", "auto (the events topic's type, found in the graph), dvs "
                              "(dvs_msgs/EventArray) or packet (EventPacket)"),
    "image_topic": (GRAPH_TOPICS["image"], "input image topic (relative: in the namespace)"),
    "events_topic": (GRAPH_TOPICS["events"], "input event topic (relative: in the namespace)"),
    "labels_topic": (GRAPH_TOPICS["labels"], "ground-truth label topic (evaluation)"),
    "namespace": ("", "namespace of every node of the graph (robot1: /robot1/camera/image, "
                      "/robot1/hybrid_segmentation/mask); under an outer PushRosNamespace"),
    "seed": ("1000", "seed of the synthetic sequence"),
    "rate": ("1.0", "playback rate of the synthetic source or the bag (1.0 = real time)"),
    "loop": ("true", "the synthetic source plays its sequence again and again (false: once, "
                     "then it exits)"),
    "evaluate": ("true", "run segmentation_evaluator against the labels"),
    "report_dir": (DEFAULT_REPORT_DIR, "folder of the evaluator's report.json and overlays.png, "
                                       "written at shutdown (relative: under the current "
                                       "directory; empty: none)"),
    "use_sim_time": ("false", "use /clock (bag playback)"),
}


def default_config() -> str:
    from ament_index_python.packages import get_package_share_directory

    return os.path.join(get_package_share_directory("ness_ros"), "config", "segmentation.yaml")


def nodes_for(values: dict[str, str]) -> list[Any]:
    """The graph's :class:`ness_ros.graph.NodeSpec` list for launch argument values (strings)."""
    from ness_ros.graph import segmentation_graph

    values = {name: values.get(name, default) for name, (default, _) in ARGUMENTS.items()}
    return segmentation_graph(
        mode=values["mode"], config=values["config"] or default_config(),
        theta=float(values["theta"]) if values["theta"] else None,
        reuse=values["reuse"] or None,
        guided_upsampling=(values["guided_upsampling"].lower() == "true"
                           if values["guided_upsampling"] else None), model=values["model"],
        device=values["device"], source=values["source"],
        event_message=values["event_message"], seed=int(values["seed"]),
        rate=float(values["rate"]), loop=values["loop"].lower() == "true",
        evaluate=values["evaluate"].lower() == "true", report_dir=values["report_dir"],
        bag=values["bag"],
        topics={"image": values["image_topic"], "events": values["events_topic"],
                "labels": values["labels_topic"]}, namespace=values["namespace"],
        use_sim_time=values["use_sim_time"].lower() == "true")


def generate_launch_description():
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def launch_graph(context):
        values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
        # A spec with a command line (ros2 bag play) is a process, every other one a node.
        return [ExecuteProcess(cmd=spec.command, name=spec.name, output="screen")
                if spec.command else
                Node(package=spec.package, executable=spec.executable, name=spec.name,
                     namespace=spec.namespace,
                     parameters=[*spec.parameter_files, spec.parameters],
                     remappings=spec.remappings, output="screen")
                for spec in nodes_for(values)]

    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, (default, description) in ARGUMENTS.items()]
        + [OpaqueFunction(function=launch_graph)])
