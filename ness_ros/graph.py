"""One description of the node graph, shared by the launch file and ``ness demo``.

``launch/segmentation.launch.py`` turns it into launch_ros ``Node`` actions on a ROS 2 install;
where the ROS 2 command line is absent (PyPI wheels), :mod:`ness_ros.cli.demo_verb` starts the
same executables with the same parameters and remappings as processes. ROS-free.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "ness_ros"
MODES = ("hybrid", "events")
SOURCES = ("none", "synthetic", "bag")

#: Where the evaluator writes report.json and overlays.png unless told otherwise: relative, so
#: under the directory the graph is started from.
DEFAULT_REPORT_DIR = "runs/segmentation"

#: The camera topics of a graph with no namespace, as bags record them.
DEFAULT_TOPICS = {"image": "/camera/image", "events": "/camera/events",
                  "labels": "/camera/labels"}
#: The graph's input topics unless the caller names others: relative, so that a namespace (the
#: ``namespace`` argument, or an outer PushRosNamespace in a launch file) moves them with the
#: nodes; with no namespace they are :data:`DEFAULT_TOPICS`.
GRAPH_TOPICS = {key: name.lstrip("/") for key, name in DEFAULT_TOPICS.items()}

#: A ROS namespace: name tokens (a letter or underscore, then letters, digits, underscores)
#: joined by "/", optionally absolute.
_NAMESPACE = re.compile(r"/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass
class NodeSpec:
    """One node: which executable, its name, parameter files, parameters, remappings and
    namespace (empty: the one it is started in; a launch file's PushRosNamespace applies).

    ``command``, when set, is a whole command line that is not one of the package's nodes
    (``ros2 bag play``); it is run as it is, and the other fields but ``name`` do not apply.
    """

    executable: str
    name: str
    parameter_files: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    package: str = PACKAGE
    namespace: str = ""
    command: list[str] = field(default_factory=list)

    def ros_args(self) -> list[str]:
        """The ``--ros-args`` command line that ``ros2 run`` would pass."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:  # rcl takes only a fully qualified namespace here
            args += ["-r", f"__ns:=/{self.namespace.lstrip('/')}"]
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
                       source: str = "synthetic", bag: str | Path = "",
                       event_message: str = "auto",
                       seed: int = 1000, rate: float = 1.0, duration_s: float = 0.0,
                       loop: bool = True, evaluate: bool = True,
                       report_dir: str | Path = DEFAULT_REPORT_DIR,
                       topics: dict[str, str] | None = None, namespace: str = "",
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
        source: ``synthetic`` (the synthetic_camera node), ``bag`` (``bag`` played in real
            time, see :func:`bag_player`), or ``none`` (an external driver publishes the
            topics).
        bag: the rosbag2 folder that ``source`` ``bag`` plays; checked here, before any
            process starts.
        event_message: ``dvs``, ``packet`` or ``auto``, for the source and the segmentation node
            alike. ``auto``: the node takes the type of whatever publishes its events topic (an
            external driver's, the bag's; source ``bag`` always does), and the synthetic source
            publishes EventArrays.
        seed, rate, duration_s: synthetic source: sequence seed, playback rate (1.0 = real
            time; the bag's too), length in seconds (0: the source's default).
        loop: synthetic source: play the sequence again and again, stamps going on; False: it
            exits after one pass, which ends a run of
            :func:`ness_ros.graph_runner.run_until_source_ends`.
        evaluate: add the segmentation_evaluator, comparing masks with ground-truth labels.
        report_dir: the evaluator's folder for report.json and overlays.png, written at
            shutdown; a relative path is under the evaluator's working directory (the one the
            graph is started from); empty: no report.
        topics: input topic names, keys ``image``, ``events``, ``labels`` (default
            :data:`GRAPH_TOPICS`, relative; an absolute name stays where it is under a
            namespace).
        namespace: every node of the graph in this namespace (``robot1``: its masks on
            ``/robot1/hybrid_segmentation/mask``); in a launch file a relative one is under an
            outer PushRosNamespace. The nodes are wired to each other by relative names and the
            packaged parameter file is keyed ``/**/<node>``, so both hold in any namespace.
        use_sim_time: every node uses the /clock topic (bag playback with a clock).

    Raises:
        ValueError: a bad argument, named with its value, or a bag that is missing, empty or
            unreadable.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if namespace.rstrip("/") and not _NAMESPACE.fullmatch(namespace.rstrip("/")):
        raise ValueError(f"namespace must be name tokens (a letter or _, then letters, digits "
                         f"or _) joined by '/', got {namespace!r}")
    namespace = namespace.rstrip("/")
    topics = {**GRAPH_TOPICS, **(topics or {})}
    segmenter = "hybrid_segmentation" if mode == "hybrid" else "event_segmentation"
    if event_message not in ("auto", "dvs", "packet"):
        raise ValueError(f"event_message must be auto, dvs or packet, got {event_message!r}")
    camera_message = "dvs" if event_message == "auto" else event_message
    params: dict[str, Any] = {
        "device": device, "use_sim_time": use_sim_time,
        "event_message": camera_message if source == "synthetic" else event_message}
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
    player = None
    if source == "bag":
        # What the graph subscribes: the hybrid node frames and events, the event-only node
        # (trigger period) events; the evaluator labels and frames.
        needs = ("image", "events") if mode == "hybrid" else ("events",)
        listened = {*needs, *(("image", "labels") if evaluate else ())}
        player = bag_player(bag, topics=topics, needs=needs, listened=sorted(listened),
                            rate=rate, clock=use_sim_time, namespace=namespace)
        # The bag's event type, EventArray or EventPacket, is whatever it recorded: the node
        # takes it from the player's publisher (the nodes' auto).
        params["event_message"] = "auto"
    nodes = [NodeSpec(segmenter, segmenter, [str(config)] if config else [], params,
                      [("image", topics["image"]), ("events", topics["events"])])]
    if source == "synthetic":
        camera: dict[str, Any] = {"seed": seed, "rate": rate, "event_message": camera_message,
                                  "loop": bool(loop), "use_sim_time": use_sim_time}
        if duration_s:
            camera["duration_s"] = float(duration_s)
        nodes.append(NodeSpec("synthetic_camera", "synthetic_camera", [], camera,
                              [("image", topics["image"]), ("events", topics["events"]),
                               ("labels", topics["labels"])]))
    if evaluate and source != "none":
        nodes.append(NodeSpec("segmentation_evaluator", "segmentation_evaluator", [],
                              {"use_sim_time": use_sim_time, "report_dir": str(report_dir)},
                              [("mask", f"{segmenter}/mask"), ("labels", topics["labels"]),
                               ("latency", f"{segmenter}/latency"),
                               ("label_info", f"{segmenter}/label_info"),
                               ("image", topics["image"])]))
    for node in nodes:
        node.namespace = namespace
    return nodes + ([player] if player else [])


def ros2_bag_available() -> bool:
    """True where ``ros2 bag`` can run: the ``ros2`` command on PATH and its bag verb
    (ros2bag) importable. The PyPI wheels have neither."""
    return shutil.which("ros2") is not None and importlib.util.find_spec("ros2bag") is not None


def bag_player(bag: str | Path, *, topics: dict[str, str] | None = None,
               needs: Sequence[str] = ("image", "events"),
               listened: Sequence[str] = ("image", "events", "labels"), rate: float = 1.0,
               clock: bool = False, namespace: str = "") -> NodeSpec:
    """What plays ``bag`` in real time (times ``rate``), its messages with their stamps:
    ``ros2 bag play`` where :func:`ros2_bag_available`, else ness_ros's own ``bag_player``
    node (:mod:`ness_ros.ros.bag_player_node`). ``clock``: publish /clock from the bag's times.

    The bag's camera topics (found by :func:`ness_ros.bag.reader.resolve_topics` under the
    graph's ``topics`` names, default :data:`GRAPH_TOPICS`; a lone event topic of another name
    is taken) are played on the graph's input topics, in ``namespace``; its other topics under
    their recorded names, in ``namespace``. The own player waits for subscribers on the
    ``listened`` camera topics only (the graph subscribes no others).

    Raises:
        ValueError: one line: no bag given, no such path, not a rosbag2 folder, unreadable, no
            messages in it, or a topic the graph ``needs`` missing or of another type.
    """
    if not str(bag).strip():
        raise ValueError("source bag needs the path of a rosbag2 folder (bag:=<path>); "
                         "none was given")
    path = Path(bag).expanduser().resolve()
    if not path.exists():
        raise ValueError(f"bag {path} does not exist")
    from ness_ros.bag.errors import BagError
    from ness_ros.bag.reader import bag_info, resolve_topics

    topics = {**GRAPH_TOPICS, **(topics or {})}
    try:
        info = bag_info(path)
        found = resolve_topics(info, **{key: "/" + name.lstrip("/")
                                        for key, name in topics.items()})
    except BagError as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc
    if not info.message_count:
        raise ValueError(f"bag {path} holds no messages")
    camera = {key: getattr(found, key) for key in ("image", "events", "labels")
              if getattr(found, key) is not None}
    missing = [key for key in needs if key not in camera]
    if missing:
        raise ValueError(f"bag {path} has no {' and no '.join(missing)} topic "
                         f"({', '.join('/' + topics[k].lstrip('/') for k in missing)}); its "
                         f"topics: {', '.join(sorted(info.topics)) or 'none'}")
    prefix = "/" + namespace.strip("/") if namespace.strip("/") else ""

    def resolved(name: str) -> str:  # a graph topic name as the graph's nodes resolve it
        return name if name.startswith("/") else f"{prefix}/{name}"

    if ros2_bag_available():
        command = ["ros2", "bag", "play", str(path), "--rate", repr(float(rate))]
        if clock:
            command.append("--clock")
        # ros2 bag play publishes the recorded names: remapped onto the graph's inputs, the
        # other topics into the namespace.
        targets = {recorded: resolved(topics[key]) for key, recorded in camera.items()}
        targets.update({recorded: prefix + recorded for recorded in info.topics
                        if recorded not in targets})
        remaps = [f"{a}:={b}" for a, b in targets.items() if a != b]
        if remaps:
            command += ["--remap", *remaps]
        return NodeSpec("ros2", "bag_player", namespace=namespace, command=command)
    # The own player publishes by relative names (in its namespace); ROS remapping puts the
    # camera topics on the graph's inputs.
    wait_for = ",".join(camera[key] for key in listened if key in camera)
    return NodeSpec("bag_player", "bag_player", [],
                    {"bag": str(path), "rate": float(rate), "clock": bool(clock),
                     "wait_for": wait_for},
                    [(recorded.lstrip("/"), topics[key]) for key, recorded in camera.items()
                     if recorded.lstrip("/") != topics[key]],
                    namespace=namespace)
