"""Faults of the inputs, against the hybrid node in its own process (replayed stamps): the event
publisher stops and comes back, the image stream pauses, stamps jump back (a bag loop); and the
node ends cleanly on SIGINT (the fixture's teardown)."""

from __future__ import annotations

import time

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from test_faults_support import FRAME_NS, NodeDriver, serving_node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with serving_node("faults_hybrid", {
            "theta": 1e6, "residual_theta": 1e6, "grid_rows": 2, "grid_cols": 3,
            "keyframe_max_age_s": 1.0, "event_wait_s": 0.05, "events_timeout_s": 0.5,
            "diagnostics_period_s": 0.2, "latency_warn_ms": 1e5, "latency_error_ms": 1e5,
            "drop_warn_fraction": 1.0, "drop_error_fraction": 1.0},
            tmp_path_factory.mktemp("faults")) as driver:
        yield driver
    code, elapsed = driver.stopped
    assert code == 0 and elapsed < 2.0, (code, elapsed, driver.log())


def status_after(node: NodeDriver, since: int) -> list[tuple[int, str]]:
    return [(level, message) for level, message, _ in node.diagnostics[since:]]


def test_event_publisher_stops_and_comes_back(node):
    node.serve(2)
    without = node.count("frames_without_events")
    mark = len(node.diagnostics)
    # Frames go on without events for about 1.5 s: every one still gets its mask, and the
    # diagnostics say that events are missing.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        node.serve(1, events=False)
    assert node.wait_count("frames_without_events", without + 5)
    stale = lambda: [m for _, m in status_after(node, mark) if "no event message" in m]  # noqa: E731
    assert node.spin_until(lambda: bool(stale()), 5.0), status_after(node, mark)
    warn = [lvl for lvl, m in status_after(node, mark) if "no event message" in m]
    assert all(level == DiagnosticStatus.WARN[0] for level in warn)
    assert float(node.values()["event_input_age_s"]) > 0.5
    # Events come back: masks go on, the warning goes away, frames are served with events.
    node.serve(3)
    mark = len(node.diagnostics)
    node.serve(3)
    assert node.spin_until(lambda: len(node.diagnostics) > mark + 1, 5.0)
    assert status_after(node, len(node.diagnostics) - 1) == [(DiagnosticStatus.OK[0], "ok")]
    after = int(node.settle()["frames_without_events"])
    node.serve(3)
    assert int(node.settle()["frames_without_events"]) == after


def test_image_pause_longer_than_keyframe_max_age_gives_a_keyframe(node):
    # Both rules' thresholds are huge: only keyframes (every keyframe_max_age_s = 1 s of
    # stamps) recompute.
    for _ in range(25):
        if node.latency_for(node.serve(1)[0]).keyframe:
            break
    assert not any(node.latency_for(s).keyframe for s in node.serve(2))
    # The image stream pauses 1.5 s (> keyframe_max_age_s = 1 s) while events go on.
    for k in range(30):
        node.send_events(node.stamp + k * FRAME_NS, node.stamp + (k + 1) * FRAME_NS)
        time.sleep(0.05)
    [first] = node.serve(1, gap_ns=30 * FRAME_NS)
    rest = node.serve(3)
    assert node.latency_for(first).keyframe, "the first frame after the pause is no keyframe"
    assert node.latency_for(first).regions_recomputed == node.latency_for(first).regions_total
    assert not any(node.latency_for(s).keyframe for s in rest)


def test_bag_loop_resets_the_state_with_a_warning_and_masks_go_on(node):
    node.serve(3)
    resets = node.count("frame_time_resets"), node.count("event_time_resets")
    node.stamp -= 20 * 10**9  # the bag starts again, 20 s back
    stamps = node.serve(3)
    assert node.latency_for(stamps[0]).keyframe
    assert node.wait_count("frame_time_resets", resets[0] + 1)
    assert node.wait_count("event_time_resets", resets[1] + 1)
    log = node.log_path.read_text()
    assert "frame stamp went back by 19.950 s" in log and "state reset" in log
    assert "event time went back by" in log and "event buffer reset" in log
