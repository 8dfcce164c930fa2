"""Independently moving road users: cars (parked, leading, oncoming, overtaking) and pedestrians
(walking along sidewalks, standing, crossing the road). Their geometry is rebuilt for every
render time from closed-form motion, so any sub-frame time can be rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ness_ros.data.kits import CAR_COLOURS, FLAT, GREYS, HUMAN, VEHICLE, pick
from ness_ros.data.objects import (
    LAYER_SPRITES,
    LAYER_VEHICLES,
    M_CAR_END,
    M_CAR_SIDE,
    M_GLASS,
    M_PLAIN,
    NUM_PARAMS,
    BoxSet,
    SpriteSet,
    ellipse,
    params,
)
from ness_ros.data.road import EgoMotion, Road

PARKED, LEAD, ONCOMING, OVERTAKE = range(4)
WALK, STAND, CROSS = range(3)
#: ``shadow_at(s, d)``: ground shade factor at arc lengths s and lateral offsets d.
ShadowAt = Callable[[NDArray[np.float64], NDArray[np.float64]], ArrayLike]

TROUSERS = [(0.1, 0.12, 0.25), (0.05, 0.05, 0.05), (0.4, 0.4, 0.4), (0.6, 0.55, 0.4),
            (0.2, 0.3, 0.15), (0.3, 0.2, 0.15)]
SHIRTS = GREYS + [(0.8, 0.8, 0.8), (0.6, 0.1, 0.1), (0.1, 0.2, 0.5), (0.15, 0.4, 0.15),
                  (0.8, 0.6, 0.1), (0.5, 0.3, 0.5), (0.35, 0.45, 0.3), (0.9, 0.4, 0.2)]
SKIN = [(0.85, 0.65, 0.5), (0.7, 0.5, 0.35), (0.45, 0.3, 0.2), (0.3, 0.2, 0.15)]


@dataclass
class CarFleet:
    """Cars as three boxes each (ground shadow, lower body, cabin); see :meth:`boxes_at`.

    kind (N,): PARKED, LEAD, ONCOMING or OVERTAKE; d (N,) lateral offset (m); motion (N, 4)
    parameters of the closed-form arc length s(t); reverse (N,) cars facing against the road
    direction (oncoming, parked on the left); dims (N, 4): length, width, height and cabin
    length fraction (m, m, m, 1); sun_lateral: side (+1/-1) the car shadows fall to.
    """

    kind: NDArray[np.int8]
    d: NDArray[np.float64]
    motion: NDArray[np.float64]
    reverse: NDArray[np.bool_]
    dims: NDArray[np.float64]
    template: BoxSet
    sun_lateral: float

    @classmethod
    def build(cls, rng: np.random.Generator,
              cars: list[tuple[int, float, tuple[float, float, float, float], bool]],
              sun_lateral: float) -> CarFleet:
        """``cars``: (kind, lateral offset, motion parameters (4,), reverse) per car."""
        n = len(cars)
        dims = np.zeros((n, 4))
        mats, pars, classes = [], [], []
        for i in range(n):
            van = rng.random() < 0.15
            length = rng.uniform(4.6, 5.4) if van else rng.uniform(3.8, 4.9)
            width, height = rng.uniform(1.7, 1.95), (rng.uniform(1.9, 2.3) if van
                                                       else rng.uniform(1.4, 1.65))
            dims[i] = length, width, height, (0.8 if van else rng.uniform(0.45, 0.6))
            body = pick(rng, CAR_COLOURS, jitter=0.04)
            glass = pick(rng, [(0.08, 0.1, 0.12), (0.2, 0.22, 0.25), (0.45, 0.5, 0.55)])
            paint = params(body, rng, amp=0.03, scale=4.0, flavour=1)
            side = params(body, rng, amp=0.03, colour2=(0.04, 0.04, 0.04),
                          extra=(length, 0.33, 0.85))
            front = params(body, rng, amp=0.03, extra=(width, 0.95, 0.95, 0.85, 0.62))
            rear = params(body, rng, amp=0.03, extra=(width, 0.75, 0.05, 0.04, 0.7))
            cab_l, cab_w = length * dims[i, 3], width * 0.88
            glass_long = params(body, rng, amp=0.03, colour2=glass, extra=(cab_l, 0.12))
            glass_end = params(body, rng, amp=0.03, colour2=glass, extra=(cab_w, 0.12))
            shadow = params((0.05, 0.05, 0.055), rng, amp=0.05)
            mats += [[M_PLAIN] * 5, [M_CAR_END, M_CAR_END, M_CAR_SIDE, M_CAR_SIDE, M_PLAIN],
                     [M_GLASS] * 4 + [M_PLAIN]]
            pars += [[shadow] * 5, [front, rear, side, side, paint],
                     [glass_end, glass_end, glass_long, glass_long, paint]]
            classes += [FLAT, VEHICLE, VEHICLE]
        template = BoxSet(geom=np.zeros((3 * n, 7)), layer=np.full(3 * n, LAYER_VEHICLES, np.int8),
                          cls=np.array(classes, np.uint8),
                          mat=np.array(mats, np.int32).reshape(-1, 5),
                          par=np.array(pars, np.float32).reshape(-1, 5, NUM_PARAMS),
                          shade=np.ones(3 * n, np.float32))
        return cls(np.array([c[0] for c in cars], np.int8), np.array([c[1] for c in cars]),
                   np.array([c[2] for c in cars], np.float64).reshape(n, 4),
                   np.array([c[3] for c in cars], np.bool_), dims, template, sun_lateral)

    def s_at(self, t: float, ego: EgoMotion) -> NDArray[np.float64]:
        """Arc length of every car at time t (s)."""
        m, k = self.motion, self.kind
        s_ego = float(ego.s_at(t))
        period = np.where(k == LEAD, m[:, 2], 1.0)
        return np.select(
            [k == PARKED, k == LEAD, k == ONCOMING],
            [m[:, 0], s_ego + m[:, 0] + m[:, 1] * np.sin(2 * np.pi * t / period + m[:, 3]),
             m[:, 0] - m[:, 1] * (t - m[:, 2])],
            s_ego + m[:, 0] + m[:, 1] * t)

    def boxes_at(self, t: float, ego: EgoMotion, road: Road,
                 shadow_at: ShadowAt) -> BoxSet:
        """The fleet's boxes at time t; ``shadow_at(s, d)`` gives the ground shade factor."""
        if len(self.kind) == 0:
            return self.template
        s = self.s_at(t, ego)
        x, z = road.point(s, self.d)
        heading = road.heading(s) + np.where(self.reverse, np.pi, 0.0)
        fx, fz = np.sin(heading), np.cos(heading)
        length, width, height, cab = self.dims.T
        lower = 0.45 * height + 0.1
        geom = np.empty((len(self.kind), 3, 7))
        sun = self.sun_lateral
        rx, rz = np.cos(heading), -np.sin(heading)
        geom[:, 0] = np.stack([x + sun * rx * 0.4, z + sun * rz * 0.4, heading, length * 1.04,
                               width * 1.1, np.zeros_like(x), np.full_like(x, 0.015)], axis=1)
        geom[:, 1] = np.stack([x, z, heading, length, width, np.zeros_like(x), lower], axis=1)
        back = -length * 0.06
        geom[:, 2] = np.stack([x + back * fx, z + back * fz, heading, length * cab, width * 0.88,
                               lower, height], axis=1)
        shade = np.repeat(shadow_at(s, self.d), 3).astype(np.float32)
        return BoxSet(geom.reshape(-1, 7), self.template.layer, self.template.cls,
                      self.template.mat, self.template.par, shade)


# Vertex template of a pedestrian (legs, torso, arms, head): sprite coordinates
# a = _A_H * height + _A_SW * swing, b = _B_H * height + _B_LIFT * lift.
_PART_SIZES = (4, 4, 4, 4, 4, 10)
_PART_ORDER = (0, 0, 1, 2, 2, 3)
_HEAD = ellipse(0.0, 0.905, 0.058, 0.072, 10)
_A_H = np.array([-0.095, -0.02, -0.02, -0.09, 0.02, 0.095, 0.09, 0.02, -0.1, 0.1, 0.13, -0.13,
                 -0.165, -0.115, -0.135, -0.185, 0.115, 0.165, 0.185, 0.135, *_HEAD[:, 0]])
_A_SW = np.array([0, 0, 1, 1, 0, 0, -1, -1, 0, 0, 0, 0, 0, 0, -0.6, -0.6, 0, 0, 0.6, 0.6]
                 + [0] * 10, dtype=np.float64)
_B_H = np.array([0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0.48, 0.48, 0.82, 0.82, 0.81, 0.81, 0.47, 0.47,
                 0.81, 0.81, 0.47, 0.47, *_HEAD[:, 1]])
_B_LIFT = np.array([0, 0, 1, 1, 0, 0, 1, 1] + [0] * 22, dtype=np.float64)


@dataclass
class Crowd:
    """Pedestrians; state arrays (N,): kind, s0, d0 (m), speed (m/s), direction (+1/-1 along s),
    t0 (crossing start, s), d1 (crossing target, m), height (m)."""

    kind: NDArray[np.int8]
    s0: NDArray[np.float64]
    d0: NDArray[np.float64]
    speed: NDArray[np.float64]
    direction: NDArray[np.float64]
    t0: NDArray[np.float64]
    d1: NDArray[np.float64]
    height: NDArray[np.float64]
    par: NDArray[np.float32]

    @classmethod
    def build(cls, rng: np.random.Generator, people: list[tuple]) -> Crowd:
        """``people``: (kind, s0, d0, speed, direction, t0, d1) per pedestrian."""
        n = len(people)
        arr = np.array(people, dtype=np.float64).reshape(n, 7)
        par = np.zeros((n, len(_PART_SIZES), NUM_PARAMS), np.float32)
        for i in range(n):
            trousers, shirt = pick(rng, TROUSERS), pick(rng, SHIRTS)
            skin = pick(rng, SKIN, jitter=0.03)
            arms = skin if rng.random() < 0.3 else shirt
            colours = [trousers, trousers, shirt, arms, arms, skin]
            par[i] = [params(c, rng, amp=0.08, scale=30.0, flavour=1) for c in colours]
        return cls(arr[:, 0].astype(np.int8), arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4],
                   arr[:, 5], arr[:, 6], rng.uniform(1.55, 1.9, n), par)

    def state_at(self, t: float) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """(s, d, walked distance, lateral-motion weight) of everyone at time t."""
        cross_dur = np.abs(self.d1 - self.d0) / np.maximum(self.speed, 0.1)
        tc = np.clip(t - self.t0, 0.0, cross_dur)
        after = np.maximum(t - self.t0 - cross_dur, 0.0)
        walking = self.kind == WALK
        crossing = self.kind == CROSS
        s = self.s0 + self.direction * self.speed * np.where(walking, t, np.where(
            crossing, after, 0.0))
        d = np.where(crossing, self.d0 + np.sign(self.d1 - self.d0) * self.speed * tc, self.d0)
        walked = self.speed * np.where(walking, t, np.where(crossing, tc + after, 0.0))
        lateral = np.where(crossing & (tc > 0) & (tc < cross_dur), 1.0, 0.2)
        return s, d, walked, lateral

    def sprites_at(self, t: float, road: Road, shadow_at: ShadowAt, s_min: float = -np.inf,
                   s_max: float = np.inf) -> SpriteSet:
        """The pedestrians with arc length in [s_min, s_max) at time t, as sprites."""
        s, d, walked, lateral = self.state_at(t)
        keep = np.nonzero((s >= s_min) & (s < s_max))[0]
        s, d, walked, lateral = s[keep], d[keep], walked[keep], lateral[keep]
        n = len(keep)
        x, z = road.point(s, d)
        h = self.height[keep, None]
        swing = np.sin(walked / 0.75 * np.pi)[:, None] * np.minimum(walked, 1.0)[:, None]
        sw = 0.13 * h * swing * lateral[:, None]  # sideways leg and arm swing (m)
        lift = 0.04 * h * np.abs(swing) * (1 - lateral[:, None])  # foot lift (m)
        verts = np.stack([_A_H * h + _A_SW * sw, _B_H * h + _B_LIFT * lift], axis=2)
        nparts = len(_PART_SIZES)
        return SpriteSet(
            anchor=np.stack([x, z, np.zeros(n)], axis=1), radius=np.full(n, 0.6),
            layer=np.full(n, LAYER_SPRITES, np.int8),
            sprite=np.repeat(np.arange(n), nparts),
            cls=np.full(n * nparts, HUMAN, np.uint8), mat=np.full(n * nparts, M_PLAIN, np.int32),
            par=self.par[keep].reshape(-1, NUM_PARAMS),
            order=np.tile(_PART_ORDER, n).astype(np.int16),
            shade=np.repeat(shadow_at(s, d), nparts).astype(np.float32),
            verts=verts.reshape(-1, 2),
            start=np.concatenate([[0], np.cumsum(np.tile(_PART_SIZES, n))]).astype(np.intp))
