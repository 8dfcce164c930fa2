"""The event simulator against analytic intensity ramps: counts, polarities, crossing times,
refractory period, threshold spread, noise."""

from __future__ import annotations

import numpy as np
import pytest

from ness_ros.data.errors import DataError
from ness_ros.data.event_simulator import (
    EventSimConfig,
    EventSimulator,
    log_intensity,
    luminance,
    substeps_needed,
)

W, H = 40, 30
CLEAN = EventSimConfig(noise_rate_hz=0.0, hot_pixel_fraction=0.0, refractory_s=0.0)


def per_pixel(events, width=W, height=H):
    return np.bincount(events.y.astype(np.int64) * width + events.x,
                       minlength=width * height).reshape(height, width)


def ramp(sim: EventSimulator, rise: float, duration_ns: int, steps: list[int] | None = None):
    """Uniform image whose log intensity changes linearly by ``rise`` over ``duration_ns``,
    fed in ``steps`` (interval lengths, ns; one step by default)."""
    sim.reset(np.zeros((sim.height, sim.width)), 0)
    steps = steps or [duration_ns]
    assert sum(steps) == duration_ns
    t, out = 0, []
    for dt in steps:
        t += dt
        out.append(sim.advance(np.full((sim.height, sim.width), rise * t / duration_ns), t))
    return out


@pytest.mark.parametrize("rise, polarity", [(1.7, 1), (-1.3, 0)])
def test_linear_ramp_counts_polarity_and_times_match_analytic_crossings(rise, polarity):
    sim = EventSimulator(W, H, CLEAN, seed=3)
    duration = 10_000_000
    (ev,) = ramp(sim, rise, duration)
    thresholds = sim.c_on if rise > 0 else sim.c_off
    # Several crossings per pixel in one render interval: all must be emitted.
    expected = np.floor(abs(rise) / thresholds).astype(int)
    assert expected.min() >= 4
    np.testing.assert_array_equal(per_pixel(ev), expected)
    assert np.all(ev.polarity == polarity)
    assert ev.is_time_sorted()
    # k-th event of pixel p at k * C_p / |rise| * duration (ns), rounded to whole ns.
    order = np.lexsort((ev.t, ev.x, ev.y))
    xs, ys, ts = ev.x[order], ev.y[order], ev.t[order]
    k = np.concatenate([np.arange(1, n + 1) for n in expected.ravel()])
    analytic = k * thresholds[ys, xs] / abs(rise) * duration
    assert np.max(np.abs(ts - analytic)) <= 1.0


def test_splitting_the_ramp_into_uneven_steps_changes_nothing():
    """Linear interpolation in log space: crossing times do not depend on the render grid."""
    whole = EventSimulator(W, H, CLEAN, seed=5)
    split = EventSimulator(W, H, CLEAN, seed=5)
    (one,) = ramp(whole, 2.3, 9_000_000)
    parts = ramp(split, 2.3, 9_000_000, steps=[1_000_000, 333_333, 2_666_667, 5_000_000])
    joined = np.concatenate([p.events for p in parts])
    assert len(joined) == len(one)
    key = np.lexsort((one.t, one.x, one.y))
    key2 = np.lexsort((joined["t"], joined["x"], joined["y"]))
    np.testing.assert_array_equal(one.x[key], joined["x"][key2])
    assert np.max(np.abs(one.t[key] - joined["t"][key2])) <= 1


def test_refractory_period_spaces_events_by_threshold_time_plus_period():
    refractory = 2e-4
    sim = EventSimulator(W, H, EventSimConfig(noise_rate_hz=0.0, hot_pixel_fraction=0.0,
                                              refractory_s=refractory), seed=7)
    duration, rise = 20_000_000, 4.0
    parts = ramp(sim, rise, duration, steps=[3_000_000, 7_000_000, 10_000_000])
    ev = np.concatenate([p.events for p in parts])
    slope = rise / duration  # log units per ns
    # After an event the pixel is blind for the period, then needs a full threshold again:
    # consecutive events are C/slope + refractory apart; the first comes at C/slope.
    for y, x in [(0, 0), (5, 17), (29, 39)]:
        t = np.sort(ev["t"][(ev["x"] == x) & (ev["y"] == y)])
        step = sim.c_on[y, x] / slope
        assert abs(t[0] - step) <= 1
        np.testing.assert_allclose(np.diff(t), step + refractory * 1e9, atol=2)
        assert len(t) == int((duration - step) // (step + refractory * 1e9)) + 1
    no_refr = EventSimulator(W, H, CLEAN, seed=7)
    (full,) = ramp(no_refr, rise, duration)
    assert len(ev) < len(full)


def test_thresholds_spread_around_nominal_and_are_clipped():
    sim = EventSimulator(200, 150, EventSimConfig(contrast_threshold=0.2, threshold_sigma=0.03),
                         seed=11)
    for c in (sim.c_on, sim.c_off):
        assert c.mean() == pytest.approx(0.2, abs=0.002)
        assert c.std() == pytest.approx(0.03, abs=0.002)
    assert abs(np.corrcoef(sim.c_on.ravel(), sim.c_off.ravel())[0, 1]) < 0.05
    wide = EventSimulator(100, 100, EventSimConfig(threshold_sigma=0.2, min_threshold=0.05))
    assert wide.c_on.min() == pytest.approx(0.05)
    same = EventSimulator(200, 150, EventSimConfig(), seed=11)
    other = EventSimulator(200, 150, EventSimConfig(), seed=12)
    np.testing.assert_array_equal(sim.c_on, same.c_on)
    assert not np.array_equal(sim.c_on, other.c_on)


def test_threshold_spread_makes_pixels_fire_differently_on_a_uniform_ramp():
    sim = EventSimulator(W, H, CLEAN, seed=2)
    (ev,) = ramp(sim, 0.9, 5_000_000)
    counts = per_pixel(ev)
    assert len(np.unique(counts)) >= 3  # C about 0.14..0.26 -> 3 to 6 events for a rise of 0.9
    no_spread = EventSimulator(W, H, EventSimConfig(noise_rate_hz=0, hot_pixel_fraction=0,
                                                    refractory_s=0, threshold_sigma=0), seed=2)
    (ev2,) = ramp(no_spread, 0.9, 5_000_000)
    assert np.all(per_pixel(ev2) == 4)


def test_background_noise_and_hot_pixels():
    cfg = EventSimConfig(noise_rate_hz=5.0, hot_pixel_fraction=0.001, hot_pixel_rate_hz=200.0)
    sim = EventSimulator(100, 100, cfg, seed=4)
    img = np.zeros((100, 100))
    sim.reset(img, 1_000)
    batches = [sim.advance(img, 1_000 + k * 100_000_000) for k in range(1, 21)]  # 2 s
    ev = np.concatenate([b.events for b in batches])
    assert len(sim.hot_pixels) == 10
    hot = np.isin(ev["y"].astype(np.int64) * 100 + ev["x"], sim.hot_pixels)
    assert (~hot).sum() == pytest.approx(5.0 * 10_000 * 2.0, rel=0.03)
    assert hot.sum() == pytest.approx(10 * 200.0 * 2.0, rel=0.1)
    assert ev["polarity"].mean() == pytest.approx(0.5, abs=0.02)
    for k, b in enumerate(batches):  # each batch inside its interval (t0, t1], sorted
        assert b.is_time_sorted()
        assert b.t.min() > 1_000 + k * 100_000_000 and b.t.max() <= 1_000 + (k + 1) * 100_000_000


def test_errors_name_the_problem():
    sim = EventSimulator(W, H, CLEAN)
    with pytest.raises(DataError, match="reset"):
        sim.advance(np.zeros((H, W)), 10)
    sim.reset(np.zeros((H, W)), 100)
    with pytest.raises(DataError, match="time must increase"):
        sim.advance(np.zeros((H, W)), 100)
    with pytest.raises(DataError, match="shape"):
        sim.advance(np.zeros((W, H)), 200)
    with pytest.raises(DataError, match="contrast_threshold"):
        EventSimConfig(contrast_threshold=0.0)
    with pytest.raises(DataError, match="refractory_s"):
        EventSimConfig(refractory_s=-1.0)


def test_luminance_log_and_substeps():
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[0, 0] = (1.0, 1.0, 1.0)
    lum = luminance(rgb)
    assert lum[0, 0] == pytest.approx(1.0) and lum[1, 1] == 0.0
    log = log_intensity(lum, 0.02)
    assert log[1, 1] == pytest.approx(np.log(0.02)) and log.dtype == np.float32
    assert substeps_needed(np.zeros(4), np.array([0.0, 0.05, -0.95, 0.2]), 0.2) == 10
