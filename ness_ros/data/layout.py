"""Where everything goes: a deterministic layout of buildings, vegetation, street furniture,
cars and pedestrians along the road, plus the ground maps (terrain, crosswalks, shadows) and the
traffic-light schedule. Built once per sequence from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ness_ros.data import kits
from ness_ros.data.agents import (
    CROSS,
    LEAD,
    ONCOMING,
    OVERTAKE,
    PARKED,
    STAND,
    WALK,
    CarFleet,
    Crowd,
)
from ness_ros.data.objects import BoxSet, GeometryBuilder, SpriteSet
from ness_ros.data.road import CrossSection, EgoMotion, Road

#: Ground-map resolutions (metres per cell): terrain and crosswalks 1 m, shadows 0.5 m.
MAP_DS = 1.0
SHADOW_DS = 0.5
SHADOW_D_RANGE = 40.0
#: How far ahead of the ego objects are placed (metres): beyond the renderer's far plane.
LOOK_AHEAD = 320.0


@dataclass
class Signal:
    """The schedule of a group of traffic lights: amber from t_amber, red from t_red, green
    again from t_green (seconds)."""

    t_amber: float
    t_red: float
    t_green: float

    def lit(self, t: float) -> int:
        """The lamp lit at time t: 0 red, 1 amber, 2 green."""
        if self.t_amber <= t < self.t_red:
            return 1
        return 0 if self.t_red <= t < self.t_green else 2


@dataclass
class Layout:
    """The static and moving content of one synthetic drive (see module docstring)."""

    cross: CrossSection
    boxes: BoxSet                   # static boxes, sorted by box_s
    sprites: SpriteSet              # static sprites, sorted by sprite_s
    box_s: NDArray[np.float64]      # arc length of each static box centre (m)
    sprite_s: NDArray[np.float64]   # arc length of each static sprite anchor (m)
    cars: CarFleet
    crowd: Crowd
    signals: list[Signal]
    map_s0: float
    terrain: NDArray[np.uint8]      # (2, Ns) 0 paved, 1 grass; row 0 left (d < 0), 1 right
    crosswalk: NDArray[np.uint8]    # (Ns,) 1 where a zebra crossing spans the road
    stopline: NDArray[np.uint8]     # (Ns,) 1 where the ego side has a stop line
    shadow: NDArray[np.float32]     # (Ns_shadow, Nd) ground brightness factor, 0.5 m cells

    def static_between(self, s0: float, s1: float) -> tuple[BoxSet, SpriteSet]:
        """Static boxes and sprites whose centre or anchor arc length lies in [s0, s1)."""
        b0, b1 = np.searchsorted(self.box_s, [s0, s1])
        p0, p1 = np.searchsorted(self.sprite_s, [s0, s1])
        return self.boxes.take(np.arange(b0, b1)), self.sprites.slice(int(p0), int(p1))

    def shadow_at(self, s: NDArray[np.floating], d: NDArray[np.floating]) -> NDArray[np.float32]:
        """Ground shade factor (0..1] at road coordinates (s, d), nearest cell."""
        return _lookup_shadow(self.shadow, self.map_s0, s, d)


def _lookup_shadow(shadow: NDArray[np.float32], s0: float, s: NDArray[np.floating],
                   d: NDArray[np.floating]) -> NDArray[np.float32]:
    i = np.clip(((np.asarray(s) - s0) / SHADOW_DS).astype(np.int64), 0, shadow.shape[0] - 1)
    j = np.clip(((np.asarray(d) + SHADOW_D_RANGE) / SHADOW_DS).astype(np.int64), 0,
                shadow.shape[1] - 1)
    return shadow[i, j]


def build_layout(rng: np.random.Generator, road: Road, ego: EgoMotion, cross: CrossSection,
                 duration_s: float, lane_d: float, sun_lateral: float,
                 shadow_strength: float) -> Layout:
    s_lo, s_hi = float(ego.s[0]) - 40.0, float(ego.s[-1]) + LOOK_AHEAD
    n_map = int((s_hi - s_lo) / MAP_DS) + 2
    terrain = np.zeros((2, n_map), np.uint8)
    crosswalk = np.zeros(n_map, np.uint8)
    stopline = np.zeros(n_map, np.uint8)
    shadow = _shadow_map(rng, s_lo, s_hi, shadow_strength)
    signals: list[Signal] = []
    b = GeometryBuilder()
    kerb_d = cross.road_half + cross.kerb_width

    def world(s: float, d: float) -> tuple[float, float]:
        x, z = road.point(s, d)
        return float(x), float(z)

    def shade(s: float, d: float) -> float:
        return float(_lookup_shadow(shadow, s_lo, np.array(s), np.array(d)))

    def mark(arr: NDArray[np.uint8], s0: float, s1: float, row: int | None = None) -> None:
        i0, i1 = int((s0 - s_lo) / MAP_DS), int((s1 - s_lo) / MAP_DS) + 1
        if row is None:
            arr[max(i0, 0):max(i1, 0)] = 1
        else:
            arr[row, max(i0, 0):max(i1, 0)] = 1

    # Stops get a stop line, a zebra crossing and traffic lights switching red -> green.
    busy: list[tuple[float, float]] = []
    crossings: list[float] = []
    for t_stop, t_go in ego.stop_windows:
        s_stop = float(ego.s_at(t_stop))
        cw = s_stop + rng.uniform(4.0, 5.0)
        mark(stopline, cw - 1.0, cw - 0.6)
        crossings.append(cw)
        kits.add_traffic_light(b, rng, *world(cw + 4.0, kerb_d + 0.4), -1.0,
                               kerb_d + 0.4 - lane_d, shade(cw + 4, kerb_d), len(signals))
        kits.add_traffic_light(b, rng, *world(cw - 0.5, -kerb_d - 0.4), 1.0, 0.0, 1.0,
                               len(signals))
        signals.append(Signal(t_stop - 4.5, t_stop - 3.0, t_go - 0.3))
    pos = s_lo + rng.uniform(60, 160)
    while pos < s_hi - 20:  # further intersections with crossings, always green for the ego
        if all(abs(pos - c) > 40 for c in crossings):
            crossings.append(pos)
            kits.add_traffic_light(b, rng, *world(pos + 4.0, kerb_d + 0.4), -1.0,
                                   kerb_d + 0.4 - lane_d, shade(pos + 4, kerb_d), len(signals))
            signals.append(Signal(1e9, 1e9, 1e9))
        pos += rng.uniform(90, 200)
    for cw in crossings:
        mark(crosswalk, cw, cw + rng.uniform(2.5, 4.0))
        busy.append((cw - 9.0, cw + 9.0))

    def free(s: float, margin: float = 0.0) -> bool:
        return all(not (a - margin <= s <= b_ + margin) for a, b_ in busy)

    for side, row in ((1.0, 1), (-1.0, 0)):
        _place_roadside(b, rng, road, cross, terrain, side, row, s_lo, s_hi, world, shade, mark)
        pos = s_lo + rng.uniform(0, 30)
        while pos < s_hi:  # street lamps
            if free(pos, 2.0):
                kits.add_street_lamp(b, rng, *world(pos, side * (kerb_d + 0.4)), -side,
                                     shade(pos, side * kerb_d))
            pos += rng.uniform(24, 40)
        pos = s_lo + rng.uniform(0, 60)
        while pos < s_hi:  # signs
            kits.add_sign(b, rng, *world(pos, side * (kerb_d + 0.3)), shade(pos, side * kerb_d))
            pos += rng.uniform(25, 70)

    cars = CarFleet.build(rng, _cars(rng, ego, cross, lane_d, duration_s, s_lo, s_hi, free),
                          sun_lateral)
    crowd = Crowd.build(rng, _people(rng, ego, cross, lane_d, crossings, s_lo, s_hi, duration_s))
    # Static geometry sorted by arc length, so that a render takes only what is in view.
    boxes, sprites = b.boxes(), b.sprites()
    box_s = road.arc_length(boxes.geom[:, 0], boxes.geom[:, 1])
    sprite_s = road.arc_length(sprites.anchor[:, 0], sprites.anchor[:, 1])
    box_order, sprite_order = np.argsort(box_s, kind="stable"), np.argsort(sprite_s, kind="stable")
    return Layout(cross, boxes.take(box_order), sprites.select(sprite_order), box_s[box_order],
                  sprite_s[sprite_order], cars, crowd, signals, s_lo, terrain, crosswalk,
                  stopline, shadow)


def _place_roadside(b: GeometryBuilder, rng: np.random.Generator, road: Road,
                    cross: CrossSection, terrain: NDArray[np.uint8], side: float, row: int,
                    s_lo: float, s_hi: float, world: Callable[[float, float], tuple[float, float]],
                    shade: Callable[[float, float], float],
                    mark: Callable[..., None]) -> None:
    """Blocks of buildings (paved ground) or parks (grass, trees, bushes, hedges), and a far row
    of tall buildings behind them, on one side of the road."""
    outer = cross.sidewalk_outer
    pos = s_lo
    while pos < s_hi:
        seg = rng.uniform(40, 130)
        end = min(pos + seg, s_hi)
        if rng.random() < 0.62:  # a block of buildings
            setback = rng.uniform(0.0, 3.0)
            s = pos
            while s < end - 6:
                length = min(rng.uniform(8, 30), end - s)
                depth, height = rng.uniform(8, 18), rng.uniform(5, 26)
                sc = s + length / 2
                kits.add_building(b, rng, *world(sc, side * (outer + setback + depth / 2)),
                                  float(road.heading(sc)), length, depth, height, 1.0)
                s += length + (0.0 if rng.random() < 0.5 else rng.uniform(1, 6))
            if rng.random() < 0.5:  # street trees on the sidewalk
                s = pos + rng.uniform(2, 10)
                while s < end:
                    d = side * (outer - rng.uniform(0.6, 1.0))
                    kits.add_tree(b, rng, *world(s, d), shade(s, d))
                    s += rng.uniform(8, 16)
        else:  # a park: grass, trees, bushes, maybe a hedge along the sidewalk
            mark(terrain, pos, end, row)
            for _ in range(int((end - pos) * rng.uniform(0.15, 0.4))):
                s, d = rng.uniform(pos, end), side * (outer + rng.uniform(1.5, 28))
                kits.add_tree(b, rng, *world(s, d), shade(s, d), bush=rng.random() < 0.35)
            if rng.random() < 0.5:
                s = pos
                while s < end - 4:
                    length = min(rng.uniform(6, 15), end - s)
                    kits.add_hedge(b, rng, *world(s + length / 2, side * (outer + 0.7)),
                                   float(road.heading(s + length / 2)), length, 1.0)
                    s += length + rng.uniform(0, 3)
        if rng.random() < 0.6:  # skyline behind
            s = pos
            while s < end - 10:
                length, depth = rng.uniform(15, 35), rng.uniform(10, 25)
                sc = s + length / 2
                kits.add_building(b, rng, *world(sc, side * (outer + rng.uniform(25, 45) + depth)),
                                  float(road.heading(sc)), length, depth, rng.uniform(12, 45),
                                  1.0)
                s += length + rng.uniform(0, 15)
        pos = end


def _cars(rng: np.random.Generator, ego: EgoMotion, cross: CrossSection, lane_d: float,
          duration_s: float, s_lo: float, s_hi: float, free) -> list[tuple]:
    cars: list[tuple] = []
    lw = cross.lane_width
    if cross.parking_width > 0:
        for side in (1.0, -1.0):
            pos = s_lo + rng.uniform(0, 8)
            while pos < s_hi:
                if free(pos, 3.0) and rng.random() < 0.75:
                    cars.append((PARKED, side * (cross.driving_half + cross.parking_width / 2),
                                 (pos, 0, 1, 0), side < 0))
                pos += rng.uniform(5.5, 14)
    if rng.random() < 0.65:
        gap = rng.uniform(14, 35)
        cars.append((LEAD, lane_d, (gap, rng.uniform(2, min(8, gap - 11)), rng.uniform(5, 12),
                                    rng.uniform(0, 2 * np.pi)), False))
    for _ in range(int(round(duration_s * rng.uniform(0.3, 0.7))) + 1):
        t_meet, speed = rng.uniform(-1, duration_s + 4), rng.uniform(8, 14)
        s_meet = float(ego.s_at(min(t_meet, duration_s))) + max(0.0, t_meet - duration_s) * 10
        lane = int(rng.integers(cross.lanes_per_direction))
        cars.append((ONCOMING, -(lane + 0.5) * lw, (s_meet, speed, t_meet, 0), True))
    if cross.lanes_per_direction == 2:
        for _ in range(int(rng.integers(0, 3))):
            cars.append((OVERTAKE, lane_d - lw, (rng.uniform(-30, 10), rng.uniform(2, 6), 0, 0),
                         False))
    return cars


def _people(rng: np.random.Generator, ego: EgoMotion, cross: CrossSection, lane_d: float,
            crossings: list[float], s_lo: float, s_hi: float, duration_s: float) -> list[tuple]:
    people: list[tuple] = []
    kerb_d = cross.road_half + cross.kerb_width
    for side in (1.0, -1.0):
        for _ in range(int((s_hi - s_lo) / rng.uniform(8, 18))):
            kind = STAND if rng.random() < 0.2 else WALK
            speed = 0.0 if kind == STAND else rng.uniform(1.0, 1.6)
            d = side * (kerb_d + rng.uniform(0.4, cross.sidewalk_width - 0.3))
            people.append((kind, rng.uniform(s_lo, s_hi), d, speed, rng.choice([-1.0, 1.0]),
                           0.0, d))
    for cw in crossings:
        # Pedestrians on a crossing must have left the ego lane before the ego's front
        # (2 m ahead of the camera) reaches the crossing.
        t_clear = ego.time_at(cw - 3.0) - 0.3
        for _ in range(int(rng.integers(1, 5))):
            speed, right_to_left = rng.uniform(1.1, 1.7), rng.random() < 0.5
            s = cw + rng.uniform(0.4, 2.2)
            d0 = (1 if right_to_left else -1) * (kerb_d + rng.uniform(0.3, 1.5))
            d1 = -d0
            exit_d = lane_d - 1.5 if right_to_left else lane_d + 1.5
            if np.isfinite(t_clear):
                t0 = t_clear - abs(exit_d - d0) / speed - rng.uniform(0, 1.5)
            else:
                t0 = rng.uniform(-5, duration_s)
            people.append((CROSS, s, d0, speed, rng.choice([-1.0, 1.0]), t0, d1))
    return people


def _shadow_map(rng: np.random.Generator, s_lo: float, s_hi: float,
                strength: float) -> NDArray[np.float32]:
    """Soft-edged shadow blotches (trees, buildings) on the ground: brightness factor per cell."""
    ns = int((s_hi - s_lo) / SHADOW_DS) + 2
    nd = int(2 * SHADOW_D_RANGE / SHADOW_DS) + 1
    field = cv2.GaussianBlur(rng.standard_normal((ns, nd)).astype(np.float32), (0, 0), 7.0)
    field = field / (field.std() + 1e-9)
    covered = np.clip((field - 0.6) * 3.0, 0.0, 1.0)
    return (1.0 - strength * covered).astype(np.float32)
