"""The hybrid_segmentation node in its own process, driven over DDS from the test."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rclpy
from dvs_msgs.msg import EventArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import Image
from vision_msgs.msg import LabelInfo

from helpers.tiny_models import tiny_model_file
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import encode_event_array
from ness_ros.events.image_codec import decode_image_cdr, encode_image_cdr
from ness_ros.graph import NodeSpec
from ness_ros.labels import colourize
from ness_ros.ros.harness import NodeHarness, subscribe_outputs
from ness_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS, SENSOR_QOS

H, W = 64, 96


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("model"), base_width=8, width=W, height=H)


@pytest.fixture(scope="module")
def graph(model_file, tmp_path_factory):
    """The node under test and a test node with publishers and subscriptions."""
    spec = NodeSpec("hybrid_segmentation", "hybrid_segmentation", [], {
        "model": str(model_file), "reuse": "static", "theta": 1.0, "grid_rows": 2,
        "grid_cols": 3,
        "keyframe_max_age_s": 0.0, "event_wait_s": 0.0, "diagnostics_period_s": 0.3,
        "guided_upsampling": True},  # the demo graph's tests run the default, bilinear
        [("image", "/t/image"), ("events", "/t/events")])
    rclpy.init()
    harness = NodeHarness([spec], tmp_path_factory.mktemp("logs"), "hybrid_node_test")
    node = harness.node
    ctx = {"harness": harness, "node": node, "masks": [], "latency": [], "diagnostics": [],
           "image_pub": node.create_publisher(Image, "/t/image", SENSOR_QOS),
           "events_pub": node.create_publisher(EventArray, "/t/events", SENSOR_QOS)}
    subscribe_outputs(node, "hybrid_segmentation",
                      mask=lambda data: ctx["masks"].append(decode_image_cdr(data)),
                      latency=ctx["latency"].append,
                      diagnostics=lambda _, values: ctx["diagnostics"].append(values))
    harness.start()
    ctx["stamp"] = 1_000_000_000_000
    yield ctx
    code = harness.stop(timeout=10.0)["hybrid_segmentation"]
    rclpy.shutdown()
    assert code == 0, harness.log("hybrid_segmentation")


def send_frame(ctx, *, with_events: bool = True) -> int:
    """Publish the events of the last 50 ms and a frame; returns the frame's stamp."""
    rng = np.random.default_rng(ctx["stamp"] % 1000)
    stamp = ctx["stamp"] = ctx["stamp"] + 50_000_000
    if with_events:
        n = 3000
        t = np.sort(rng.integers(stamp - 50_000_000, stamp, n))
        batch = EventBatch.from_arrays(t, rng.integers(0, W, n), rng.integers(0, H, n),
                                       rng.integers(0, 2, n), width=W, height=H)
        ctx["events_pub"].publish(encode_event_array(batch, Header.from_ns(stamp, "cam")))
    frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    ctx["image_pub"].publish(encode_image_cdr(frame, "rgb8", Header.from_ns(stamp, "cam")))
    return stamp


def stream_until(ctx, condition, timeout=30.0, period=0.1) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send_frame(ctx)
        if ctx["harness"].spin_until(condition, period):
            return True
    return False


def latest_values(ctx) -> dict[str, str]:
    return ctx["diagnostics"][-1] if ctx["diagnostics"] else {}


def test_masks_carry_the_input_stamp_and_frame_id(graph):
    assert stream_until(graph, lambda: len(graph["masks"]) >= 5), "no masks arrived"
    sent = {graph["stamp"] - 50_000_000 * k for k in range(200)}
    for pixels, encoding, header in graph["masks"]:
        assert encoding == "mono8" and pixels.shape == (H, W)
        assert header.frame_id == "cam" and header.stamp_ns in sent
        assert pixels.max() < 6


def test_colour_masks_are_rendered_for_a_subscriber_and_match_the_masks(graph):
    """``~/mask_color`` is rendered only for subscribers: one that joins while frames stream
    gets colour masks, each the palette rendering of the mono mask with the same header."""
    colour = []
    graph["node"].create_subscription(Image, "/hybrid_segmentation/mask_color",
                                      lambda data: colour.append(decode_image_cdr(data)),
                                      OUTPUT_QOS, raw=True)
    assert stream_until(graph, lambda: len(colour) >= 3), "no colour masks arrived"

    def mask_stamps() -> set[int]:
        return {header.stamp_ns for _, _, header in graph["masks"]}

    assert stream_until(graph, lambda: any(h.stamp_ns in mask_stamps() for _, _, h in colour))
    masks = {header.stamp_ns: pixels for pixels, _, header in graph["masks"]}
    matched = 0
    for pixels, encoding, header in colour:
        assert encoding == "rgb8" and pixels.shape == (H, W, 3) and header.frame_id == "cam"
        if header.stamp_ns in masks:
            np.testing.assert_array_equal(pixels, colourize(masks[header.stamp_ns]))
            matched += 1
    assert matched >= 1


def test_label_info_reaches_a_late_subscriber(graph):
    received = []
    graph["node"].create_subscription(LabelInfo, "/hybrid_segmentation/label_info",
                                      received.append, LATCHED_QOS)
    assert graph["harness"].spin_until(lambda: received, 10.0)
    names = [c.class_name for c in received[0].class_map]
    assert names == ["flat", "background", "object", "vegetation", "human", "vehicle"]


def test_diagnostics_report_latency_and_rates(graph):
    assert stream_until(graph, lambda: "processing_latency_p95_ms" in latest_values(graph))
    values = latest_values(graph)
    assert float(values["processing_latency_p95_ms"]) > 0
    assert int(values["frames_published"]) > 0
    assert float(values["events_per_s"]) > 0


def test_latency_messages_account_for_waits_and_stages(graph):
    """Each ~/latency message splits its processing time: the waits (for the worker, for the
    events) and the stages all lie inside it."""
    assert stream_until(graph, lambda: len(graph["latency"]) >= 3)
    for msg in graph["latency"]:
        parts = (msg.queue_ms, msg.events_wait_ms, msg.represent_ms, msg.motion_ms,
                 msg.gate_ms, msg.inference_ms, msg.paste_ms, msg.publish_ms)
        assert min(parts) >= 0.0 and msg.inference_ms > 0.0
        assert sum(parts) <= msg.processing_ms + 0.5  # float32 rounding of each part


def set_parameter(ctx, name: str, value: float | int | str):
    client = ctx["node"].create_client(SetParameters, "/hybrid_segmentation/set_parameters")
    assert client.wait_for_service(timeout_sec=10.0)
    if isinstance(value, str):
        pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    elif isinstance(value, float):
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    else:
        pv = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    future = client.call_async(SetParameters.Request(parameters=[ParameterMsg(name=name,
                                                                              value=pv)]))
    rclpy.spin_until_future_complete(ctx["node"], future, timeout_sec=10.0)
    ctx["node"].destroy_client(client)
    return future.result().results[0]


def after_change(ctx, check, count: int = 4) -> bool:
    """Stream frames until ``count`` masks of frames sent from now on arrived; True when
    ``check`` holds for each of them."""
    first = ctx["stamp"] + 1
    new = lambda: [m for m in ctx["latency"]  # noqa: E731
                   if m.header.stamp.sec * 10**9 + m.header.stamp.nanosec >= first]
    assert stream_until(ctx, lambda: len(new()) >= count)
    return all(check(m) for m in new())


def test_theta_changes_at_run_time_and_bad_values_are_refused(graph):
    result = set_parameter(graph, "theta", 1e6)
    assert result.successful, result.reason
    assert stream_until(graph, lambda: latest_values(graph).get("theta") == "1000000.000")
    # With theta this high nothing is recomputed: every mask of a frame sent after the change
    # reuses the keyframe's labels (0 regions), where theta = 0 recomputes every region.
    assert after_change(graph, lambda m: m.regions_recomputed == 0 and not m.keyframe)
    assert set_parameter(graph, "theta", 0.0).successful
    assert after_change(graph, lambda m: m.regions_recomputed == m.regions_total == 6)
    refused = set_parameter(graph, "theta", -1.0)
    assert not refused.successful and refused.reason
    refused = set_parameter(graph, "margin", -3)
    assert not refused.successful
    assert set_parameter(graph, "theta", 1.0).successful


def test_warped_reuse_switches_on_at_run_time_and_reports_its_motion_stage(graph):
    assert set_parameter(graph, "residual_theta", math.inf).successful
    result = set_parameter(graph, "reuse", "warped")
    assert result.successful, result.reason
    # Labels follow the motion and no gate runs (inf): after the keyframe that the switch
    # forces, masks compute nothing, and each one spent time on the motion estimate.
    assert after_change(graph, lambda m: m.keyframe or (m.regions_recomputed == 0
                                                        and m.motion_ms > 0.0), count=4)
    assert after_change(graph, lambda m: not m.keyframe and m.regions_recomputed == 0)
    for name, value in (("reuse", "dynamic"), ("flow_preset", "slow"),
                        ("residual_theta", -1.0), ("max_window_fraction", 2.0)):
        refused = set_parameter(graph, name, value)
        assert not refused.successful and refused.reason, name
    assert set_parameter(graph, "reuse", "static").successful


def test_bad_messages_are_counted_and_good_ones_still_served(graph):
    bad_image = Image(height=H, width=W, encoding="yuv9", step=W, data=bytes(H * W))
    bad_image.header.frame_id = "cam"
    for _ in range(3):
        graph["image_pub"].publish(bad_image)
        graph["events_pub"].publish(b"\x00\x01\x00\x00garbage")

    def counted():
        values = latest_values(graph)
        return int(values.get("rejected_image", 0)) >= 1 and \
            int(values.get("rejected_events", 0)) >= 1

    assert stream_until(graph, counted), latest_values(graph)
    graph["masks"].clear()
    assert stream_until(graph, lambda: len(graph["masks"]) >= 3), "stopped serving good input"
