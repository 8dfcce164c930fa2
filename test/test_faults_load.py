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
