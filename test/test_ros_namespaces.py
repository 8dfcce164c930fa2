"""The graph in a namespace, over DDS: the packaged parameter file applies there, and two graphs
in two namespaces on one ROS domain keep to their own topics, each evaluator scoring its own
masks."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
import rclpy
import yaml
from dvs_msgs.msg import EventArray
from ness_msgs.msg import SegmentationLatency
from rclpy.node import NodeNameNonExistentError
from sensor_msgs.msg import Image

from conftest import REPO_ROOT
from helpers.ros_graph import spin_until, start_node, stop_node
from helpers.tiny_models import tiny_model_file
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import encode_event_array
from ness_ros.events.image_codec import encode_image_cdr
from ness_ros.graph import NodeSpec, segmentation_graph
from ness_ros.graph_runner import GraphProcesses
from ness_ros.ros.qos import OUTPUT_QOS, SENSOR_QOS

W, H = 96, 64
CONFIG = REPO_ROOT / "config" / "segmentation.yaml"
FRAMES = 60  # 3 s at 20 Hz


@pytest.mark.parametrize("namespace", ["robot1", "fleet/robot2", ""])
def test_packaged_parameter_file_applies_in_any_namespace(namespace, tmp_path):
    """config/segmentation.yaml with a 3 x 2 grid, the node in /robot1, /fleet/robot2 or at the
    root: its ~/latency counts 6 regions per frame (a file keyed for /hybrid_segmentation only
    leaves the declared 8 x 12 under a namespace). Inputs by relative names land in the
    namespace too."""
    prefix = f"/{namespace}" if namespace else ""
    data = yaml.safe_load(CONFIG.read_text())
    params = data["/**/hybrid_segmentation"]["ros__parameters"]
    params.update(grid_rows=3, grid_cols=2, event_message="dvs", event_wait_s=0.0,
                  model=str(tiny_model_file(tmp_path, "segsnn", width=W, height=H)))
    config = tmp_path / "segmentation.yaml"
    config.write_text(yaml.safe_dump(data))
    spec = NodeSpec("hybrid_segmentation", "hybrid_segmentation", [str(config)], {},
                    [("image", "t/image"), ("events", "t/events")], namespace=namespace)
    log = tmp_path / "hybrid.log"
    proc = start_node(spec, log)
    rclpy.init()
    latency: list[SegmentationLatency] = []
    try:
        node = rclpy.create_node("namespace_param_test")
        images = node.create_publisher(Image, f"{prefix}/t/image", SENSOR_QOS)
        events = node.create_publisher(EventArray, f"{prefix}/t/events", SENSOR_QOS)
        node.create_subscription(SegmentationLatency, f"{prefix}/hybrid_segmentation/latency",
                                 latency.append, OUTPUT_QOS)
        rng = np.random.default_rng(0)
        stamp = 1_000_000_000_000
        deadline = time.monotonic() + 60.0
        while not latency and time.monotonic() < deadline:
            stamp += 50_000_000
            t = np.sort(rng.integers(stamp - 50_000_000, stamp, 2000))
            batch = EventBatch.from_arrays(t, rng.integers(0, W, t.size),
                                           rng.integers(0, H, t.size),
                                           rng.integers(0, 2, t.size), width=W, height=H)
            events.publish(encode_event_array(batch, Header.from_ns(stamp, "cam")))
            frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
            images.publish(encode_image_cdr(frame, "rgb8", Header.from_ns(stamp, "cam")))
            spin_until(node, lambda: bool(latency), 0.1, proc, log)
        node.destroy_node()
    finally:
        rclpy.shutdown()
        code = stop_node(proc)
    assert latency, log.read_text()[-3000:]
    assert {m.regions_total for m in latency} == {6}, [m.regions_total for m in latency]
    assert code == 0, log.read_text()[-3000:]


def namespaced_graph(namespace: str, seed: int, model, tmp_path) -> list[NodeSpec]:
    specs = segmentation_graph(mode="hybrid", config=CONFIG, model=str(model), seed=seed,
                               rate=0.5, duration_s=3.0, loop=False,
                               report_dir=tmp_path / namespace, namespace=namespace)
    for spec in specs:
        if spec.executable == "synthetic_camera":
            spec.parameters.update(width=W, height=H)
    return specs


def test_two_graphs_in_two_namespaces_on_one_domain_keep_to_their_own(tmp_path):
    """Both graphs on this test run's domain. Each evaluator is wired to its own namespace
    only, and scores only its own masks: with the graphs' names crossed, it would receive both
    cameras' masks (more than its camera's 60 frames, most unmatched by stamp)."""
    model = tiny_model_file(tmp_path, "segsnn", width=W, height=H)
    env = {"NESS_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    graphs = {ns: GraphProcesses(namespaced_graph(ns, seed, model, tmp_path),
                                 tmp_path / ns / "logs", env=env)
              for ns, seed in (("robot1", 7), ("robot2", 8))}
    assert graphs["robot1"].domain_id == graphs["robot2"].domain_id == \
        int(os.environ["ROS_DOMAIN_ID"])
    rclpy.init()
    masks = {ns: [] for ns in graphs}
    wiring: dict[str, set[str]] = {}
    try:
        node = rclpy.create_node("namespace_graphs_test")
        for ns in graphs:
            node.create_subscription(Image, f"/{ns}/hybrid_segmentation/mask",
                                     lambda data, ns=ns: masks[ns].append(len(data)),
                                     OUTPUT_QOS, raw=True)
        for graph in graphs.values():
            graph.start()

        def evaluators_wired() -> bool:
            for ns in graphs:
                try:
                    found = node.get_subscriber_names_and_types_by_node(
                        "segmentation_evaluator", f"/{ns}")
                except NodeNameNonExistentError:
                    return False
                wiring[ns] = {name for name, _ in found}
            return all(len(topics) >= 5 for topics in wiring.values())  # labels last

        assert spin_until(node, evaluators_wired, 120.0), wiring
        assert node.count_publishers("/hybrid_segmentation/mask") == 0
        cameras = {ns: None for ns in graphs}
        deadline = time.monotonic() + 240.0
        while None in cameras.values() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.2)
            for ns, graph in graphs.items():
                assert not graph.failed(), graph.log_text("hybrid_segmentation")[-3000:]
                if cameras[ns] is None:
                    cameras[ns] = graph.wait("synthetic_camera", timeout=0.0)
        spin_until(node, lambda: False, 1.0)  # the last masks are on their way
        node.destroy_node()
    finally:
        rclpy.shutdown()
        codes = {ns: graph.stop() for ns, graph in graphs.items()}
    for ns, other in (("robot1", "robot2"), ("robot2", "robot1")):
        assert cameras[ns] == 0, graphs[ns].log_text("synthetic_camera")[-3000:]
        assert set(codes[ns].values()) == {0}, codes
        assert wiring[ns] >= {f"/{ns}/hybrid_segmentation/mask",
                              f"/{ns}/hybrid_segmentation/latency",
                              f"/{ns}/hybrid_segmentation/label_info",
                              f"/{ns}/camera/labels", f"/{ns}/camera/image"}, wiring
        assert not [t for t in wiring[ns] if t.startswith(f"/{other}/")], wiring
        report = json.loads((tmp_path / ns / "report.json").read_text())
        assert 10 <= report["frames_evaluated"] <= FRAMES, report
        assert report["masks_received"] <= FRAMES, report
        assert len(masks[ns]) >= 10, masks  # on /<ns>/hybrid_segmentation/mask
        assert report["masks_unmatched"] <= 2, report
