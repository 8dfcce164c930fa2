"""Pinhole camera, projection and rasterisation of boxes and sprites into primitive-id buffers.

Camera frame: X right, Y down, Z forward (metres), the camera ``mount_height`` metres above the
ground; pixel (u, v) = (cx + f X / Z, cy + f Y / Z) with pixel centres at integer coordinates.
Each layer of :mod:`ness_ros.data.objects` is rasterised into its own uint16 buffer (0 = empty,
k + 1 = primitive k) far to near by a scan-line fill; the shader then resolves occlusion between
layers per pixel from the exact ray-plane depth of each primitive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ness_ros.data.faces import MAX_VERTS, box_faces
from ness_ros.data.objects import NUM_LAYERS, NUM_PARAMS, BoxSet, SpriteSet
from ness_ros.data.raster import fill_polygons
from ness_ros.data.road import EgoPose


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics (pixels) and mounting (metres)."""

    width: int
    height: int
    f: float
    cx: float
    cy: float
    mount_height: float = 1.4
    near: float = 0.3
    far: float = 320.0
    sprite_far: float = 220.0

    @classmethod
    def for_size(cls, width: int, height: int) -> Camera:
        """A DAVIS346-like field of view (about 70 degrees horizontal) at any resolution."""
        return cls(width, height, f=0.70 * width, cx=(width - 1) / 2, cy=0.45 * (height - 1))


@dataclass(frozen=True)
class Light:
    """Sun direction (world x, z, up; unit) and the ambient and diffuse shading weights."""

    sun: tuple[float, float, float]
    ambient: float
    diffuse: float


@dataclass
class Primitives:
    """Planar polygons of one render, ready for the shader (K primitives).

    plane: (K, 12) float64 camera-frame origin P0, unit axes EU, EV and normal N; texture
    coordinates of a ray point Q are (EU.(Q-P0), EV.(Q-P0)) in metres. zrange: (K, 2) depth
    bounds. par (K, NUM_PARAMS) float32, mat (K,) int32, cls (K,) uint8, shade (K,) float32.
    ids: (NUM_LAYERS, H, W) uint16 buffers, k + 1 where primitive k is the front-most of its
    layer.
    """

    plane: NDArray[np.float64]
    zrange: NDArray[np.float64]
    par: NDArray[np.float32]
    mat: NDArray[np.int32]
    cls: NDArray[np.uint8]
    shade: NDArray[np.float32]
    ids: NDArray[np.uint16]


def to_camera(pose: EgoPose, cam: Camera, x: NDArray, z: NDArray, h: NDArray
              ) -> NDArray[np.float64]:
    """World points (x, z, height) of any shape S -> camera-frame points (*S, 3), pitch
    included."""
    c, s = np.cos(pose.heading), np.sin(pose.heading)
    dx, dz = x - pose.x, z - pose.z
    return _pitch(np.stack([dx * c - dz * s, cam.mount_height - h, dx * s + dz * c], axis=-1),
                  pose.pitch)


def _pitch(p: NDArray[np.float64], pitch: float) -> NDArray[np.float64]:
    cp, sp = np.cos(pitch), np.sin(pitch)
    out = p.copy()
    out[..., 1] = p[..., 1] * cp - p[..., 2] * sp
    out[..., 2] = p[..., 1] * sp + p[..., 2] * cp
    return out


def rasterise(pose: EgoPose, cam: Camera, boxes: BoxSet, sprites: SpriteSet,
              light: Light) -> Primitives:
    """Project and rasterise every visible box face and sprite part at one pose."""
    groups = []  # (verts (V, 3), counts (K,), plane, zrange, par, mat, cls, shade, layer, key,
    #             order) per source
    if len(boxes):
        groups += _box_primitives(pose, cam, boxes, light)
    if len(sprites.anchor):
        groups += _sprite_primitives(pose, cam, sprites)
    ids = np.zeros((NUM_LAYERS, cam.height, cam.width), np.uint16)
    groups = [g for g in groups if len(g[1])]
    if not groups:
        return Primitives(np.zeros((0, 12)), np.zeros((0, 2)), np.zeros((0, NUM_PARAMS),
                          np.float32), np.zeros(0, np.int32), np.zeros(0, np.uint8),
                          np.zeros(0, np.float32), ids)
    verts, counts, plane, zr, par, mat, cls, shade, layer, key, order = (
        np.concatenate([g[i] for g in groups]) for i in range(11))
    u = cam.cx + cam.f * verts[:, 0] / verts[:, 2]
    v = cam.cy + cam.f * verts[:, 1] / verts[:, 2]
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
    fill_polygons(ids, np.lexsort((order, -key)).astype(np.intp), layer.astype(np.int8), u, v,
                  start)
    return Primitives(plane, zr, par.astype(np.float32), mat.astype(np.int32),
                      cls.astype(np.uint8), shade.astype(np.float32), ids)


def _box_primitives(pose: EgoPose, cam: Camera, boxes: BoxSet, light: Light) -> list[tuple]:
    n_max = len(boxes) * 5
    verts = np.empty((n_max, MAX_VERTS, 3))
    count = np.empty(n_max, np.int64)
    plane, zr = np.empty((n_max, 12)), np.empty((n_max, 2))
    bi, fi = np.empty(n_max, np.int64), np.empty(n_max, np.int64)
    shade, key = np.empty(n_max), np.empty(n_max)
    n = box_faces(boxes.geom, boxes.shade.astype(np.float64),
                  np.array([pose.x, pose.z, pose.heading, pose.pitch]),
                  np.array([cam.f, cam.cx, cam.cy, cam.width, cam.height, cam.mount_height,
                            cam.near, cam.far]),
                  np.array([*light.sun, light.ambient, light.diffuse]), verts, count, plane, zr,
                  bi, fi, shade, key)
    bi, fi, count = bi[:n], fi[:n], count[:n]
    flat = verts[:n][np.arange(MAX_VERTS)[None, :] < count[:, None]]
    return [(flat, count, plane[:n], zr[:n], boxes.par[bi, fi], boxes.mat[bi, fi],
             boxes.cls[bi], shade[:n], boxes.layer[bi], key[:n], np.zeros(n, np.int16))]


def _sprite_primitives(pose: EgoPose, cam: Camera, spr: SpriteSet) -> list[tuple]:
    c, s = np.cos(pose.heading), np.sin(pose.heading)
    dx, dz = spr.anchor[:, 0] - pose.x, spr.anchor[:, 1] - pose.z
    level = np.stack([dx * c - dz * s, cam.mount_height - spr.anchor[:, 2], dx * s + dz * c],
                     axis=1)
    anchor = _pitch(level, pose.pitch)
    ax, az = anchor[:, 0], anchor[:, 2]
    kx = (cam.width / 2 + 2) / cam.f
    vis = (az > cam.near) & (az < cam.sprite_far) & (np.abs(ax) - spr.radius < kx * az)
    part_vis = vis[spr.sprite]
    parts = np.nonzero(part_vis)[0]
    if len(parts) == 0:
        return []
    counts_all = np.diff(spr.start)
    vert_vis = np.repeat(part_vis, counts_all)
    vpart = np.repeat(spr.sprite, counts_all)[vert_vis]
    ab = spr.verts[vert_vis]
    la = level[vpart]
    # Sprite coordinates (a, b) -> level camera frame, then pitch as for everything else.
    verts = _pitch(np.stack([la[:, 0] + ab[:, 0], la[:, 1] - ab[:, 1], la[:, 2]], axis=1),
                   pose.pitch)
    sp = spr.sprite[parts]
    k = len(parts)
    unit, zero = np.ones(k), np.zeros(k)
    eu = _pitch(np.stack([unit, zero, zero], axis=1), pose.pitch)
    ev = _pitch(np.stack([zero, -unit, zero], axis=1), pose.pitch)
    n = _pitch(np.stack([zero, zero, -unit], axis=1), pose.pitch)
    plane = np.concatenate([anchor[sp], eu, ev, n], axis=1)
    zr = np.stack([az[sp] - 0.05, az[sp] + 0.05], axis=1)
    return [(verts, counts_all[parts], plane, zr, spr.par[parts], spr.mat[parts],
             spr.cls[parts], spr.shade[parts], spr.layer[sp], np.linalg.norm(anchor[sp], axis=1),
             spr.order[parts])]
