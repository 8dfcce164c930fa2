"""``ness bench load --event-message packet``: the restamped EventPackets decode, with the
project's decoder and the node's input stream, to events at their message's stamp plus their
offsets, in full, with consecutive ``seq`` (no ROS needed)."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.bench.load import HEIGHT, WIDTH, RestampedPackets
from ness_ros.events.packet_codec import EventPacketDecoder, parse_event_packet
from ness_ros.events.stream import EventStream

PERIOD_NS = 1_000_000
#: 1500 us before a wrap of evt3's 24-bit microsecond counter: the first messages cross it
#: and the TIME_HIGH carries inside a message.
T0_NS = (100_000 * 2**24 - 1500) * 1000


@pytest.mark.parametrize("encoding", ["evt3", "libcaer"])
def test_restamped_packets_decode_to_the_schedule(encoding):
    n = 5000
    packets = RestampedPackets(n, PERIOD_NS, encoding, width=WIDTH, height=HEIGHT, count=3)
    stream = EventStream("packet")
    for k in range(8):
        stamp = T0_NS + k * PERIOD_NS
        data = packets.message(k, stamp, k)
        info, _ = parse_event_packet(data)
        assert (info.encoding, info.seq, info.time_base, info.header.stamp_ns) == (
            encoding, k, stamp, stamp)
        result = stream.push(data)
        assert result.events == n and result.late == 0 and result.out_of_bounds == 0
        assert not result.reset
    assert stream.lost_packets == 0 and stream.counts["events"] == 8 * n
    for k in range(8):
        stamp = T0_NS + k * PERIOD_NS
        got = stream.query(stamp, stamp + PERIOD_NS)
        expected = stamp + packets.offsets_us[k % 3] * 1000
        assert len(got) == n
        np.testing.assert_array_equal(np.sort(got.t), expected)
    # A message the transport lost: the node counts the gap in seq.
    stream.push(packets.message(9, T0_NS + 9 * PERIOD_NS, 9))
    assert stream.lost_packets == 1


def test_libcaer_times_are_time_base_plus_offsets_and_evt3_is_compact():
    libcaer = RestampedPackets(10_000, PERIOD_NS, "libcaer", width=WIDTH, height=HEIGHT)
    batch, info = EventPacketDecoder().decode(libcaer.message(1, T0_NS, 5))
    np.testing.assert_array_equal(batch.t, T0_NS + libcaer.offsets_us[1] * 1000)
    assert libcaer.payload_bytes / 10_000 == 8.0
    evt3 = RestampedPackets(10_000, PERIOD_NS, "evt3", width=WIDTH, height=HEIGHT)
    assert 2.0 < evt3.payload_bytes / 10_000 < 3.0  # 10 events per microsecond, one row each
    # Restamping writes into the template: the same message twice decodes the same way.
    assert evt3.message(0, T0_NS, 0) == evt3.message(4, T0_NS, 0)
