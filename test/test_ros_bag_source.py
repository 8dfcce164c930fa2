"""``source bag`` with no ROS 2 command line: the graph of segmentation.launch.py plays a
recorded bag through ness_ros's own bag_player, in a namespace, and the hybrid node's masks and
the evaluator's scores come from it, over DDS; the player stops cleanly when signalled."""

from __future__ import annotations

import json
import signal
import time

import pytest
import rclpy
from sensor_msgs.msg import Image

from conftest import REPO_ROOT, SHARED_DATA
from helpers.ros_graph import spin_until, start_node, stop_node
from helpers.tiny_models import tiny_model_file
from ness_ros.bag import RecordOptions, bag_info, read_messages, record_sequence
from ness_ros.data.cache import cached_sequence
from ness_ros.data.sequence import SequenceConfig
from ness_ros.events.image_codec import decode_image_cdr
from ness_ros.graph import NodeSpec, ros2_bag_available, segmentation_graph
from ness_ros.graph_runner import GraphProcesses
from ness_ros.ros.qos import OUTPUT_QOS

W, H = 96, 64


def test_a_recorded_bag_played_by_the_own_player_gives_masks_with_its_stamps(tmp_path,
                                                                            monkeypatch):
    sequence = cached_sequence(7, SequenceConfig(width=W, height=H, duration_s=2.0),
                               cache_dir=tmp_path / "cache", progress=False)
    bag = tmp_path / "drive"
    # Events recorded on another name than the graph's input: the player is remapped onto it.
    record_sequence(sequence, bag, RecordOptions(progress=False, topics={
        "image": "/camera/image", "events": "/dvs/events", "labels": "/camera/labels"}))
    frames = {decode_image_cdr(data)[2].stamp_ns
              for _, _, data in read_messages(bag, ["/camera/image"])}
    assert len(frames) == bag_info(bag).topics["/camera/image"][1] == 40
    model = tiny_model_file(tmp_path, "segsnn", width=W, height=H)
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))  # no ros2 here, whatever the shell has
        assert not ros2_bag_available()
        specs = segmentation_graph(mode="hybrid", config=REPO_ROOT / "config" /
                                   "segmentation.yaml", model=str(model), source="bag", bag=bag,
                                   rate=0.5, namespace="replay", report_dir=tmp_path / "report")
    assert specs[-1].executable == "bag_player"
    assert specs[-1].remappings == [("dvs/events", "camera/events")]
    masks: list[int] = []
    rclpy.init()
    graph = GraphProcesses(specs, tmp_path / "logs", env={"PYTHONUNBUFFERED": "1"})
    try:
        node = rclpy.create_node("bag_source_test")
        node.create_subscription(
            Image, "/replay/hybrid_segmentation/mask",
            lambda data: masks.append(decode_image_cdr(data)[2].stamp_ns), OUTPUT_QOS, raw=True)
        graph.start()
        deadline = time.monotonic() + 180.0
        code = None
        while code is None and time.monotonic() < deadline:
            spin_until(node, lambda: False, 0.5)
            assert not graph.failed(), {n: graph.log_text(n)[-2000:] for n in graph.failed()}
            code = graph.wait("bag_player", timeout=0.0)
        spin_until(node, lambda: False, 1.5)  # the last masks are on their way
        node.destroy_node()
    finally:
        rclpy.shutdown()
        codes = graph.stop()
    player_log = graph.log_text("bag_player")
    assert code == 0, player_log
    assert f"played {bag_info(bag).message_count} messages" in player_log, player_log
    assert set(codes.values()) == {0}, codes
    assert len(masks) >= 10, (len(masks), graph.log_text("hybrid_segmentation")[-3000:])
    assert set(masks) <= frames  # each mask carries a frame's recorded stamp
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["frames_evaluated"] >= 10 and report["masks_unmatched"] <= 2, report


@pytest.mark.parametrize("phase", ["waiting", "playing"])
@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)])
def test_the_player_stops_cleanly_however_it_is_signalled(phase, signals, tmp_path):
    """Waiting for subscribers, or playing a real bag slowly: SIGINT twice (a terminal's
    Ctrl-C under ros2 launch) or SIGTERM ends it with exit 0 and no traceback."""
    wait_s = 600.0 if phase == "waiting" else 0.0
    spec = NodeSpec("bag_player", "bag_player", [],
                    {"bag": str(SHARED_DATA / "evt3_event_camera_py"), "rate": 0.02,
                     "wait_for_subscribers_s": wait_s}, namespace="stop_test")
    log = tmp_path / "player.log"
    proc = start_node(spec, log)
    deadline = time.monotonic() + 60.0
    while ("playing /" if phase == "playing" else "waiting up to") not in log.read_text():
        assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
        time.sleep(0.1)
    time.sleep(0.5)
    assert proc.poll() is None, log.read_text()
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.05)
    try:
        code = proc.wait(timeout=10.0)
    finally:
        stop_node(proc)
    output = log.read_text()
    assert code == 0, output
    assert not any(bad in output for bad in ("Traceback", "KeyboardInterrupt", "Fatal")), output
