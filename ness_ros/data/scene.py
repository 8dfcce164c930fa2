"""Procedural road scenes: a drive through a street, rendered at any time with per-pixel labels.

A :class:`Scene` is fully determined by its seed and :class:`SceneConfig`. The world is a flat
ground plane seen by a pinhole camera 1.4 m above it (a DAVIS346-like 70 degree field of view);
the road curves, the ego vehicle drives along it with speed changes and stops, buildings, trees,
street furniture, parked and moving cars and pedestrians are boxes and camera-facing sprites at
world positions, projected with perspective at every render (so motion parallax is right, which
matters for events). Labels are the six classes of :mod:`ness_ros.labels`.

Example::

    scene = Scene(seed=7, config=SceneConfig(width=346, height=260, duration_s=10.0))
    rgb, label = scene.render(1.25)   # (260, 346, 3) float32 about 0..1, (260, 346) uint8
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.data.errors import DataError
from ness_ros.data.geometry import Camera, Light, rasterise
from ness_ros.data.kits import SIGNAL_COLOURS
from ness_ros.data.layout import LOOK_AHEAD, build_layout
from ness_ros.data.objects import M_EMISSIVE, BoxSet, SpriteSet
from ness_ros.data.road import CrossSection, EgoMotion, Road
from ness_ros.data.shading import (
    G_ASPHALT_AMP,
    G_CENTRE_COLOUR,
    G_CENTRE_DASHED,
    G_CLOUD,
    G_CLOUDINESS,
    G_DRIVING_HALF,
    G_GRASS,
    G_HAZE,
    G_HAZE_DIST,
    G_HEADING,
    G_ILLUM,
    G_KERB,
    G_KERB_OUT,
    G_LANE_W,
    G_LANES,
    G_MAP_S0,
    G_MARK,
    G_PAVED,
    G_ROAD,
    G_ROAD_HALF,
    G_SIDEWALK,
    G_SIDEWALK_OUT,
    G_SIZE,
    G_SKY_HORIZON,
    G_SKY_TOP,
    G_TILE,
    R_CENTRE,
    R_COS,
    R_DEPTH,
    R_ELEV,
    R_HAZE,
    R_LOGFP,
    R_S,
    R_SCALE,
    R_SIN,
    R_SIZE,
    R_VALID,
    shade_frame,
)
from ness_ros.data.textures import noise_pyramid

#: Centre-line samples ahead of the camera used to map ground depth to road coordinates.
_CENTRE_SAMPLES = np.concatenate([np.linspace(-3.0, 40.0, 120), np.linspace(41.0, 420.0, 200)])


@dataclass(frozen=True)
class SceneConfig:
    """Scene options: image size (pixels), drive length (s), number of full stops (None: one
    per 8 s or so, see :class:`~ness_ros.data.road.EgoMotion`)."""

    width: int = 346
    height: int = 260
    duration_s: float = 10.0
    stops: int | None = None

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise DataError(f"image size must be at least 16 x 16, got {self.width} x "
                            f"{self.height}")
        if not self.duration_s > 0:
            raise DataError(f"duration_s must be positive, got {self.duration_s}")
        if self.stops is not None and self.stops < 0:
            raise DataError(f"stops must be >= 0 or None, got {self.stops}")


class Scene:
    """One procedural drive; :meth:`render` draws it at any time in [0, duration_s]."""

    def __init__(self, seed: int, config: SceneConfig | None = None) -> None:
        self.seed = int(seed)
        self.config = config = config or SceneConfig()
        layout_seq, look_seq, tex_seq = np.random.SeedSequence(self.seed).spawn(3)
        rng = np.random.default_rng(layout_seq)
        look = np.random.default_rng(look_seq)
        self.camera = Camera.for_size(config.width, config.height)
        self.cross = cross = CrossSection.random(rng)
        self.lane_d = (cross.lanes_per_direction - 0.5) * cross.lane_width
        s_max = 16.0 * (config.duration_s + 1.0) + LOOK_AHEAD + 100.0
        self.road = Road(rng, -120.0, s_max)
        self.ego = EgoMotion(rng, config.duration_s, self.road, self.lane_d, config.stops)
        self.gp, self.light, shadow_strength, sun_lateral = _appearance(look, cross)
        self.layout = build_layout(rng, self.road, self.ego, cross, config.duration_s,
                                   self.lane_d, sun_lateral, shadow_strength)
        self.tex = noise_pyramid(np.random.default_rng(tex_seq))
        self.gp[G_MAP_S0] = self.layout.map_s0
        periods, phases = look.uniform([4.0, 1.5], [9.0, 3.0]), look.uniform(0, 2 * np.pi, 2)
        dip_t = look.uniform(0, config.duration_s) if look.random() < 0.5 else -1e9
        self._illum = (periods, phases, dip_t, look.uniform(1.5, 3.0), look.uniform(0.85, 1.1))

    @property
    def width(self) -> int:
        return self.config.width

    @property
    def height(self) -> int:
        return self.config.height

    def illumination(self, t: float) -> float:
        """Global light level at time t: slow drifts and, in some scenes, a passing cloud."""
        periods, phases, dip_t, dip_len, base = self._illum
        wave = 1.0 + 0.1 * np.sin(2 * np.pi * t / periods[0] + phases[0]) \
            + 0.04 * np.sin(2 * np.pi * t / periods[1] + phases[1])
        dip = 1.0 - 0.25 * np.exp(-0.5 * ((t - dip_t) / (dip_len / 2.5)) ** 2)
        return float(base * wave * dip)

    def ego_speed(self, t: float | NDArray[np.floating]) -> NDArray[np.float64]:
        """Ego speed (m/s) at time(s) t (s)."""
        return self.ego.speed_at(t)

    def render(self, t: float) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
        """The scene at time t (seconds from the start).

        Returns:
            rgb: (H, W, 3) float32 linear intensities, about 0..1 (not clipped, no noise).
            label: (H, W) uint8 class ids of :data:`ness_ros.labels.CLASS_NAMES`.
        """
        cam, lay = self.camera, self.layout
        pose = self.ego.pose(t)
        static_boxes, static = lay.static_between(pose.s - 60.0, pose.s + cam.far + 40.0)
        boxes = BoxSet.concatenate([static_boxes, lay.cars.boxes_at(t, self.ego, self.road,
                                                                    lay.shadow_at)])
        lamps = np.nonzero(static.mat == M_EMISSIVE)[0]
        if len(lamps):  # traffic lights: lamp k of signal i is lit when the signal shows k
            par = static.par.copy()
            signal, colour = par[lamps, 11].astype(np.intp), par[lamps, 12].astype(np.intp)
            lit = np.array([lay.signals[i].lit(t) for i in signal]) == colour
            par[lamps, 0:3] = SIGNAL_COLOURS[colour] * np.where(lit, 1.0, 0.15)[:, None]
            static = dataclasses.replace(static, par=par)
        sprites = SpriteSet.concatenate(static, lay.crowd.sprites_at(
            t, self.road, lay.shadow_at, pose.s - 60.0, pose.s + cam.sprite_far + 40.0))
        prims = rasterise(pose, cam, boxes, sprites, self.light)
        gp = self.gp.copy()
        gp[G_HEADING] = pose.heading
        gp[G_ILLUM] = self.illumination(t)
        rgb = np.empty((cam.height, cam.width, 3), np.float32)
        label = np.empty((cam.height, cam.width), np.uint8)
        shade_frame(prims.ids, prims.plane, prims.zrange, prims.par, prims.mat, prims.cls,
                    prims.shade, self._rows(pose), self._cols(pose),
                    np.array([cam.f, cam.cx, cam.cy]), gp,
                    lay.terrain, lay.crosswalk, lay.stopline, lay.shadow, self.tex, rgb, label)
        return rgb, label

    def _rows(self, pose) -> NDArray[np.float64]:
        """Per image row: ground depth and road coordinates of the ground under that row."""
        cam = self.camera
        rows = np.zeros((cam.height, R_SIZE))
        yn = (np.arange(cam.height) - cam.cy) / cam.f
        cp, sp = np.cos(pose.pitch), np.sin(pose.pitch)
        y_level, z_level = yn * cp + sp, cp - yn * sp
        valid = y_level > 1e-5
        scale = np.where(valid, cam.mount_height / np.where(valid, y_level, 1.0), 0.0)
        depth = z_level * scale
        valid &= depth < 5000.0
        s = pose.s + _CENTRE_SAMPLES
        x, z = self.road.point(s, 0.0)
        c, sn = np.cos(pose.heading), np.sin(pose.heading)
        xc = (x - pose.x) * c - (z - pose.z) * sn
        zc = np.maximum.accumulate((x - pose.x) * sn + (z - pose.z) * c)
        rel = self.road.heading(s) - pose.heading
        rows[:, R_VALID] = valid
        rows[:, R_DEPTH] = depth
        rows[:, R_SCALE] = scale
        rows[:, R_CENTRE] = np.interp(depth, zc, xc)
        phi = np.interp(depth, zc, rel)
        rows[:, R_COS], rows[:, R_SIN] = np.cos(phi), np.sin(phi)
        rows[:, R_S] = np.interp(depth, zc, s)
        rows[:, R_ELEV] = np.maximum(-y_level / np.maximum(z_level, 1e-3), 0.0)
        # Ground footprint of a pixel along the road: depth^2 / (f h) at grazing angles.
        footprint = depth / cam.f * np.maximum(1.0, depth / cam.mount_height)
        rows[:, R_LOGFP] = np.log2(np.maximum(footprint, 1e-6))
        rows[:, R_HAZE] = 1.0 - np.exp(-depth / self.gp[G_HAZE_DIST])
        return rows

    def _cols(self, pose) -> NDArray[np.float64]:
        """Sky texture coordinate per image column: clouds turn with the heading only."""
        cam = self.camera
        return (pose.heading + np.arctan((np.arange(cam.width) - cam.cx) / cam.f)) * 120.0


def _appearance(rng: np.random.Generator, cross: CrossSection
                ) -> tuple[NDArray[np.float64], Light, float, float]:
    """Ground and sky colours, weather and sun: (gp vector, light, shadow strength, side the
    car shadows fall to)."""
    gp = np.zeros(G_SIZE)
    sunny = rng.random() < 0.6
    tint = rng.normal(0, 0.015, 3)
    gp[G_ROAD:G_ROAD + 3] = rng.uniform(0.22, 0.42) + tint
    gp[G_SIDEWALK:G_SIDEWALK + 3] = [(0.55, 0.55, 0.56), (0.55, 0.42, 0.38), (0.62, 0.58, 0.5),
                                     (0.4, 0.4, 0.42)][rng.integers(4)]
    gp[G_KERB:G_KERB + 3] = rng.uniform(0.5, 0.7)
    gp[G_GRASS:G_GRASS + 3] = np.array([(0.2, 0.35, 0.1), (0.28, 0.4, 0.15), (0.45, 0.42, 0.22)][
        rng.integers(3)]) * rng.uniform(0.85, 1.15)
    gp[G_MARK:G_MARK + 3] = rng.uniform(0.75, 0.9)
    gp[G_CENTRE_COLOUR:G_CENTRE_COLOUR + 3] = (0.85, 0.68, 0.15) if rng.random() < 0.3 else \
        gp[G_MARK:G_MARK + 3]
    gp[G_PAVED:G_PAVED + 3] = rng.uniform(0.35, 0.55) + tint
    if sunny:
        gp[G_SKY_TOP:G_SKY_TOP + 3] = np.array([0.32, 0.48, 0.8]) * rng.uniform(0.9, 1.1)
        gp[G_SKY_HORIZON:G_SKY_HORIZON + 3] = (0.72, 0.78, 0.88)
        gp[G_CLOUD:G_CLOUD + 3] = (0.92, 0.92, 0.94)
        gp[G_CLOUDINESS], gp[G_HAZE_DIST] = rng.uniform(0.1, 0.5), rng.uniform(300, 700)
        light, shadow = Light(_sun(rng), 0.55, 0.5), 0.55
    else:
        grey = rng.uniform(0.55, 0.72)
        gp[G_SKY_TOP:G_SKY_TOP + 3] = (grey, grey + 0.01, grey + 0.03)
        gp[G_SKY_HORIZON:G_SKY_HORIZON + 3] = (grey + 0.08, grey + 0.09, grey + 0.1)
        gp[G_CLOUD:G_CLOUD + 3] = grey - 0.12
        gp[G_CLOUDINESS], gp[G_HAZE_DIST] = rng.uniform(0.5, 0.9), rng.uniform(150, 350)
        light, shadow = Light(_sun(rng), 0.85, 0.15), 0.2
    gp[G_HAZE:G_HAZE + 3] = gp[G_SKY_HORIZON:G_SKY_HORIZON + 3]
    gp[G_LANE_W], gp[G_LANES] = cross.lane_width, cross.lanes_per_direction
    gp[G_DRIVING_HALF], gp[G_ROAD_HALF] = cross.driving_half, cross.road_half
    gp[G_KERB_OUT] = cross.road_half + cross.kerb_width
    gp[G_SIDEWALK_OUT] = cross.sidewalk_outer
    gp[G_CENTRE_DASHED] = float(rng.random() < 0.6)
    gp[G_TILE], gp[G_ASPHALT_AMP] = 1.0 / rng.uniform(0.3, 0.6), rng.uniform(0.08, 0.18)
    return gp, light, shadow, float(np.sign(light.sun[0]) or 1.0)


def _sun(rng: np.random.Generator) -> tuple[float, float, float]:
    azimuth, elevation = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 1.1)
    return (float(np.cos(elevation) * np.sin(azimuth)), float(np.cos(elevation)
            * np.cos(azimuth)), float(np.sin(elevation)))
