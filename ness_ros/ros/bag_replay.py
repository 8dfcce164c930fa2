"""Live replay of a bag into the ROS graph (``ness bag replay``): the rclpy side.

The publishers of the bag's topics and the subscriptions to the node's mask, latency and
diagnostics; the node's process and this side's spinning are :mod:`ness_ros.ros.harness`'s;
options, pacing and accounting :mod:`ness_ros.bag.replay`'s (ROS-free).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dvs_msgs.msg import EventArray
from event_camera_msgs.msg import EventPacket
from rclpy.node import Node
from sensor_msgs.msg import Image

from ness_ros.bag.errors import BagError
from ness_ros.bag.live_stats import PublishLog, ReplayTally
from ness_ros.bag.reader import BagTopics, bag_info
from ness_ros.bag.replay import (
    ReplayOptions,
    check_replay,
    class_names,
    drain,
    event_window_ns,
    node_spec,
    publish_messages,
    replay_card,
    trigger_topic,
)
from ness_ros.bag.replay_report import replay_report
from ness_ros.bag.report import BagReport, events_image
from ness_ros.domain import isolate_this_process
from ness_ros.events.errors import EventError
from ness_ros.events.image_codec import decode_image_cdr, to_mono8
from ness_ros.events.stream import EventStream
from ness_ros.ros.harness import NodeFailed, NodeHarness, discovered, subscribe_outputs
from ness_ros.ros.qos import SENSOR_QOS


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
    card = replay_card(options)
    window_ns = event_window_ns(card)

    def picture(stamp_ns: int):
        with stream_lock:
            events = stream.query(stamp_ns - window_ns, stamp_ns)
        return None if events is None else events_image(events)

    log = PublishLog()
    spacing = int(info.duration_s * 1e9 / (max(0, options.overlay_count) + 1))
    tally = ReplayTally(log, by_frame=by_frame, picture=picture, overlay_spacing_ns=spacing,
                        overlay_count=options.overlay_count, class_names=class_names(card))
    isolate_this_process()  # the node and this process: one domain of their own, this host
    harness = NodeHarness([spec], options.log_dir, "ness_bag_replay",
                          env={"PYTHONUNBUFFERED": "1", **options.node_env}, own_context=True)
    try:
        node = harness.node
        pubs = {topics.events: node.create_publisher(
            EventArray if topics.event_message == "dvs" else EventPacket, topics.events,
            SENSOR_QOS)}
        for topic in (topics.image, topics.labels):
            if topic:
                pubs[topic] = node.create_publisher(Image, topic, SENSOR_QOS)
        _listen(node, spec.name, tally)
        harness.spin_in_background()
        harness.start()
        needed = [pubs[topics.events]] + ([pubs[trigger]] if trigger else [])
        try:  # until the node subscribes to our inputs and publishes its masks
            harness.wait_ready(lambda: discovered(needed, node, [f"/{spec.name}/mask"]),
                               options.startup_timeout_s, failures_only=True, settle_s=0.5)
        except NodeFailed as exc:
            raise BagError(str(exc)) from exc
        sent = publish_messages(path, topics, pubs, options, log, tally, stream, stream_lock,
                                harness.graph)
        drain(tally, harness.graph, spec.name, expected, options.drain_s)
    finally:
        codes = harness.stop()
    return replay_report(path, info, topics, options, spec, tally, sent, codes.get(spec.name),
                         harness.graph.log_text(spec.name))


def _listen(node: Node, name: str, tally: ReplayTally) -> None:
    """Subscribe the node's mask, latency and diagnostics."""
    def on_mask(data: bytes) -> None:
        received = time.monotonic()
        try:
            pixels, encoding, header = decode_image_cdr(data)
        except EventError:
            return
        tally.add_mask(header.stamp_ns, to_mono8(pixels, encoding), received)

    subscribe_outputs(node, name, mask=on_mask,
                      latency=lambda m: tally.add_processing(m.processing_ms),
                      diagnostics=lambda _, values: tally.add_diagnostics(values,
                                                                          time.monotonic()))
