"""Live replay of a bag into the ROS graph (``ness bag replay``): the rclpy side.

The publishers of the bag's topics, the subscriptions to the node's mask, latency and
diagnostics, and the executor; options, pacing and accounting are
:mod:`ness_ros.bag.replay`'s (ROS-free).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from ness_msgs.msg import SegmentationLatency
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image

from ness_ros.bag.errors import BagError
from ness_ros.bag.live_stats import PublishLog, ReplayTally
from ness_ros.bag.reader import BagTopics, bag_info
from ness_ros.bag.replay import (
    ReplayOptions,
    check_replay,
    drain,
    event_window_ns,
    node_spec,
    publish_messages,
    trigger_topic,
)
from ness_ros.bag.replay_report import replay_report
from ness_ros.bag.report import BagReport, events_image
from ness_ros.domain import isolate_this_process
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import decode_image_cdr, to_mono8
from ness_ros.graph_runner import GraphProcesses
from ness_ros.ros.qos import OUTPUT_QOS, SENSOR_QOS
from ness_ros.segmentation.inputs_stream import EventStream


def replay_bag(path: str | Path, topics: BagTopics, options: ReplayOptions) -> BagReport:
    """Replay the bag at ``path`` through the node; see :mod:`ness_ros.bag.replay`.

    Raises:
        BagError: bad options, a topic the mode needs is missing, or the node failed.
    """
    check_replay(path, topics, options)
    info = bag_info(path)
    spec = node_spec(topics, options)
    trigger = trigger_topic(topics, options.mode)
    by_frame = trigger is not None
    expected = topics.counts[trigger] if trigger is not None else None
    stream = EventStream(topics.event_message or "dvs")
    stream_lock = threading.Lock()
    window_ns = event_window_ns(options)

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
        needed = [pubs[topics.events]] + ([pubs[trigger]] if trigger else [])
        _wait_ready(node, graph, spec.name, needed, options.startup_timeout_s)
        sent = publish_messages(path, topics, pubs, options, log, tally, stream, stream_lock, graph)
        drain(tally, graph, spec.name, expected, options.drain_s)
    finally:
        codes = graph.stop()
        rclpy.try_shutdown(context=context)
        if spinning is not None:
            spinning.join(timeout=2.0)
    return replay_report(path, info, topics, options, spec, tally, sent, codes.get(spec.name),
                         graph.log_text(spec.name))


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


