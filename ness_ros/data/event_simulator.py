"""An ESIM / v2e-style event-camera simulator.

Model, per pixel (x, y):

* the pixel sees the log intensity L = log(Y + eps) of the luminance Y (linear, about 0..1);
* between two rendered images at t0 and t1, L is interpolated linearly in time;
* the pixel keeps a reference level r (L at its last event). It emits an ON event each time L
  rises to r + C_on(x, y) and an OFF event each time it falls to r - C_off(x, y), and moves r by
  that threshold; one render interval may hold several crossings and all are emitted, each at
  its exact crossing time on the linear segment (no rounding to a sub-step grid);
* thresholds C_on, C_off are drawn once per pixel around a nominal value with a spread
  (fixed-pattern mismatch), clipped below at ``min_threshold``;
* after an event the pixel is blind for a refractory period; its reference is latched to the
  signal when the period ends (changes during the period are lost, as in a DVS pixel reset);
* background activity: Poisson noise events at ``noise_rate_hz`` per pixel, random polarity, and
  a few hot pixels firing at ``hot_pixel_rate_hz``. Noise events do not touch the reference.

Sub-steps: ESIM and v2e step the signal so that no pixel's log change per step exceeds half the
threshold, then interpolate timestamps within the step. Here the crossing times of the linear
interpolant are solved in closed form, which is the limit of arbitrarily fine steps (so the
"C/2 per step" condition always holds), at the cost of one pass over the pixels per render.
What linear interpolation cannot know is the true intensity path between two renders; that is
why :mod:`ness_ros.data.sequence` chooses the number of renders per frame adaptively from the
log change between renders (:func:`substeps_needed` gives the sub-step count ESIM would use).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from ness_ros.data.errors import DataError
from ness_ros.events.batch import EVENT_DTYPE, EventBatch

#: Rec. 601 luma weights, applied to linear RGB.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class EventSimConfig:
    """Sensor parameters. Thresholds are in log-intensity units, times in seconds, rates in Hz.

    Defaults resemble a DAVIS346 in daylight: C = 0.2 +- 0.03, 0.5 ms refractory period,
    0.1 Hz background activity per pixel, hot pixels at 0.005% of the array.
    """

    contrast_threshold: float = 0.2
    threshold_sigma: float = 0.03
    min_threshold: float = 0.05
    refractory_s: float = 5e-4
    log_eps: float = 0.02
    noise_rate_hz: float = 0.1
    hot_pixel_fraction: float = 5e-5
    hot_pixel_rate_hz: float = 50.0

    def __post_init__(self) -> None:
        for name in ("contrast_threshold", "min_threshold", "log_eps"):
            if not getattr(self, name) > 0:
                raise DataError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("threshold_sigma", "refractory_s", "noise_rate_hz", "hot_pixel_fraction",
                     "hot_pixel_rate_hz"):
            if getattr(self, name) < 0:
                raise DataError(f"{name} must be >= 0, got {getattr(self, name)}")


def luminance(rgb: NDArray[np.floating]) -> NDArray[np.float32]:
    """Linear RGB (H, W, 3) -> luminance (H, W) float32."""
    return np.asarray(rgb, dtype=np.float32) @ LUMA


def log_intensity(luma: NDArray[np.floating], eps: float) -> NDArray[np.float32]:
    """log(max(Y, 0) + eps), float32, same shape as ``luma``."""
    return np.log(np.maximum(np.asarray(luma, dtype=np.float32), 0.0) + np.float32(eps))


def substeps_needed(log_a: NDArray[np.floating], log_b: NDArray[np.floating],
                    threshold: float) -> int:
    """Sub-steps that keep every pixel's log change per step within threshold / 2 (ESIM)."""
    return max(1, int(np.ceil(float(np.max(np.abs(log_b - log_a))) / (threshold / 2))))


class EventSimulator:
    """Stateful simulator of one sensor; feed it log-intensity images in time order.

    Args:
        width, height: sensor size in pixels.
        config: sensor parameters.
        seed: seeds the per-pixel thresholds, the hot pixels and the noise (deterministic).
    """

    def __init__(self, width: int, height: int, config: EventSimConfig | None = None,
                 seed: int | np.random.SeedSequence = 0) -> None:
        self.width, self.height = int(width), int(height)
        self.config = cfg = config or EventSimConfig()
        fixed, noise = np.random.SeedSequence(seed).spawn(2) if isinstance(seed, int) \
            else seed.spawn(2)
        rng = np.random.default_rng(fixed)
        n = self.width * self.height
        shape = (self.height, self.width)
        self.c_on = np.maximum(rng.normal(cfg.contrast_threshold, cfg.threshold_sigma, shape),
                               cfg.min_threshold).astype(np.float64)
        self.c_off = np.maximum(rng.normal(cfg.contrast_threshold, cfg.threshold_sigma, shape),
                                cfg.min_threshold).astype(np.float64)
        n_hot = int(round(n * cfg.hot_pixel_fraction))
        self.hot_pixels = np.sort(rng.choice(n, size=n_hot, replace=False)) if n_hot else \
            np.zeros(0, np.int64)
        self._noise_rng = np.random.default_rng(noise)
        self._log: NDArray[np.float64] | None = None
        self._ref = np.zeros(n)
        self._last = np.full(n, -np.inf)
        self.t_ns = 0

    def reset(self, log_image: NDArray[np.floating], t_ns: int) -> None:
        """Start at time t_ns (int, ns) with references equal to ``log_image`` (H, W)."""
        self._check(log_image)
        self._log = np.asarray(log_image, np.float64).ravel().copy()
        self._ref = self._log.copy()
        self._last = np.full(self._log.size, -np.inf)
        self.t_ns = int(t_ns)

    def advance(self, log_image: NDArray[np.floating], t_ns: int) -> EventBatch:
        """Move to time t_ns with the new log image (H, W); events in (previous t, t_ns].

        Returns an :class:`EventBatch` sorted by time (stable: ties keep pixel order).
        """
        if self._log is None:
            raise DataError("call reset() before advance()")
        self._check(log_image)
        t0, t1 = self.t_ns, int(t_ns)
        if t1 <= t0:
            raise DataError(f"time must increase: {t1} ns after {t0} ns")
        new = np.asarray(log_image, np.float64).ravel()
        cap = _capacity(self._log, new, self._ref, self.c_on.ravel(), self.c_off.ravel())
        buf_t = np.empty(cap, np.float64)
        buf_i = np.empty(cap, np.int64)
        buf_p = np.empty(cap, np.uint8)
        count = _crossings(self._log, new, self._ref, self._last, self.c_on.ravel(),
                           self.c_off.ravel(), float(t0), float(t1),
                           self.config.refractory_s * 1e9, buf_t, buf_i, buf_p)
        # Crossings lie strictly after t0; rounding to whole ns must not move one onto t0.
        times = np.maximum(np.rint(buf_t[:count]).astype(np.int64), t0 + 1)
        pix, pol = buf_i[:count], buf_p[:count]
        nt, ni, np_ = self._noise(t0, t1)
        if len(nt):
            times, pix, pol = (np.concatenate(a) for a in ((times, nt), (pix, ni), (pol, np_)))
        order = np.argsort(times, kind="stable")
        events = np.empty(len(order), dtype=EVENT_DTYPE)
        events["t"] = times[order]
        events["x"] = pix[order] % self.width
        events["y"] = pix[order] // self.width
        events["polarity"] = pol[order]
        self._log = new.copy()
        self.t_ns = t1
        return EventBatch(events, self.width, self.height)

    def _noise(self, t0: int, t1: int) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                NDArray[np.uint8]]:
        cfg, rng = self.config, self._noise_rng
        dt = (t1 - t0) * 1e-9
        n_ba = rng.poisson(cfg.noise_rate_hz * self.width * self.height * dt)
        pix = rng.integers(0, self.width * self.height, n_ba)
        hot = rng.poisson(cfg.hot_pixel_rate_hz * dt, len(self.hot_pixels))
        pix = np.concatenate([pix, np.repeat(self.hot_pixels, hot)]).astype(np.int64)
        # Uniform in (t0, t1]: t1 - floor(u * dt) with u in [0, 1).
        times = t1 - np.floor(rng.random(len(pix)) * (t1 - t0)).astype(np.int64)
        return times, pix, rng.integers(0, 2, len(pix)).astype(np.uint8)

    def _check(self, image: NDArray[np.floating]) -> None:
        if np.shape(image) != (self.height, self.width):
            raise DataError(f"log image shape {np.shape(image)}, expected "
                            f"{(self.height, self.width)}")


@numba.njit(cache=True)
def _capacity(old, new, ref, c_on, c_off):
    """Upper bound on the events of one interval (crossings need |L - r| >= C)."""
    total = 0
    for p in range(old.size):
        c = min(c_on[p], c_off[p])
        span = abs(new[p] - old[p]) + abs(old[p] - ref[p])
        total += int(span / c) + 1
    return total


@numba.njit(cache=True)
def _crossings(old, new, ref, last, c_on, c_off, t0, t1, refractory, out_t, out_i, out_p):
    """Threshold crossings of every pixel's linear log ramp old -> new over [t0, t1] (ns).

    Updates ``ref`` and ``last`` (time of the last event) in place; writes events to the out
    buffers and returns their count.
    """
    n = 0
    dt = t1 - t0
    for p in range(old.size):
        a, b = old[p], new[p]
        r = ref[p]
        slope = (b - a) / dt
        ready = last[p] + refractory
        start = a
        if ready > t0:  # blind: the reference follows the signal until the period ends
            if ready >= t1:
                ref[p] = b
                continue
            start = a + slope * (ready - t0)
            r = start
        # One loop for both polarities: ``sign`` turns an OFF ramp into a rising one (negation
        # is exact, so the crossings are those of separate ON and OFF loops).
        if b > start:
            sign, c, polarity = 1.0, c_on[p], 1
        elif b < start:
            sign, c, polarity = -1.0, c_off[p], 0
        else:
            ref[p] = r
            continue
        level = r + sign * c
        while sign * level <= sign * b:
            tc = t0 + (level - a) / slope
            out_t[n], out_i[n], out_p[n] = tc, p, polarity
            n += 1
            last[p] = tc
            r = level
            if refractory > 0.0:
                ready = tc + refractory
                if ready >= t1:
                    r = b
                    break
                r = a + slope * (ready - t0)
            level = r + sign * c
        ref[p] = r
    return n
