"""``ness bench load`` end to end, short and light: the hybrid node in its own process under a
stream of events and frames, its memory sampled, its masks and diagnostics read. The full
benchmark (10 M events/s for 60 s) is run by hand: ``ness bench load``."""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_short_load_run_reports_memory_latency_and_drops(tmp_path):
    path = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "-m", "ness_ros.cli.main", "bench", "load", "--duration", "3",
         "--event-rate", "2e5", "--json", str(path), "--log-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RSS peak (VmHWM)" in result.stdout and "latency p95" in result.stdout
    figures = json.loads(path.read_text())["figures"]
    assert "tiny untrained SegSNN" in figures["model"] or "weights" in figures["model"]
    assert figures["node_exit_code"] == 0
    assert 2.5 < figures["duration_s"] < 10
    assert figures["events_per_s_published"] > 1e5
    assert 0 < figures["events_received"] <= figures["events_published"]
    assert figures["masks_received"] > 0 and figures["latency_p50_ms"] > 0
    assert figures["rss_peak_mb"] >= figures["rss_end_mb"] > 50
    assert figures["frames_published"] >= 50


def _packet_run(tmp_path, encoding):
    path = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "-m", "ness_ros.cli.main", "bench", "load", "--duration", "3",
         "--event-rate", "1e6", "--event-message", "packet", "--encoding", encoding,
         "--json", str(path), "--log-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"EventPackets ({encoding})" in result.stdout and "node CPU" in result.stdout
    report = json.loads(path.read_text())
    assert report["config"]["event_message"] == "packet"
    assert report["config"]["encoding"] == encoding
    figures = report["figures"]
    assert figures["message_type"] == "event_camera_msgs/EventPacket"
    assert figures["encoding"] == encoding
    assert figures["node_exit_code"] == 0
    published, received = figures["events_published"], figures["events_received"]
    assert figures["events_per_s_published"] > 5e5
    # The events reached the node, none refused (skew, payload) or trimmed as late: whatever
    # did not arrive is counted as lost, and whole lost messages show as seq gaps at the node.
    assert 0.5 * published <= received <= published
    assert figures["rejected_events"] == 0 and figures["events_late"] == 0
    assert figures["events_lost_in_transport"] == published - received
    per_message = published / figures["event_messages_published"]
    assert figures["event_packets_lost"] * per_message <= figures["events_lost_in_transport"]
    assert figures["masks_received"] > 0 and figures["latency_p50_ms"] > 0
    assert figures["latency_p95_ms"] >= figures["latency_p50_ms"]
    assert figures["rss_peak_mb"] >= figures["rss_end_mb"] > 50
    assert "rss_trend_second_half_mb_per_min" in figures
    assert figures["node_cpu_cores"] > 0 and figures["event_intake_cores"] > 0
    return figures


def test_a_short_load_run_of_evt3_event_packets(tmp_path):
    figures = _packet_run(tmp_path, "evt3")
    assert 2 <= figures["payload_bytes_per_event"] < 8


def test_a_short_load_run_of_libcaer_event_packets(tmp_path):
    figures = _packet_run(tmp_path, "libcaer")
    assert figures["payload_bytes_per_event"] == 8
