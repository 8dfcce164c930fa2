"""``event_message: auto`` over DDS: a hybrid node in its own process finds the type of its events
topic in the graph (dvs_msgs/EventArray or event_camera_msgs/EventPacket), says which in its log,
waits without blocking while no publisher exists, and produces masks; EventPacket trigger words
(evt3 0xA) add up in /diagnostics ``trigger_events``; a libcaer_cmp packet is decoded."""

from __future__ import annotations

import numpy as np
import pytest
import rclpy
from event_camera_msgs.msg import EventPacket
from test_events_libcaer_cmp import encode as cmp_encode
from test_events_libcaer_cmp import random_events as cmp_events
from test_faults_support import H, NodeDriver, W, random_events

from helpers.tiny_models import tiny_model_file
from ness_ros.events import encode_event_packet, parse_event_packet
from ness_ros.ros.event_input import choose
from ness_ros.ros.qos import SENSOR_QOS

ARRAY, PACKET = "dvs_msgs/msg/EventArray", "event_camera_msgs/msg/EventPacket"


def test_choose_takes_one_known_type_only():
    assert choose([ARRAY]) == ("dvs", "")
    assert choose([PACKET, PACKET]) == ("packet", "")
    assert choose([]) == (None, "no publisher yet")
    assert choose([ARRAY, PACKET])[0] is None and "both" in choose([ARRAY, PACKET])[1]
    assert choose(["sensor_msgs/msg/Image"]) == (
        None, f"its publishers' type sensor_msgs/msg/Image is not {ARRAY} or {PACKET}")
    assert choose([ARRAY, "sensor_msgs/msg/Image"]) == ("dvs", "")


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def start(tmp_path, name, publisher_type, event_message="auto"):
    return NodeDriver(name, {"model": str(tiny_model_file(tmp_path, base_width=8)),
                             "event_message": event_message,
                             "grid_rows": 2, "grid_cols": 3, "event_wait_s": 0.1,
                             "diagnostics_period_s": 0.2}, tmp_path / "node.log",
                      event_message=publisher_type)


def stop(driver):
    code, _ = driver.stop()
    assert code == 0, driver.log()


@pytest.mark.parametrize("event_message", ["auto", "dvs"])
def test_auto_takes_event_array_and_explicit_dvs_works_as_before(ros, tmp_path, event_message):
    driver = start(tmp_path, "auto_array", "dvs", event_message)
    try:
        driver.ready()
        driver.serve(3)
        values = driver.settle()
        assert values["event_message"] == "dvs"
        assert int(values["events_received"]) == 3 * 2000, (values, driver.log())
        assert int(values["frames_without_events"]) == 0
        line = (f"event_message auto: /auto_array/in/events carries {ARRAY}: subscribed as "
                "event_message dvs")
        assert (line in driver.log()) == (event_message == "auto"), driver.log()
    finally:
        stop(driver)


def with_triggers(data: bytes, k: int) -> bytes:
    """An evt3 EventPacket with ``k`` trigger words (channel 1, rising edge) appended."""
    info, payload = parse_event_packet(data)
    words = np.concatenate([np.frombuffer(bytes(payload), "<u2"),
                            np.full(k, 0xA101, np.uint16)])
    return encode_event_packet(info, words.astype("<u2").tobytes())


def test_auto_waits_for_a_publisher_then_takes_event_packet_and_counts_triggers(ros, tmp_path):
    driver = start(tmp_path, "auto_packet", "packet")
    try:
        # No publisher when the node starts: it must wait, and keep publishing diagnostics.
        driver.node.destroy_publisher(driver.events_pub)
        assert driver.spin_until(lambda: len(driver.diagnostics) >= 3, 60.0), driver.log()
        assert driver.values()["event_message"] == "auto"
        assert (f"event_message auto: waiting for a publisher of {ARRAY} or {PACKET} on "
                "/auto_packet/in/events (no publisher yet)") in driver.log()
        driver.events_pub = driver.node.create_publisher(EventPacket, driver.topics["events"],
                                                         SENSOR_QOS)
        driver.ready()
        driver.serve(3)
        values = driver.settle()
        assert values["event_message"] == "packet"
        assert int(values["events_received"]) == 3 * 2000, (values, driver.log())
        assert (f"event_message auto: /auto_packet/in/events carries {PACKET}: subscribed as "
                "event_message packet") in driver.log()
        assert driver.count("trigger_events") == 0
        sent = 0
        for k in (3, 0, 5):
            batch = random_events(driver.rng, driver.stamp + 1, driver.stamp + 10**6, 100)
            driver.events_pub.publish(with_triggers(
                driver.packets.encode(batch, driver.stamp + 1), k))
            driver.stamp += 10**6
            sent += k
        assert driver.wait_count("trigger_events", sent), (driver.values(), driver.log())
        driver.serve(2)
        assert driver.count("trigger_events") == sent
        # libcaer_driver's compressed encoding on the same topic: decoded, not rejected.
        values = driver.settle()
        t_us, x, y, p = cmp_events(np.random.default_rng(1), 500, 1000, W, H)
        info, _ = parse_event_packet(driver.packets.encode(
            random_events(driver.rng, driver.stamp + 1, driver.stamp + 2, 1), driver.stamp + 1))
        info.encoding, info.time_base = "libcaer_cmp", driver.stamp + 1
        words = np.asarray(cmp_encode(t_us, x, y, p), "<u2")
        driver.events_pub.publish(encode_event_packet(info, words.tobytes()))
        driver.packets.seq += 1
        want = int(values["events_received"]) + len(t_us)
        assert driver.wait_count("events_received", want), (driver.values(), driver.log())
        assert driver.count("events_received") == want
        assert driver.count("rejected_events") == 0
    finally:
        stop(driver)
