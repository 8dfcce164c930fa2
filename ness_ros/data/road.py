"""Road geometry and ego motion of a synthetic drive, deterministic from a random generator.

World frame: a flat ground plane with x lateral (metres, right of the road's start heading), z
forward (metres) and height above the ground. The road is a centre line parameterised by arc
length s (metres) with a smooth curvature profile; a point beside the road is addressed as
(s, d) with d the signed lateral offset (metres, positive to the right of the driving
direction). Traffic drives on the right: the ego lanes have d > 0, the oncoming lanes d < 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Arc-length spacing of the sampled centre line (metres).
ROAD_DS = 0.5
#: Time spacing of the sampled ego trajectory (seconds).
EGO_DT = 1e-3
#: Speed (m/s) above which the ego vehicle counts as moving.
MOVING_SPEED = 0.1


@dataclass(frozen=True)
class CrossSection:
    """Lateral layout of the road, the same on both sides (metres)."""

    lane_width: float
    lanes_per_direction: int
    parking_width: float
    kerb_width: float
    sidewalk_width: float

    @property
    def driving_half(self) -> float:
        """Lateral extent of the driving lanes of one direction."""
        return self.lane_width * self.lanes_per_direction

    @property
    def road_half(self) -> float:
        """Centre line to kerb: driving lanes plus the parking strip."""
        return self.driving_half + self.parking_width

    @property
    def sidewalk_outer(self) -> float:
        """Centre line to the outer edge of the sidewalk."""
        return self.road_half + self.kerb_width + self.sidewalk_width

    @classmethod
    def random(cls, rng: np.random.Generator) -> CrossSection:
        return cls(lane_width=float(rng.uniform(3.0, 3.7)),
                   lanes_per_direction=int(rng.choice([1, 2], p=[0.6, 0.4])),
                   parking_width=float(rng.choice([0.0, 2.3], p=[0.45, 0.55])),
                   kerb_width=0.2, sidewalk_width=float(rng.uniform(1.8, 4.0)))


class Road:
    """A smooth road centre line sampled every :data:`ROAD_DS` metres over [s_min, s_max]."""

    def __init__(self, rng: np.random.Generator, s_min: float, s_max: float) -> None:
        self.s = np.arange(s_min, s_max + ROAD_DS, ROAD_DS)
        curvature = np.zeros_like(self.s)
        pos = s_min
        while pos < s_max:
            length = rng.uniform(40.0, 140.0)
            seg = (self.s >= pos) & (self.s < pos + length)
            if rng.random() > 0.4:  # a bend: radius 90 to 400 m, left or right
                curvature[seg] = rng.choice([-1.0, 1.0]) / rng.uniform(90.0, 400.0)
            pos += length
        # Smoothing over 30 m turns steps of curvature into easements (clothoid-like ramps).
        width = int(30.0 / ROAD_DS)
        curvature = np.convolve(np.pad(curvature, width, mode="edge"),
                                np.ones(width) / width, mode="same")[width:-width]
        heading = np.cumsum(curvature) * ROAD_DS
        heading -= np.interp(0.0, self.s, heading)
        x = np.cumsum(np.sin(heading)) * ROAD_DS
        z = np.cumsum(np.cos(heading)) * ROAD_DS
        self.curvature = curvature
        self.heading_s = heading
        self.x_s = x - np.interp(0.0, self.s, x)
        self.z_s = z - np.interp(0.0, self.s, z)

    def heading(self, s: ArrayLike) -> NDArray[np.float64]:
        """Road heading at arc length s (radians; 0 = +z, positive turns towards +x)."""
        return np.interp(np.asarray(s, np.float64), self.s, self.heading_s)

    def arc_length(self, x: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
        """Arc length of the centre-line sample nearest to each world point (x, z), to
        :data:`ROAD_DS`; for ordering objects along the road."""
        x, z = np.atleast_1d(np.asarray(x, np.float64)), np.atleast_1d(np.asarray(z, np.float64))
        out = np.empty(len(x))
        for i in range(0, len(x), 256):  # chunks bound the (points x samples) distance matrix
            d2 = (x[i:i + 256, None] - self.x_s) ** 2 + (z[i:i + 256, None] - self.z_s) ** 2
            out[i:i + 256] = self.s[np.argmin(d2, axis=1)]
        return out

    def point(self, s: ArrayLike, d: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """World (x, z) of the ground point at arc length s and lateral offset d."""
        s = np.asarray(s, dtype=np.float64)
        th = self.heading(s)
        x = np.interp(s, self.s, self.x_s) + np.asarray(d) * np.cos(th)
        z = np.interp(s, self.s, self.z_s) - np.asarray(d) * np.sin(th)
        return x, z


@dataclass(frozen=True)
class EgoPose:
    """Camera pose at one instant: world position, heading (rad), pitch (rad), speed (m/s)."""

    x: float
    z: float
    heading: float
    pitch: float
    s: float
    speed: float


class EgoMotion:
    """Forward driving with smooth speed changes and full stops, sampled every :data:`EGO_DT`.

    Args:
        rng: random generator (consumed).
        duration_s: length of the drive.
        stops: number of full stops; None chooses one per started 8 s beyond the first 4 s
            (a 10 s drive has one stop of 0.6 to 1.1 s, so the ego moves about 90% of the time).
    """

    def __init__(self, rng: np.random.Generator, duration_s: float, road: Road,
                 lane_d: float, stops: int | None = None) -> None:
        self.duration_s = duration_s
        self.t = np.arange(0.0, duration_s + 0.5, EGO_DT)
        knots_t = np.arange(-2.5, duration_s + 5.0, 2.5)
        knots_v = rng.uniform(7.0, 14.0, size=len(knots_t))
        base = np.interp(self.t, knots_t, knots_v)
        win = int(1.5 / EGO_DT)
        base = np.convolve(np.pad(base, win, mode="edge"), np.ones(win) / win,
                           mode="same")[win:-win]
        envelope = np.ones_like(self.t)
        if stops is None:
            stops = int(max(0.0, duration_s - 4.0) // 8.0) + (1 if duration_s >= 4.0 else 0)
        self.stop_windows: list[tuple[float, float]] = []
        for k in range(stops):
            span = duration_s / stops
            hold = rng.uniform(0.6, 1.1)
            start = k * span + rng.uniform(0.35, 0.6) * span - hold / 2
            decel, accel = rng.uniform(2.0, 3.0), rng.uniform(2.0, 3.0)
            self.stop_windows.append((start, start + hold))
            envelope = np.minimum(envelope, _stop_envelope(self.t, start, hold, decel, accel))
        self.speed = base * envelope
        self.s = np.concatenate([[0.0], np.cumsum(0.5 * (self.speed[1:] + self.speed[:-1]))
                                 * EGO_DT])
        phase = rng.uniform(0, 2 * np.pi, size=3)
        # Lane keeping is not perfect: a slow lateral wander, and a small heading wobble.
        self.d = lane_d + 0.15 * np.sin(2 * np.pi * self.t / 7.0 + phase[0])
        d_rate = np.gradient(self.d, EGO_DT)
        self.yaw = (np.arctan2(d_rate, np.maximum(self.speed, 2.0))
                    + 0.004 * np.sin(2 * np.pi * self.t / 3.1 + phase[1]))
        # Road bumps: pitch oscillation growing with speed.
        self.pitch = 0.0015 * np.sin(2 * np.pi * 1.7 * self.t + phase[2]) * self.speed / 10.0
        self.road = road

    def pose(self, t: float) -> EgoPose:
        """Pose at time t (seconds from the start)."""
        s = float(np.interp(t, self.t, self.s))
        d = float(np.interp(t, self.t, self.d))
        x, z = self.road.point(s, d)
        heading = float(self.road.heading(s)) + float(np.interp(t, self.t, self.yaw))
        return EgoPose(float(x), float(z), heading, float(np.interp(t, self.t, self.pitch)), s,
                       float(np.interp(t, self.t, self.speed)))

    def speed_at(self, t: ArrayLike) -> NDArray[np.float64]:
        return np.interp(np.asarray(t, np.float64), self.t, self.speed)

    def s_at(self, t: ArrayLike) -> NDArray[np.float64]:
        return np.interp(np.asarray(t, np.float64), self.t, self.s)

    def time_at(self, s: float) -> float:
        """First time the ego reaches arc length s; +inf if it never does."""
        if s > self.s[-1]:
            return float("inf")
        return float(self.t[np.searchsorted(self.s, s)])


def _stop_envelope(t: NDArray[np.float64], start: float, hold: float, decel: float,
                   accel: float) -> NDArray[np.float64]:
    """1 while cruising, cosine ramps down to 0 over ``decel`` s, 0 for ``hold`` s, ramp up."""
    env = np.ones_like(t)
    down = (t >= start - decel) & (t < start)
    env[down] = 0.5 * (1 + np.cos(np.pi * (t[down] - (start - decel)) / decel))
    env[(t >= start) & (t < start + hold)] = 0.0
    up = (t >= start + hold) & (t < start + hold + accel)
    env[up] = 0.5 * (1 - np.cos(np.pi * (t[up] - start - hold) / accel))
    return env
