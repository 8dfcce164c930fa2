"""Box faces seen by the camera (numba): transform, back-face and frustum culling, near-plane
clipping and Lambert shading of every face of every box in one call.

This is the per-render geometry work for buildings and cars; done with small NumPy arrays it
cost more than a millisecond per render in call overhead alone.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Corner indices of the faces front, rear, right, left, top; corner k has bits (forward,
#: right, top) and the first corner of a face is its texture origin (a = b = 0).
QUADS = np.array([[4, 6, 7, 5], [2, 0, 1, 3], [6, 2, 3, 7], [0, 4, 5, 1], [1, 3, 7, 5]],
                 np.int64)
MAX_VERTS = 8  # a quad clipped by one plane has at most 5


@numba.njit(cache=True)
def box_faces(geom, shade_in, pose, cam, light, out_verts, out_count, out_plane, out_zr,
              out_box, out_face, out_shade, out_key):
    """Visible faces of boxes ``geom`` (B, 7): centre x, z, heading, length, width, bottom,
    top (world metres). ``pose``: x, z, heading, pitch; ``cam``: f, cx, cy, width, height,
    mount height, near, far; ``light``: sun x, z, up, ambient, diffuse.

    Writes face i's clipped polygon to out_verts[i, :out_count[i]] (camera frame), its plane
    (origin, axes EU, EV, normal N), depth range, box and face index, shade and painter's key;
    returns the number of faces.
    """
    ch, sh = math.cos(pose[2]), math.sin(pose[2])
    cp, sp = math.cos(pose[3]), math.sin(pose[3])
    f, cx, cy, width, height = cam[0], cam[1], cam[2], cam[3], cam[4]
    mount, near, far = cam[5], cam[6], cam[7]
    kr, kl = (width - cx + 1.0) / f, (cx + 2.0) / f
    kb, kt = (height - cy + 1.0) / f, (cy + 2.0) / f
    corners = np.empty((8, 3))
    normals = np.empty((5, 3))
    world_n = np.empty((5, 3))
    axes_u = np.empty((5, 3))
    axes_v = np.empty((5, 3))
    poly = np.empty((MAX_VERTS, 3))
    n_out = 0
    for bx in range(geom.shape[0]):
        x, z, th, length, wid, y0, y1 = geom[bx]
        fx, fz = math.sin(th), math.cos(th)
        rx, rz = fz, -fx
        # Camera-frame directions of the box axes (level frame, then pitch).
        fwd = _dir(fx, fz, 0.0, ch, sh, cp, sp)
        right = _dir(rx, rz, 0.0, ch, sh, cp, sp)
        up = _dir(0.0, 0.0, 1.0, ch, sh, cp, sp)
        for k in range(8):
            sf = 1.0 if k >= 4 else -1.0
            sr = 1.0 if (k // 2) % 2 == 1 else -1.0
            hgt = y1 if k % 2 == 1 else y0
            wx = x + sf * length / 2 * fx + sr * wid / 2 * rx
            wz = z + sf * length / 2 * fz + sr * wid / 2 * rz
            _point(wx - pose[0], wz - pose[1], mount - hgt, ch, sh, cp, sp, corners[k])
        centre = np.empty(3)
        _point(x - pose[0], z - pose[1], mount - 0.5 * (y0 + y1), ch, sh, cp, sp, centre)
        key = math.sqrt(centre[0] ** 2 + centre[1] ** 2 + centre[2] ** 2)
        if y1 < 0.05:
            key += 1e4  # a car's ground shadow goes under everything of its layer
        if y0 > 0.05:
            key -= 1e-3  # a cabin is drawn after the body it stands on
        for i in range(3):
            normals[0, i], normals[1, i] = fwd[i], -fwd[i]
            normals[2, i], normals[3, i], normals[4, i] = right[i], -right[i], up[i]
            axes_u[0, i], axes_u[1, i], axes_u[2, i] = right[i], -right[i], -fwd[i]
            axes_u[3, i], axes_u[4, i] = fwd[i], right[i]
            for q in range(4):
                axes_v[q, i] = up[i]
            axes_v[4, i] = fwd[i]
        world_n[0, 0], world_n[0, 1], world_n[0, 2] = fx, fz, 0.0
        world_n[1, 0], world_n[1, 1], world_n[1, 2] = -fx, -fz, 0.0
        world_n[2, 0], world_n[2, 1], world_n[2, 2] = rx, rz, 0.0
        world_n[3, 0], world_n[3, 1], world_n[3, 2] = -rx, -rz, 0.0
        world_n[4, 0], world_n[4, 1], world_n[4, 2] = 0.0, 0.0, 1.0
        for fc in range(5):
            q = QUADS[fc]
            dot, zmin = 0.0, 1e30
            for i in range(3):
                c = 0.25 * (corners[q[0], i] + corners[q[1], i] + corners[q[2], i]
                            + corners[q[3], i])
                dot += normals[fc, i] * c
            if dot >= 0.0:  # facing away from the camera
                continue
            out_r = out_l = out_b = out_t = out_n = out_f = True
            for j in range(4):
                px, py, pz = corners[q[j], 0], corners[q[j], 1], corners[q[j], 2]
                zmin = min(zmin, pz)
                out_r &= px > kr * pz
                out_l &= -px > kl * pz
                out_b &= py > kb * pz
                out_t &= -py > kt * pz
                out_n &= pz < near
                out_f &= pz > far
            if out_r or out_l or out_b or out_t or out_n or out_f:
                continue
            count = 0
            for j in range(4):
                a, b = corners[q[j]], corners[q[(j + 1) % 4]]
                ina, inb = a[2] >= near, b[2] >= near
                if ina:
                    poly[count] = a
                    count += 1
                if ina != inb:
                    w = (near - a[2]) / (b[2] - a[2])
                    for i in range(3):
                        poly[count, i] = a[i] + w * (b[i] - a[i])
                    count += 1
            if count < 3:
                continue
            lo, hi = 1e30, -1e30
            for j in range(count):
                out_verts[n_out, j] = poly[j]
                lo, hi = min(lo, poly[j, 2]), max(hi, poly[j, 2])
            out_count[n_out] = count
            out_zr[n_out, 0], out_zr[n_out, 1] = lo, hi
            for i in range(3):
                out_plane[n_out, i] = corners[q[0], i]
                out_plane[n_out, 3 + i] = axes_u[fc, i]
                out_plane[n_out, 6 + i] = axes_v[fc, i]
                out_plane[n_out, 9 + i] = normals[fc, i]
            lam = world_n[fc, 0] * light[0] + world_n[fc, 1] * light[1] \
                + world_n[fc, 2] * light[2]
            out_shade[n_out] = shade_in[bx] * (light[3] + light[4] * max(0.0, lam))
            out_box[n_out], out_face[n_out], out_key[n_out] = bx, fc, key
            n_out += 1
    return n_out


@numba.njit(cache=True, inline="always")
def _dir(dx, dz, dy, ch, sh, cp, sp):
    """World direction (x, z, up) -> camera frame (X right, Y down, Z forward)."""
    lx, ly, lz = dx * ch - dz * sh, -dy, dx * sh + dz * ch
    return np.array([lx, ly * cp - lz * sp, ly * sp + lz * cp])


@numba.njit(cache=True, inline="always")
def _point(dx, dz, y_down, ch, sh, cp, sp, out):
    """World offset from the camera (x, z) and depth below it -> camera frame, into out."""
    lx, lz = dx * ch - dz * sh, dx * sh + dz * ch
    out[0], out[1], out[2] = lx, y_down * cp - lz * sp, y_down * sp + lz * cp
