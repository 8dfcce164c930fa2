"""The frame pipeline's rules, in-process and without DDS: the stamp rules every node, ``ness bag
eval`` and ``ness eval`` share, the event window each segmenter gets, and event intake."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from helpers.tiny_models import TINY_ENCODER, tiny_segsnn
from ness_ros.events.batch import EventBatch
from ness_ros.events.cdr import Header
from ness_ros.events.dvs_codec import encode_event_array
from ness_ros.events.errors import InputError
from ness_ros.events.stream import EventStream
from ness_ros.models.evsegsnn import EvSegSNN
from ness_ros.segmentation.event_only import EventSegmenter
from ness_ros.segmentation.gating_config import PUBLISHED_RULE
from ness_ros.segmentation.hybrid import HybridSegmenter
from ness_ros.segmentation.pipeline import FramePipeline, RecordedEvents
from ness_ros.segmentation.working_resolution import SensorRescaler, WorkingResolution

W, H = 64, 48
MS = 1_000_000
WINDOW = TINY_ENCODER.event_window_ns  # 50 ms


def events_between(t0_ms: float, t1_ms: float, count: int = 200, seed: int = 0,
                   width: int = W, height: int = H) -> EventBatch:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(int(t0_ms * MS), int(t1_ms * MS), count))
    return EventBatch.from_arrays(t, rng.integers(0, width, count), rng.integers(0, height, count),
                                  rng.integers(0, 2, count), width=width,
                                  height=height)


def message(batch: EventBatch, stamp_ns: int) -> bytes:
    return encode_event_array(batch, Header.from_ns(stamp_ns, "camera"))


def frame(seed: int = 0, width: int = W, height: int = H) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


def hybrid_pipeline(notices: list[tuple[str, str]] | None = None) -> FramePipeline:
    segmenter = HybridSegmenter(tiny_segsnn(4), TINY_ENCODER, PUBLISHED_RULE)
    notify = (lambda kind, text: notices.append((kind, text))) if notices is not None else None
    return FramePipeline(segmenter, SensorRescaler(WorkingResolution("sensor"), (W, H)),
                         EventStream("dvs"), **({"notify": notify} if notify else {}))


def event_pipeline(events: EventStream | RecordedEvents) -> FramePipeline:
    encoder = replace(TINY_ENCODER, frame_channels=0, frame_mean=(), frame_std=())
    segmenter = EventSegmenter(EvSegSNN(base_width=4, num_steps=2).eval(), encoder)
    return FramePipeline(segmenter, SensorRescaler(WorkingResolution("sensor"), (W, H)), events)


def test_duplicate_and_out_of_order_stamps_are_rejected_and_a_loop_resets_the_state():
    notices: list[tuple[str, str]] = []
    pipeline = hybrid_pipeline(notices)
    pipeline.push_events(message(events_between(0, 1100, count=2000), 1100 * MS))
    for stamp in (1000, 1050):
        pipeline.admit(stamp * MS, size=(W, H))
        assert pipeline.segment(stamp * MS, frame(stamp)) is not None
    with pytest.raises(InputError) as duplicate:
        pipeline.admit(1050 * MS, size=(W, H))
    assert duplicate.value.kind == "duplicate_stamp"
    with pytest.raises(InputError) as late:
        pipeline.admit(1040 * MS, size=(W, H))  # 10 ms back: out of order
    assert late.value.kind == "out_of_order"
    with pytest.raises(InputError) as again:
        pipeline.segment(1050 * MS, frame(1))  # segmented already
    assert again.value.kind == "duplicate_stamp"
    assert pipeline.counts["frame_time_resets"] == 0
    # 950 ms back, beyond the loop tolerance: a bag that restarted. Admitted, and the state is
    # reset: a keyframe with the events of its own window.
    pipeline.admit(100 * MS, size=(W, H))
    result = pipeline.segment(100 * MS, frame(3))
    assert result is not None and result.keyframe and result.reset
    assert pipeline.last_events is not None and pipeline.last_events.t.min() >= 100 * MS - WINDOW
    assert pipeline.counts["frame_time_resets"] == 1
    assert [kind for kind, _ in notices].count("frame_reset") == 1


def test_a_live_stream_refuses_a_stamp_far_from_the_clock_until_it_persists():
    pipeline = hybrid_pipeline()
    now = 1_000 * 10**9
    pipeline.admit(now - 10 * MS, now_ns=now)  # live
    for i in range(9):
        with pytest.raises(InputError) as far:
            pipeline.admit(now + 60 * 10**9 + i * MS, now_ns=now)
        assert far.value.kind == "stamp"
    pipeline.admit(now + 61 * 10**9, now_ns=now)  # the 10th in a row: the clock changed


def test_frames_of_another_size_than_the_event_sensor_are_rejected_and_size_changes_counted():
    notices: list[tuple[str, str]] = []
    pipeline = hybrid_pipeline(notices)
    pipeline.admit(10 * MS, size=(32, 24))  # no events yet: any size goes
    pipeline.admit(20 * MS, size=(W, H))
    assert pipeline.counts["image_size_changes"] == 1 and notices[-1][0] == "image_size"
    pipeline.push_events(message(events_between(0, 30), 30 * MS))
    with pytest.raises(InputError) as mismatch:
        pipeline.admit(40 * MS, size=(32, 24))
    assert mismatch.value.kind == "sensor_mismatch"
    assert pipeline.image_size == (W, H)


def test_hybrid_gets_the_events_since_the_previous_frame_event_only_its_window():
    recording = RecordedEvents(events_between(0, 400, count=4000))
    hybrid = hybrid_pipeline()
    hybrid.replace_events(recording)
    hybrid.admit(100 * MS)
    hybrid.segment(100 * MS, frame())
    assert hybrid.last_events is not None
    assert hybrid.last_events.t.min() >= 100 * MS - WINDOW
    hybrid.admit(300 * MS)
    hybrid.segment(300 * MS, frame())  # 200 ms later: the gate counts all of them
    assert hybrid.last_events is not None
    first, last = int(hybrid.last_events.t.min()), int(hybrid.last_events.t.max())
    assert 100 * MS <= first < 101 * MS and 299 * MS <= last < 300 * MS
    events_only = event_pipeline(recording)
    for stamp in (100, 300):
        events_only.admit(stamp * MS)
        result = events_only.segment(stamp * MS)
        assert result is not None and result.mask.shape == (H, W)
    assert events_only.last_events is not None
    assert int(events_only.last_events.t.min()) >= 300 * MS - WINDOW


def test_event_only_triggers_wait_for_events_and_frames_do_not():
    events_only = event_pipeline(EventStream("dvs"))
    events_only.admit(50 * MS)
    assert not events_only.events_complete(50 * MS)
    assert events_only.segment(50 * MS) is None  # no event yet: nothing to segment
    hybrid = hybrid_pipeline()
    hybrid.admit(50 * MS, size=(W, H))
    result = hybrid.segment(50 * MS, frame())  # a frame goes without events
    assert result is not None and result.keyframe


def test_events_are_complete_up_to_the_later_of_message_stamp_and_newest_event():
    pipeline = hybrid_pipeline()
    pipeline.push_events(message(events_between(0, 40), 60 * MS))  # stamped at its window's end
    assert pipeline.events_complete(60 * MS) and not pipeline.events_complete(61 * MS)
    with pytest.raises(InputError) as skew:
        pipeline.push_events(message(events_between(100, 110), 100 * MS + 10 * 10**9))
    assert skew.value.kind == "skew"
    assert not pipeline.events_complete(61 * MS)  # a rejected message completes nothing


def test_sensor_mismatch_between_the_frame_and_its_events_is_rejected_when_segmenting():
    pipeline = hybrid_pipeline()
    pipeline.admit(50 * MS, size=(32, 24))
    pipeline.push_events(message(events_between(0, 60), 60 * MS))  # 64 x 48 events
    with pytest.raises(InputError) as mismatch:
        pipeline.segment(50 * MS, frame(0, 32, 24))
    assert mismatch.value.kind == "sensor_mismatch"


def test_a_roi_outside_the_sensor_is_an_input_error_of_kind_roi():
    segmenter = HybridSegmenter(tiny_segsnn(4), TINY_ENCODER, PUBLISHED_RULE)
    working = WorkingResolution.from_params("sensor", 60, 0, 32, 32, "sensor")
    pipeline = FramePipeline(segmenter, SensorRescaler(working, (W, H)), EventStream("dvs"))
    pipeline.admit(50 * MS, size=(W, H))
    with pytest.raises(InputError) as roi:
        pipeline.segment(50 * MS, frame())
    assert roi.value.kind == "roi"
