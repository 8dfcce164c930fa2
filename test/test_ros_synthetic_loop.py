"""The synthetic source loops by default, and the graph says once, not every period, that it
waits for the first sequence."""

from __future__ import annotations

import rclpy
from dvs_msgs.msg import EventArray
from sensor_msgs.msg import Image

from helpers.ros_graph import spin_until
from ness_ros.events import decode_image_cdr
from ness_ros.graph import NodeSpec
from ness_ros.graph_runner import GraphProcesses
from ness_ros.ros.qos import SENSOR_QOS

PASS_FRAMES = 20  # 1 s at 20 Hz
TOPICS = {"image": "/loop_test/image", "events": "/loop_test/events",
          "labels": "/loop_test/labels", "mask": "/loop_test/mask"}


def test_camera_plays_its_sequence_again_with_stamps_going_on(tmp_path):
    camera = NodeSpec("synthetic_camera", "synthetic_camera", [],
                      {"seed": 21, "duration_s": 1.0, "width": 96, "height": 64, "rate": 2.0},
                      [(name, TOPICS[name]) for name in ("image", "events", "labels")])
    evaluator = NodeSpec("segmentation_evaluator", "segmentation_evaluator", [],
                         {"summary_period_s": 0.2, "report_dir": ""},
                         [(name, topic) for name, topic in TOPICS.items()])
    stamps: list[int] = []
    rclpy.init()
    node = rclpy.create_node("loop_listener")
    node.create_subscription(Image, TOPICS["image"],
                             lambda data: stamps.append(decode_image_cdr(data)[2].stamp_ns),
                             SENSOR_QOS, raw=True)
    node.create_subscription(Image, TOPICS["labels"], lambda data: None, SENSOR_QOS, raw=True)
    node.create_subscription(EventArray, TOPICS["events"], lambda data: None, SENSOR_QOS,
                             raw=True)
    # An empty cache: the camera generates its sequence first.
    graph = GraphProcesses([camera, evaluator], tmp_path / "logs",
                           env={"NESS_CACHE_DIR": str(tmp_path / "cache"),
                                "PYTHONUNBUFFERED": "1"})
    try:
        graph.start()
        # 2.5 passes (about 1.2 s of playing at twice real time) after generating.
        played = spin_until(node, lambda: len(stamps) >= PASS_FRAMES * 5 // 2, 120.0)
        failed = graph.failed()
        codes = graph.stop()
    finally:
        node.destroy_node()
        rclpy.shutdown()
    camera_log = graph.log_text("synthetic_camera")
    evaluator_log = graph.log_text("segmentation_evaluator")
    assert not failed, camera_log + evaluator_log
    assert played, (len(stamps), camera_log)
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False)), stamps
    assert codes == {"synthetic_camera": 0, "segmentation_evaluator": 0}, codes
    assert camera_log.count("generating the sequence of seed 21") == 1, camera_log
    assert "sequence finished" not in camera_log
    # No mask ever came (no segmentation node): said once, though it summarised many times.
    assert evaluator_log.count("no mask matched a label yet") == 1, evaluator_log
