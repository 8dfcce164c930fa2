"""The replay's book-keeping without ROS: publication times, latency, matching, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.bag import BagError, Frame, RecordOptions, write_recording
from ness_ros.bag.live_stats import PublishLog, ReplayTally
from ness_ros.events import EventBatch


def test_publish_log_finds_the_input_of_each_mask():
    log = PublishLog()
    log.frame(1_000, 10.0)
    log.frame(1_000, 99.0)  # a frame stamp published again keeps its first time
    assert log.sent(1_000, by_frame=True) == 10.0 and log.sent(2_000, by_frame=True) is None
    for newest, sent in ((100, 1.0), (200, 2.0), (200, 2.5), (300, 3.0)):
        log.events(newest, sent)
    # A period-triggered mask is stamped newest event + 1: the message that brought that event.
    assert log.sent(201, by_frame=False) == 2.0
    assert log.sent(150, by_frame=False) == 2.0  # event 149 came with the message up to 200
    assert log.sent(301, by_frame=False) == 3.0 and log.sent(302, by_frame=False) is None


def test_tally_latency_matching_and_overlays():
    log = PublishLog()
    tally = ReplayTally(log, by_frame=True, overlay_spacing_ns=100, overlay_count=2)
    label = np.zeros((4, 6), np.uint8)
    for stamp in (100, 200, 300):
        log.frame(stamp, stamp / 1000)
        tally.keep_frame(stamp, np.full((4, 6, 3), 7, np.uint8))
        tally.add_label(stamp, label)
    tally.add_mask(200, label.copy(), 0.25)
    tally.add_mask(100, np.ones((4, 6), np.uint8), 0.13)
    tally.add_mask(999, label.copy(), 1.0)    # no such input
    assert tally.masks == 3 and tally.unknown_inputs == 1
    assert tally.latencies_ms == pytest.approx([50.0, 30.0])
    summary = tally.evaluator.summary()
    assert summary.frames_evaluated == 2 and summary.pixel_accuracy == pytest.approx(0.5)
    assert len(tally.overlays) == 1  # 100 is not 100 ns after 200; 999 has no frame
    tally.add_diagnostics({"events_per_s": "12.5", "frames_dropped": "3"}, 2.0)
    tally.add_diagnostics({"events_per_s": "bad"}, 3.0)
    assert tally.node_events_per_s_max == 12.5 and tally.diagnostics_s == 3.0


def test_recording_refuses_bad_input(tmp_path):
    events = EventBatch.from_arrays(np.array([5, 3]), np.array([0, 1]), np.array([0, 0]),
                                    np.array([1, 0]), width=4, height=4)
    with pytest.raises(BagError, match="sorted by time"):
        write_recording(tmp_path / "a", events, [], RecordOptions(progress=False))
    ok = EventBatch(events.events[::-1].copy(), 4, 4)
    frame = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(BagError, match="frame stamps must increase"):
        write_recording(tmp_path / "b", ok, [Frame(9, frame, "rgb8"), Frame(9, frame, "rgb8")],
                        RecordOptions(progress=False))
    with pytest.raises(BagError, match="storage must be one of"):
        write_recording(tmp_path / "c", ok, [], RecordOptions(storage="rosbag1",
                                                              progress=False))
    with pytest.raises(BagError, match="event_message must be one of"):
        write_recording(tmp_path / "d", ok, [], RecordOptions(event_message="aedat",
                                                              progress=False))
    summary = write_recording(tmp_path / "e", ok, [Frame(4, frame, "rgb8")],
                              RecordOptions(event_period_s=1e-9, progress=False))
    assert summary.events == 2 and summary.frames == 1
