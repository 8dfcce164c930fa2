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


def _rotate_dirs(pose: EgoPose, dx: NDArray, dz: NDArray, dy: NDArray) -> NDArray[np.float64]:
    """World directions (x, z, up) -> camera frame."""
    c, s = np.cos(pose.heading), np.sin(pose.heading)
    return _pitch(np.stack([dx * c - dz * s, -dy, dx * s + dz * c], axis=-1), pose.pitch)


def _box_faces(boxes: BoxSet, pose: EgoPose, cam: Camera):
    """Corners (B, 5, 4, 3), P0/EU/EV/N (B, 5, 3) of every box face in the camera frame."""
    x, z, th, length, width, y0, y1 = boxes.geom.T
    fx, fz, rx, rz = np.sin(th), np.cos(th), np.cos(th), -np.sin(th)
    hl, hw = length / 2, width / 2
    # Corner k: (+-fwd, +-right, bottom/top), index bits (f, r, t).
    sf = np.array([-1, -1, -1, -1, 1, 1, 1, 1])[None]
    sr = np.array([-1, -1, 1, 1, -1, -1, 1, 1])[None]
    st = np.array([0, 1, 0, 1, 0, 1, 0, 1])[None]
    cxw = x[:, None] + sf * hl[:, None] * fx[:, None] + sr * hw[:, None] * rx[:, None]
    czw = z[:, None] + sf * hl[:, None] * fz[:, None] + sr * hw[:, None] * rz[:, None]
    chw = np.where(st == 1, y1[:, None], y0[:, None])
    corners = to_camera(pose, cam, cxw, czw, chw)  # (B, 8, 3)
    # Faces as corner indices, starting at the face's texture origin (bottom, a = 0).
    quads = np.array([[4, 6, 7, 5],   # front: origin at -right, a runs to +right
                      [2, 0, 1, 3],   # rear: origin at +right, a runs to -right
                      [6, 2, 3, 7],   # right: origin at +fwd, a runs to -fwd
                      [0, 4, 5, 1],   # left: origin at -fwd, a runs to +fwd
                      [1, 3, 7, 5]])  # top: origin at -fwd -right, a to +right, b to +fwd
    faces = corners[:, quads]  # (B, 5, 4, 3)
    one, zero = np.ones_like(fx), np.zeros_like(fx)
    up = _rotate_dirs(pose, zero, zero, one)
    fwd = _rotate_dirs(pose, fx, fz, zero)
    right = _rotate_dirs(pose, rx, rz, zero)
    eu = np.stack([right, -right, -fwd, fwd, right], axis=1)
    ev = np.stack([up, up, up, up, fwd], axis=1)
    n = np.stack([fwd, -fwd, right, -right, up], axis=1)
    return faces, faces[:, :, 0], eu, ev, n


def _clip_near(poly: NDArray[np.float64], near: float) -> NDArray[np.float64]:
    """Sutherland-Hodgman clip of a polygon (k, 3) to Z >= near."""
    out = []
    k = len(poly)
    for i in range(k):
        a, b = poly[i], poly[(i + 1) % k]
        ina, inb = a[2] >= near, b[2] >= near
        if ina:
            out.append(a)
        if ina != inb:
            w = (near - a[2]) / (b[2] - a[2])
            out.append(a + w * (b - a))
    return np.array(out).reshape(-1, 3)


def _frustum_out(pts: NDArray[np.float64], cam: Camera, axis: int) -> NDArray[np.bool_]:
    """True for polygons (along ``axis`` of pts (..., k, 3)) entirely outside one frustum
    plane."""
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    kr, kl = (cam.width - cam.cx + 1) / cam.f, (cam.cx + 2) / cam.f
    kb, kt = (cam.height - cam.cy + 1) / cam.f, (cam.cy + 2) / cam.f
    tests = (z < cam.near, z > cam.far, x > kr * z, -x > kl * z, y > kb * z, -y > kt * z)
    return np.any([np.all(t, axis=axis) for t in tests], axis=0)


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
    faces, p0, eu, ev, n = _box_faces(boxes, pose, cam)
    centre = faces.mean(axis=2)
    visible = (np.einsum("bfk,bfk->bf", n, centre) < 0) & ~_frustum_out(faces, cam, 2)
    box_centre = to_camera(pose, cam, boxes.geom[:, 0], boxes.geom[:, 1],
                           0.5 * (boxes.geom[:, 5] + boxes.geom[:, 6]))
    # Within a car: ground shadow first, then body, then cabin (boxes come in that order).
    bias = np.where(boxes.geom[:, 6] < 0.05, 1e4, 0.0) - 1e-3 * (boxes.geom[:, 5] > 0.05)
    key_box = np.linalg.norm(box_centre, axis=1) + bias
    straddle = faces[..., 2].min(axis=2) < cam.near
    out = []
    for clipped in (False, True):
        bi, fi = np.nonzero(visible & (straddle == clipped))
        if clipped:
            polys = [_clip_near(faces[b_, f_], cam.near) for b_, f_ in zip(bi, fi, strict=True)]
            ok = np.array([len(p) >= 3 for p in polys], dtype=bool)
            bi, fi = bi[ok], fi[ok]
            polys = [p for p in polys if len(p) >= 3]
            if not polys:
                continue
            verts = np.concatenate(polys)
            counts = np.array([len(p) for p in polys])
            zr = np.array([(p[:, 2].min(), p[:, 2].max()) for p in polys])
        else:
            quads = faces[bi, fi]
            verts = quads.reshape(-1, 3)
            counts = np.full(len(bi), 4)
            zr = np.stack([quads[..., 2].min(axis=1), quads[..., 2].max(axis=1)], axis=1)
        plane = np.concatenate([p0[bi, fi], eu[bi, fi], ev[bi, fi], n[bi, fi]], axis=1)
        shade = boxes.shade[bi] * _sun_shade(boxes.geom[bi], fi, light)
        out.append((verts, counts, plane, zr, boxes.par[bi, fi], boxes.mat[bi, fi],
                    boxes.cls[bi], shade, boxes.layer[bi], key_box[bi],
                    np.zeros(len(bi), np.int16)))
    return out


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


def _sun_shade(geom: NDArray[np.float64], face: NDArray[np.intp], light: Light
               ) -> NDArray[np.float64]:
    """Lambert shading of box faces: ambient + diffuse * max(0, normal . sun)."""
    th = geom[:, 2]
    fx, fz = np.sin(th), np.cos(th)
    nx = np.select([face == 0, face == 1, face == 2, face == 3], [fx, -fx, fz, -fz], 0.0)
    nz = np.select([face == 0, face == 1, face == 2, face == 3], [fz, -fz, -fx, fx], 0.0)
    ny = (face == 4).astype(np.float64)
    sx, sz, sy = light.sun
    return light.ambient + light.diffuse * np.maximum(0.0, nx * sx + nz * sz + ny * sy)
