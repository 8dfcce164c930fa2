"""Bad event_camera_msgs/EventPacket input, sent to a hybrid node with ``event_message: packet``
(evt3 events) in its own process: each case is rejected or handled as the table in the
docstring of :mod:`ness_ros.ros.node_base` says, counted under its own key in /diagnostics, and
the frames sent right after it still get their masks with their stamps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from test_faults_support import H, NodeDriver, W, random_events, serving_node

from ness_ros.events import (
    Header,
    PacketInfo,
    encode_event_packet,
    encode_libcaer,
    parse_event_packet,
)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with serving_node("bad_input_packets", {
            "theta": 1.0, "grid_rows": 2, "grid_cols": 3, "event_wait_s": 0.1,
            "diagnostics_period_s": 0.2}, tmp_path_factory.mktemp("bad_packets"),
            event_message="packet") as driver:
        yield driver
    assert driver.stopped[0] == 0, driver.log()


def valid_packet(node) -> bytes:
    """The next evt3 packet of the driver's stream (100 events in the next millisecond)."""
    batch = random_events(node.rng, node.stamp + 1, node.stamp + 10**6, 100)
    node.stamp += 10**6  # the next frame's events come after these
    return node.packets.encode(batch, node.stamp - 10**6 + 1)


def rewritten(node, **changes) -> bytes:
    """The next valid packet with fields (``encoding``, ``is_bigendian``, ``width``...) or its
    ``payload`` replaced."""
    info, payload = parse_event_packet(valid_packet(node))
    payload = changes.pop("payload", lambda p: p)(bytes(payload))
    for name, value in changes.items():
        setattr(info, name, value)
    return encode_event_packet(info, payload)


def libcaer_negative(node) -> bytes:
    batch = random_events(node.rng, node.stamp + 1, node.stamp + 10**6, 10)
    payload = bytearray(encode_libcaer(batch, node.stamp))
    payload[4:8] = (-5).to_bytes(4, "little", signed=True)  # first event's t_us
    info = PacketInfo(Header.from_ns(node.stamp + 1, "cam"), W, H, node.packets.seq,
                      node.stamp, "libcaer")
    node.packets.seq += 1
    return encode_event_packet(info, bytes(payload))


@dataclass
class Case:
    make: Callable[[NodeDriver], bytes]
    counter: str
    by: int = 1


CASES = {
    "unknown encoding": Case(lambda n: rewritten(n, encoding="evt9"),
                             "rejected_events_encoding"),
    "big-endian payload": Case(lambda n: rewritten(n, is_bigendian=True),
                               "rejected_events_encoding"),
    "evt3 payload cut mid-word": Case(lambda n: rewritten(n, payload=lambda p: p[:-1]),
                                      "rejected_events_payload"),
    "libcaer negative time": Case(libcaer_negative, "rejected_events_payload"),
    "EventPacket bytes truncated": Case(lambda n: valid_packet(n)[:-10],
                                        "rejected_events_malformed"),
    "sensor size 0": Case(lambda n: rewritten(n, width=0), "rejected_events_malformed"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_packet_is_rejected_counted_and_masks_go_on(node, case):
    node.serve(1)
    before = node.count(case.counter)
    node.events_pub.publish(case.make(node))
    assert node.wait_count(case.counter, before + case.by), (case.counter, node.values(),
                                                               node.log())
    node.serve(2)


def test_evt3_payload_cut_at_a_word_boundary_gives_the_events_before_the_cut(node):
    node.serve(1)
    node.settle()
    before = node.count("events_received"), node.count("rejected_events")
    node.events_pub.publish(rewritten(node, payload=lambda p: p[:len(p) // 4 * 2]))
    assert node.wait_count("events_received", before[0] + 1)
    assert node.count("events_received") < before[0] + 100
    node.serve(2)
    assert node.count("rejected_events") == before[1]


def test_skipped_sequence_numbers_are_counted_and_decoding_goes_on(node):
    node.serve(1)
    before = node.count("events_lost_packets")
    node.packets.seq += 5
    node.serve(2)
    assert node.wait_count("events_lost_packets", before + 5)
    assert np.isfinite(float(node.values()["events_per_s"]))
