"""Live replay evaluation: a bag's messages into the ROS graph, a segmentation node in its own
process, its masks and timings back. The only module of :mod:`ness_ros.bag` that imports rclpy.

Messages are published at ``rate`` times their recorded pace as the raw CDR bytes read from the
bag (``publisher.publish(bytes)``: nothing is rebuilt message by message). The node
(``hybrid_segmentation`` or ``event_segmentation``, the installed executable) is started with
:class:`~ness_ros.graph_runner.GraphProcesses`; publishing starts once it subscribes to the
inputs and publishes ``~/mask``. Latency is the time from publishing an input to receiving its
mask (see :mod:`ness_ros.bag.live_stats`); masks are matched with the bag's labels by stamp.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from ness_msgs.msg import SegmentationLatency
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image
from tqdm import tqdm

from ness_ros.bag.errors import BagError
from ness_ros.bag.live_stats import PublishLog, ReplayTally
from ness_ros.bag.reader import BagTopics, bag_info, read_messages
from ness_ros.bag.replay_report import replay_report
from ness_ros.bag.report import BagReport, events_image
from ness_ros.domain import isolate_this_process
from ness_ros.events.cdr import CdrReader
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import decode_image_cdr, to_mono8
from ness_ros.graph import NodeSpec
from ness_ros.graph_runner import GraphProcesses
from ness_ros.ros.qos import OUTPUT_QOS, SENSOR_QOS
from ness_ros.segmentation.inputs_stream import EventStream, decode_frame

NODES = {"hybrid": "hybrid_segmentation", "events": "event_segmentation"}


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    Attributes:
        mode: ``hybrid`` or ``events``.
        rate: playback rate, 1.0 = the recorded pace (faster allowed).
        model: model file for the node (empty: its packaged default).
        device: the node's torch device.
        node_params: further node parameters (gating, event_wait_s, ...), passed as ``-p``.
        node_env: environment variables of the node process (e.g. ``OMP_NUM_THREADS``).
        period_s: event-only node without frames in the bag: its segmentation period, s.
        startup_timeout_s: longest wait for the node to come up, s.
        drain_s: after the last input, stop when no mask came for this long, s.
        overlay_count: rows of the overlay strip.
        log_dir: folder of the node's log.
        progress: show a progress bar.
    """

    mode: str = "hybrid"
    rate: float = 1.0
    model: str = ""
    device: str = "cpu"
    node_params: dict[str, Any] = field(default_factory=dict)
    node_env: dict[str, str] = field(default_factory=dict)
    period_s: float = 0.05
    startup_timeout_s: float = 120.0
    drain_s: float = 2.0
    overlay_count: int = 4
    log_dir: Path = Path("runs/bag_replay/logs")
    progress: bool = True


def node_spec(topics: BagTopics, options: ReplayOptions) -> NodeSpec:
    """The segmentation node for this bag: parameters and input remappings."""
    name = NODES[options.mode]
    params: dict[str, Any] = {"device": options.device, "diagnostics_period_s": 0.5,
                              "event_message": topics.event_message or "dvs"}
    if options.model:
        params["model"] = str(Path(options.model).resolve())
    if options.mode == "events":
        params["trigger"] = "frame" if topics.image else "period"
        params["period_s"] = float(options.period_s)
    params.update(options.node_params)
    remap = [("events", topics.events or "/camera/events")]
    if topics.image:
        remap.append(("image", topics.image))
    return NodeSpec(name, name, [], params, remap)


def replay_bag(path: str | Path, topics: BagTopics, options: ReplayOptions) -> BagReport:
    """Replay the bag at ``path`` through the node; see the module docstring.

    Raises:
        BagError: bad options, a topic the mode needs is missing, or the node failed.
    """
    if options.mode not in NODES:
        raise BagError(f"mode must be one of {', '.join(NODES)}, got {options.mode!r}")
    if not options.rate > 0:
        raise BagError(f"rate must be positive, got {options.rate}")
    if topics.events is None or (options.mode == "hybrid" and topics.image is None):
        raise BagError(f"{path}: {options.mode} mode needs "
                       f"{'frames and events' if options.mode == 'hybrid' else 'events'}; "
                       f"the bag has {', '.join(topics.names()) or 'neither'}")
    info = bag_info(path)
    spec = node_spec(topics, options)
    by_frame = topics.image is not None
    expected = topics.counts[topics.image] if by_frame else None
    stream = EventStream(topics.event_message or "dvs")
    stream_lock = threading.Lock()
    window_ns = _event_window_ns(options)

    def picture(stamp_ns: int):
        with stream_lock:
            events = stream.query(stamp_ns - window_ns, stamp_ns)
        return None if events is None else events_image(events)

    log = PublishLog()
    spacing = int(info.duration_s * 1e9 / (max(0, options.overlay_count) + 1))
    tally = ReplayTally(log, by_frame=by_frame, picture=picture, overlay_spacing_ns=spacing,
                        overlay_count=options.overlay_count)
    isolate_this_process()  # the node and this process: one domain of their own, this host
    context = rclpy.Context()
    rclpy.init(context=context)
    graph = GraphProcesses([spec], options.log_dir,
                           env={"PYTHONUNBUFFERED": "1", **options.node_env})
    spinning = None
    try:
        node = rclpy.create_node("ness_bag_replay", context=context)
        pubs = {topics.events: node.create_publisher(
            EventArray if topics.event_message == "dvs" else EventPacket, topics.events,
            SENSOR_QOS)}
        for topic in (topics.image, topics.labels):
            if topic:
                pubs[topic] = node.create_publisher(Image, topic, SENSOR_QOS)
        _listen(node, spec.name, tally)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        spinning = threading.Thread(target=_spin, args=(executor, context), daemon=True)
        spinning.start()
        graph.start()
        needed = [pubs[topics.events]] + ([pubs[topics.image]] if topics.image else [])
        _wait_ready(node, graph, spec.name, needed, options.startup_timeout_s)
        sent = _publish(path, topics, pubs, options, log, tally, stream, stream_lock, graph)
        _drain(tally, graph, spec.name, expected, options.drain_s)
    finally:
        codes = graph.stop()
        rclpy.try_shutdown(context=context)
        if spinning is not None:
            spinning.join(timeout=2.0)
    return replay_report(path, info, topics, options, spec, tally, sent, codes.get(spec.name),
                         graph.log_text(spec.name))


def _event_window_ns(options: ReplayOptions) -> int:
    """The model's event window (for pictures of event-only masks); 50 ms if unknown."""
    from ness_ros.models.errors import ModelError
    from ness_ros.models.weights import default_weights_path, load_card

    path = options.model or default_weights_path("segsnn" if options.mode == "hybrid"
                                                 else "evsegsnn")
    try:
        return int(load_card(path).event_window_ms * 1e6)
    except (ModelError, OSError):
        return 50_000_000


def _spin(executor: SingleThreadedExecutor, context: rclpy.Context) -> None:
    while context.ok():
        try:
            executor.spin_once(timeout_sec=0.05)
        except Exception:  # the context went down under the executor: replay is over
            if context.ok():
                raise
            return


def _listen(node, name: str, tally: ReplayTally) -> None:
    """Subscribe the node's mask, latency and diagnostics."""
    def on_mask(data: bytes) -> None:
        received = time.monotonic()
        try:
            pixels, encoding, header = decode_image_cdr(data)
        except EventError:
            return
        tally.add_mask(header.stamp_ns, to_mono8(pixels, encoding), received)

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.rsplit("/", 1)[-1] == name:
                tally.add_diagnostics({kv.key: kv.value for kv in status.values},
                                      time.monotonic())

    node.create_subscription(Image, f"/{name}/mask", on_mask, OUTPUT_QOS, raw=True)
    node.create_subscription(SegmentationLatency, f"/{name}/latency",
                             lambda m: tally.add_processing(m.processing_ms), OUTPUT_QOS)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, OUTPUT_QOS)


def _wait_ready(node, graph: GraphProcesses, name: str, needed: list, timeout: float) -> None:
    """Until the node subscribes to our inputs and publishes its masks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if graph.failed():
            raise BagError(f"{name} exited with {graph.failed()[name]}:\n"
                           f"{graph.log_text(name)[-3000:]}")
        if all(p.get_subscription_count() for p in needed) and \
                node.count_publishers(f"/{name}/mask"):
            time.sleep(0.5)  # both ends of every match settle
            return
        time.sleep(0.1)
    raise BagError(f"{name} did not come up within {timeout:g} s:\n"
                   f"{graph.log_text(name)[-3000:]}")


def _publish(path, topics: BagTopics, pubs: dict, options: ReplayOptions, log: PublishLog,
             tally: ReplayTally, stream: EventStream, stream_lock: threading.Lock,
             graph: GraphProcesses) -> dict[str, Any]:
    """Publish every message of ``topics`` at the recorded pace; returns what went out."""
    sent = {"frames": 0, "event_messages": 0, "events": 0, "labels": 0, "rejected": 0,
            "bag_first_ns": None, "bag_last_ns": None, "wall_first_s": None, "wall_last_s": None}
    total = sum(topics.counts.values())
    with tqdm(total=total, desc=f"replay x{options.rate:g}", unit="msg",
              disable=not options.progress, leave=False) as bar:
        for topic, bag_ns, data in read_messages(path, topics.names()):
            if sent["wall_first_s"] is None:
                sent["wall_first_s"], sent["bag_first_ns"] = time.monotonic(), bag_ns
            delay = (sent["wall_first_s"] + (bag_ns - sent["bag_first_ns"]) / 1e9 / options.rate
                     - time.monotonic())
            if delay > 0:
                time.sleep(delay)
            if graph.failed():
                break
            now = time.monotonic()
            pubs[topic].publish(data if isinstance(data, bytes) else bytes(data))
            sent["bag_last_ns"], sent["wall_last_s"] = bag_ns, now
            bar.update()
            try:
                _account(topic, data, now, topics, sent, log, tally, stream, stream_lock)
            except EventError:
                sent["rejected"] += 1
    return sent


def _account(topic, data, now, topics, sent, log, tally, stream, stream_lock) -> None:
    """Note what one published message was (after it went out, so timing is not delayed)."""
    if topic == topics.image:
        stamp = CdrReader(data, "Image").header().stamp_ns
        log.frame(stamp, now)
        if tally.wants_frames():
            tally.keep_frame(stamp, decode_frame(data)[0])
        sent["frames"] += 1
    elif topic == topics.events:
        sent["event_messages"] += 1
        with stream_lock:
            sent["events"] += stream.push(data).events
            newest = stream.newest_ns
        if newest is not None:
            log.events(newest, now)
    else:
        pixels, encoding, header = decode_image_cdr(data)
        tally.add_label(header.stamp_ns, to_mono8(pixels, encoding))
        sent["labels"] += 1


def _drain(tally: ReplayTally, graph: GraphProcesses, name: str, expected: int | None,
           quiet_s: float) -> None:
    """Wait for the last masks (until all expected came or none for ``quiet_s``), then for a
    diagnostics message newer than the last mask."""
    start = time.monotonic()
    while time.monotonic() - start < 10 * quiet_s + 5 and not graph.failed():
        if expected is not None and tally.masks >= expected:
            break
        last = tally.last_mask_s or start
        if time.monotonic() - max(last, start) > quiet_s:
            break
        time.sleep(0.05)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not graph.failed():
        if tally.diagnostics_s is not None and tally.diagnostics_s > (tally.last_mask_s or 0):
            return
        time.sleep(0.05)
