"""One description of the node graph, shared by the launch file and ``ness demo``.

``launch/segmentation.launch.py`` turns it into launch_ros ``Node`` actions on a ROS 2 install;
where the ROS 2 command line is absent (PyPI wheels), :mod:`ness_ros.cli.demo_verb` starts the
same executables with the same parameters and remappings as processes. ROS-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "ness_ros"
MODES = ("hybrid", "events")
SOURCES = ("none", "synthetic", "bag")

#: Where the evaluator writes report.json and overlays.png unless told otherwise: relative, so
#: under the directory the graph is started from.
DEFAULT_REPORT_DIR = "runs/segmentation"

#: Topic names the graph uses unless remapped by the caller.
DEFAULT_TOPICS = {"image": "/camera/image", "events": "/camera/events",
                  "labels": "/camera/labels"}


@dataclass
class NodeSpec:
    """One node: which executable, its name, parameter files, parameters and remappings."""

    executable: str
    name: str
    parameter_files: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    package: str = PACKAGE

    def ros_args(self) -> list[str]:
        """The ``--ros-args`` command line that ``ros2 run`` would pass."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        for path in self.parameter_files:
            args += ["--params-file", path]
        for key, value in self.parameters.items():
            args += ["-p", f"{key}:={_param_text(value)}"]
        for source, target in self.remappings:
            args += ["-r", f"{source}:={target}"]
        return args


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    return repr(value)


def segmentation_graph(*, mode: str = "hybrid", config: str | Path | None = None,
                       theta: float | None = None, reuse: str | None = None,
                       guided_upsampling: bool | None = None,
                       model: str = "", device: str = "cpu",
                       source: str = "synthetic", event_message: str = "dvs",
                       seed: int = 1000, rate: float = 1.0, duration_s: float = 0.0,
                       loop: bool = True, evaluate: bool = True,
                       report_dir: str | Path = DEFAULT_REPORT_DIR,
                       topics: dict[str, str] | None = None,
                       use_sim_time: bool = False) -> list[NodeSpec]:
    """The nodes of ``segmentation.launch.py`` for the given arguments.

    Args:
        mode: ``hybrid`` (frames + events) or ``events`` (event-only model).
        config: parameter file of the segmentation node (default: the packaged
            ``config/segmentation.yaml`` is given by the caller, who knows where it lives).
        theta: overrides the config's change threshold of static reuse (hybrid mode).
        reuse: overrides the config's rule of label reuse, ``warped`` or ``static`` (hybrid
            mode).
        guided_upsampling: overrides the config's ``guided_upsampling`` (hybrid mode; the
            event-only model has no frame to guide it).
        model, device: segmentation node parameters (empty model: packaged default).
        source: ``synthetic`` (the synthetic_camera node), ``bag`` (the caller plays a bag),
            or ``none`` (an external driver publishes the topics).
        event_message: ``dvs`` or ``packet``, for the source and the segmentation node alike.
        seed, rate, duration_s: synthetic source: sequence seed, playback rate (1.0 = real
            time), length in seconds (0: the source's default).
        loop: synthetic source: play the sequence again and again, stamps going on; False: it
            exits after one pass, which ends a run of
            :func:`ness_ros.graph_runner.run_until_source_ends`.
        evaluate: add the segmentation_evaluator, comparing masks with ground-truth labels.
        report_dir: the evaluator's folder for report.json and overlays.png, written at
            shutdown; a relative path is under the evaluator's working directory (the one the
            graph is started from); empty: no report.
        topics: input topic names, keys ``image``, ``events``, ``labels``.
        use_sim_time: every node uses the /clock topic (bag playback with a clock).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    topics = {**DEFAULT_TOPICS, **(topics or {})}
    segmenter = "hybrid_segmentation" if mode == "hybrid" else "event_segmentation"
    params: dict[str, Any] = {"device": device, "event_message": event_message,
                              "use_sim_time": use_sim_time}
    if model:
        params["model"] = model
    if theta is not None and mode == "hybrid":
        params["theta"] = float(theta)
    if reuse is not None and mode == "hybrid":
        from ness_ros.segmentation.gating_config import REUSE_RULES

        if reuse not in REUSE_RULES:
            raise ValueError(f"reuse must be one of {REUSE_RULES}, got {reuse!r}")
        params["reuse"] = reuse
    if guided_upsampling is not None:
        if mode != "hybrid" and guided_upsampling:
            from ness_ros.segmentation.guided import NEEDS_FRAMES

            raise ValueError(NEEDS_FRAMES)
        if mode == "hybrid":
            params["guided_upsampling"] = bool(guided_upsampling)
    if mode == "events":
        params["trigger"] = "frame" if source == "synthetic" else "period"
    nodes = [NodeSpec(segmenter, segmenter, [str(config)] if config else [], params,
                      [("image", topics["image"]), ("events", topics["events"])])]
    if source == "synthetic":
        camera: dict[str, Any] = {"seed": seed, "rate": rate, "event_message": event_message,
                                  "loop": bool(loop), "use_sim_time": use_sim_time}
        if duration_s:
            camera["duration_s"] = float(duration_s)
        nodes.append(NodeSpec("synthetic_camera", "synthetic_camera", [], camera,
                              [("image", topics["image"]), ("events", topics["events"]),
                               ("labels", topics["labels"])]))
    if evaluate and source != "none":
        nodes.append(NodeSpec("segmentation_evaluator", "segmentation_evaluator", [],
                              {"use_sim_time": use_sim_time, "report_dir": str(report_dir)},
                              [("mask", f"/{segmenter}/mask"), ("labels", topics["labels"]),
                               ("latency", f"/{segmenter}/latency"),
                               ("image", topics["image"])]))
    return nodes
