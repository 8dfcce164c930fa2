"""Machine load beside benchmark figures: busy and steal fractions from the kernel's counters."""

from __future__ import annotations

import math
import sys
import time

import pytest

from ness_ros.machine_load import cpu_counters, load_between


def test_fractions_from_two_readings(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n")
    before = cpu_counters(stat)
    stat.write_text("cpu  160 0 70 880 60 0 10 20 5 0\ncpu0 1 2 3\n")
    after = cpu_counters(stat)
    assert before == [100, 0, 50, 800, 50, 0, 0, 0, 0, 0]
    load = load_between(before, after)
    # deltas: user 60, system 20, idle 80, iowait 10, softirq 10, steal 20 -> 200 ticks
    assert load["cpu_busy"] == pytest.approx(110 / 200)
    assert load["cpu_steal"] == pytest.approx(20 / 200)


def test_unknown_readings_give_nan(tmp_path):
    assert cpu_counters(tmp_path / "missing") is None
    (tmp_path / "other").write_text("intr 1 2 3\n")
    assert cpu_counters(tmp_path / "other") is None
    assert all(math.isnan(v) for v in load_between(None, [1] * 10).values())
    assert all(math.isnan(v) for v in load_between([1] * 10, [1] * 10).values())  # no time


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_this_machine_reports_its_counters():
    before = cpu_counters()
    end = time.monotonic() + 0.2
    while time.monotonic() < end:  # 20 ticks of this core busy at 100 Hz
        pass
    load = load_between(before, cpu_counters())
    assert before is not None and len(before) >= 8
    assert 0.0 < load["cpu_busy"] <= 1.0 and 0.0 <= load["cpu_steal"] <= 1.0
