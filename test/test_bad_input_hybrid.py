"""The catalogue of bad input, sent to a live hybrid node (dvs_msgs/EventArray events, live
stamps) in its own process. Each case is rejected or handled as the table in the docstring of
:mod:`ness_ros.ros.node_base` says, counted in /diagnostics under its own key, and the frames
sent right after it still get their masks, with their stamps and sizes.

EventPacket cases (unknown encoding, truncated evt3...) are in test_bad_input_packets.py.
The node's events subscription is overridden to reliable here (``qos_overrides``), so that the
80 MB message of 5 M events arrives whole: best effort, DDS drops messages of a few MB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from sensor_msgs.msg import Image
from test_faults_support import FRAME_NS, H, NodeDriver, W, random_events, serving_node

from ness_ros.events import EventBatch, Header, encode_event_array, encode_image_cdr

NAME = "bad_input_hybrid"
BUFFER_EVENTS = 1_000_000


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with serving_node(NAME, {
            "theta": 1.0, "grid_rows": 2, "grid_cols": 3, "event_wait_s": 0.1,
            "diagnostics_period_s": 0.2, "event_buffer_max_events": BUFFER_EVENTS,
            f"qos_overrides./{NAME}/in/events.subscription.reliability": "reliable"},
            tmp_path_factory.mktemp("bad_input"), live=True, reliable_events=True) as driver:
        yield driver
    assert driver.stopped[0] == 0, driver.log()


def image(*, width=W, height=H, encoding="rgb8", step=None, data=None, stamp=0) -> Image:
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                step=width * 3 if step is None else step)
    msg.data = bytes(msg.step * height) if data is None else data
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
    msg.header.frame_id = "cam"
    return msg


def events_message(node, offset_ns: int = 0, *, n: int = 500, stamp_offset_ns: int = 0,
                   width: int = W, height: int = H) -> bytes:
    """An EventArray after the newest frame; times ``offset_ns`` from its header stamp."""
    stamp = node.stamp + stamp_offset_ns
    batch = random_events(node.rng, stamp + offset_ns, stamp + offset_ns + 10**6, n,
                          width, height)
    return encode_event_array(batch, Header.from_ns(stamp, "cam"))


def nan_image(node) -> bytes:
    pixels = node.rng.random((H, W), dtype=np.float32)
    pixels[3, 5] = np.nan
    return encode_image_cdr(pixels, "32FC1", Header.from_ns(node.stamp + FRAME_NS // 2, "cam"))


def bad_polarity(node) -> bytes:
    data = bytearray(events_message(node))
    data[len(data) - 1] = 2  # the last byte is the last event's polarity
    return bytes(data)


def outside(node) -> bytes:
    batch = random_events(node.rng, node.stamp + 1, node.stamp + 10**6, 300)
    events = batch.events.copy()
    events["x"][:100] = W + 7    # 100 events right of the sensor
    events["y"][100:150] = H     # 50 below it
    return encode_event_array(EventBatch(events, W, H), Header.from_ns(node.stamp, "cam"))


@dataclass
class Case:
    """One kind of bad input: ``send(node)`` publishes it; ``counter`` must grow by at least
    ``by``. ``frames`` are served after it (keyword arguments of NodeDriver.serve)."""

    send: Callable[[NodeDriver], None]
    counter: str
    by: int = 1
    frames: dict | None = None


def frame_pub(make: Callable[[NodeDriver], Image | bytes]) -> Callable[[NodeDriver], None]:
    return lambda node: node.image_pub.publish(make(node))


def events_pub(make: Callable[[NodeDriver], bytes]) -> Callable[[NodeDriver], None]:
    return lambda node: node.events_pub.publish(make(node))


def stamped(node, offset_ns: int) -> int:
    return node.stamp + offset_ns


CASES = {
    "image encoding not supported": Case(frame_pub(lambda n: image(
        encoding="yuv422", step=2 * W, stamp=stamped(n, 1))), "rejected_image_encoding"),
    "image step smaller than a row": Case(frame_pub(lambda n: image(
        step=3 * W - 1, stamp=stamped(n, 1))), "rejected_image_size"),
    "image data size != step * height": Case(frame_pub(lambda n: image(
        data=bytes(3 * W * (H - 1)), stamp=stamped(n, 1))), "rejected_image_size"),
    "image of zero size": Case(frame_pub(lambda n: image(
        width=0, height=0, stamp=stamped(n, 1))), "rejected_image_empty"),
    "NaN in a 32FC1 image": Case(frame_pub(nan_image), "rejected_image_nan",
                                 frames={"encoding": "32FC1"}),
    "image bytes truncated": Case(frame_pub(lambda n: encode_image_cdr(
        np.zeros((H, W, 3), np.uint8), "rgb8", Header.from_ns(n.stamp + 1, "cam"))[:-100]),
        "rejected_image_malformed"),
    "image size differs from the event sensor": Case(frame_pub(lambda n: image(
        width=W // 2, height=H // 2, stamp=stamped(n, 1))), "rejected_image_sensor_mismatch"),
    "frame stamp repeated": Case(frame_pub(lambda n: image(stamp=n.stamp)),
                                 "rejected_image_duplicate_stamp"),
    "frame stamp 100 ms back": Case(frame_pub(lambda n: image(stamp=n.stamp - 10**8)),
                                    "rejected_image_out_of_order"),
    "frame stamp 60 s in the future": Case(frame_pub(lambda n: image(
        stamp=time.time_ns() + 60 * 10**9)), "rejected_image_stamp"),
    "event bytes garbage": Case(events_pub(lambda n: b"\x00\x01\x00\x00garbage"),
                                "rejected_events_malformed"),
    "event polarity 2": Case(events_pub(bad_polarity), "rejected_events_malformed"),
    "events 10 s after their header stamp": Case(events_pub(lambda n: events_message(
        n, 10 * 10**9)), "rejected_events_skew"),
    "events 10 s before their header stamp": Case(events_pub(lambda n: events_message(
        n, -10 * 10**9)), "rejected_events_skew"),
    "events and header 60 s in the future": Case(events_pub(lambda n: events_message(
        n, stamp_offset_ns=60 * 10**9)), "rejected_events_stamp"),
    "events outside the sensor": Case(events_pub(outside), "events_out_of_bounds", by=150),
    "empty EventArray": Case(events_pub(lambda n: encode_event_array(
        EventBatch.empty(W, H), Header.from_ns(n.stamp + 1, "cam"))), "events_empty_messages"),
    "EventArray repeated": Case(
        lambda n: [n.events_pub.publish(m) for m in [events_message(n, 1)] * 2],
        "events_late", by=400),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_is_rejected_counted_and_masks_go_on(node, case):
    node.serve(1)
    before = node.count(case.counter)
    case.send(node)
    assert node.wait_count(case.counter, before + case.by), (case.counter, node.values(),
                                                               node.log())
    node.serve(2, **(case.frames or {}))


def test_a_5m_event_array_is_accepted_within_the_buffer_bound(node):
    node.serve(1)
    before = node.count("events_dropped_overflow"), node.count("events_received")
    n = 5_000_000
    t = np.linspace(node.stamp + 1, node.stamp + FRAME_NS, n).astype(np.int64)
    batch = EventBatch.from_arrays(t, node.rng.integers(0, W, n), node.rng.integers(0, H, n),
                                   node.rng.integers(0, 2, n), width=W, height=H)
    node.events_pub.publish(encode_event_array(batch, Header.from_ns(node.stamp + 1, "cam")))
    del batch, t
    assert node.wait_count("events_received", before[1] + n, timeout=180), node.values()
    assert node.count("events_dropped_overflow") >= before[0] + n - BUFFER_EVENTS
    node.stamp += FRAME_NS
    node.serve(2)


def test_a_frame_and_event_size_change_resets_and_goes_on(node):
    node.serve(1)
    before = {k: node.count(k) for k in ("image_size_changes", "event_time_resets")}
    size = {"width": W // 2, "height": H // 2}
    node.send_events(node.stamp + 1, node.stamp + 10**6, **size)
    assert node.wait_count("event_time_resets", before["event_time_resets"] + 1)
    first, _ = node.serve(2, **size)  # masks of the new size (serve checks)
    assert node.latency_for(first).keyframe
    assert node.wait_count("image_size_changes", before["image_size_changes"] + 1)
    node.send_events(node.stamp + 1, node.stamp + 10**6)  # and back
    assert node.wait_count("event_time_resets", before["event_time_resets"] + 2)
    [back] = node.serve(1)
    assert node.latency_for(back).keyframe
    assert "sensor size changed from 96 x 64 to 48 x 32" in node.log_path.read_text()


def test_rejections_are_logged_once_per_kind_and_summed(node):
    node.serve(1)
    values = node.values()
    kinds = {k: int(v) for k, v in values.items() if k.startswith("rejected_")
             and k not in ("rejected_total", "rejected_image", "rejected_events")}
    assert sum(kinds.values()) == int(values["rejected_total"])
    assert sum(v for k, v in kinds.items() if k.startswith("rejected_image_")) == \
        int(values["rejected_image"])
    log = node.log_path.read_text()
    for kind in ("image encoding", "events skew", "image nan"):
        assert f"rejected {kind} (1 so far)" in log, kind
