"""The per-pixel shader (numba): resolves occlusion between layers, evaluates materials, the
ground (road, markings, kerbs, sidewalks, terrain, shadows) and the sky, then haze and lighting.

One fused loop over the pixels keeps a 346 x 260 render to a few milliseconds, which matters
because the event simulator renders several times per frame.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ness_ros.data.objects import (
    M_CAR_END,
    M_CAR_SIDE,
    M_EMISSIVE,
    M_FACADE,
    M_FOLIAGE,
    M_GLASS,
    M_SIGN,
)

# Layout of the ground/sky parameter vector ``gp`` (float64).
G_ROAD, G_SIDEWALK, G_KERB, G_GRASS, G_MARK, G_PAVED = 0, 3, 6, 9, 12, 15
G_SKY_TOP, G_SKY_HORIZON, G_HAZE, G_CLOUD = 18, 21, 24, 27
G_LANE_W, G_LANES, G_DRIVING_HALF, G_ROAD_HALF, G_KERB_OUT, G_SIDEWALK_OUT = 30, 31, 32, 33, 34, 35
G_CENTRE_DASHED, G_TILE, G_ASPHALT_AMP, G_HAZE_DIST = 36, 37, 38, 39  # G_TILE: 1 / tile size
G_CLOUDINESS, G_HEADING, G_ILLUM, G_MAP_S0, G_CENTRE_COLOUR = 40, 41, 42, 43, 44
G_SIZE = 47

# Per-row ground geometry ``rows`` (H, R_SIZE) float64: R_LOGFP is log2 of the ground
# footprint of a pixel (metres, along the road), R_HAZE the haze weight at the row's depth.
R_VALID, R_DEPTH, R_SCALE, R_CENTRE, R_COS, R_SIN, R_S, R_ELEV, R_LOGFP, R_HAZE = range(10)
R_SIZE = 10

FLAT, BACKGROUND, VEGETATION = 0, 1, 3
SHADOW_D_RANGE = 40.0
INV_SHADOW_DS, INV_MAP_DS = 2.0, 1.0  # reciprocal cell sizes (1 / 0.5 m, 1 / 1 m)


@numba.njit(cache=True, inline="always")
def _tex(tex, flavour, level, u, v):
    return tex[flavour, level, int(np.floor(v)) & 255, int(np.floor(u)) & 255]


@numba.njit(cache=True, inline="always")
def _tex_smooth(tex, flavour, log_texels, u, v):
    """Texture at the pyramid level of a footprint (log2 texels per pixel); bilinear when
    magnified, so that nearby surfaces show no texel blocks."""
    if log_texels > -1.0:
        return tex[flavour, min(max(int(log_texels + 0.5), 0), tex.shape[1] - 1),
                   int(np.floor(v)) & 255, int(np.floor(u)) & 255]
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = u - u0, v - v0
    i0, j0 = int(v0) & 255, int(u0) & 255
    i1, j1 = (i0 + 1) & 255, (j0 + 1) & 255
    return ((tex[flavour, 0, i0, j0] * (1 - fu) + tex[flavour, 0, i0, j1] * fu) * (1 - fv)
            + (tex[flavour, 0, i1, j0] * (1 - fu) + tex[flavour, 0, i1, j1] * fu) * fv)


@numba.njit(cache=True, inline="always")
def _level(texels_per_pixel, levels):
    """Pyramid level for a footprint: round(log2(texels per pixel)), without a log call."""
    level = 0
    while texels_per_pixel > 1.4142 and level < levels - 1:
        texels_per_pixel *= 0.5
        level += 1
    return level


@numba.njit(cache=True, inline="always")
def _level_log(log_texels, levels):
    """Pyramid level from log2(texels per pixel)."""
    return min(max(int(log_texels + 0.5), 0), levels - 1)


@numba.njit(cache=True, inline="always")
def _frac(x):
    return x - np.floor(x)


@numba.njit(cache=True, inline="always")
def _material(k, a, b, t, f, par, mat, tex):
    """Colour (r, g, b) of primitive k at plane coordinates (a, b) metres, depth t."""
    levels = tex.shape[1]
    sc = par[k, 4]
    tpp = sc * t / f
    u, v = a * sc + par[k, 5], b * sc + par[k, 6]
    if tpp < 0.5:
        n = _tex_smooth(tex, int(par[k, 7]), -2.0, u, v)
    else:
        n = _tex(tex, int(par[k, 7]), _level(tpp, levels), u, v)
    gain = 1.0 + par[k, 3] * n
    m = mat[k]
    use2 = 0.0  # weight of the second colour
    if m == M_FACADE:
        pu, pv, fu, fv, shop = par[k, 11], par[k, 12], par[k, 13], par[k, 14], par[k, 15]
        if shop > 0.0 and b < shop:
            if 0.4 < b < shop - 0.6 and 0.08 < _frac(a / 5.0) < 0.92:
                use2 = 1.0
        elif pu * f / t < 3.0:  # windows below 3 pixels: their average, no aliasing
            use2 = fu * fv
        else:
            u, v = a / pu, (b - shop) / pv
            if abs(_frac(u) - 0.5) < fu / 2 and abs(_frac(v) - 0.5) < fv / 2:
                use2 = 1.0
                gain = 1.0 + 0.5 * _tex(tex, 1, 0, math.floor(u) * 37.0, math.floor(v) * 59.0)
    elif m == M_FOLIAGE:
        n2 = _tex(tex, 1, _level(par[k, 11] * t / f, levels), a * par[k, 11], b * par[k, 11])
        gain = max(0.05, (0.8 + par[k, 3] * n) * (1.0 + 0.35 * n2))
    elif m == M_CAR_SIDE:
        length, r, inset = par[k, 11], par[k, 12], par[k, 13]
        da = min(abs(a - inset), abs(a - (length - inset)))
        dist = math.sqrt(da * da + (b - r) * (b - r))
        if dist < 0.45 * r:
            use2, gain = 1.0, 7.0
        elif dist < r:
            use2 = 1.0
        elif dist < 1.12 * r or b < 0.12:
            gain = 0.3
    elif m == M_CAR_END:
        width, lamp_h = par[k, 11], par[k, 15]
        rel = a / width
        if (0.04 < rel < 0.24 or 0.76 < rel < 0.96) and abs(b - lamp_h) < 0.07:
            return float(par[k, 12]), float(par[k, 13]), float(par[k, 14])
        if abs(rel - 0.5) < 0.13 and abs(b - 0.4) < 0.07:
            return 0.85, 0.85, 0.8
        if b < 0.3:
            gain = 0.55
    elif m == M_GLASS:
        length, pillar = par[k, 11], par[k, 12]
        if pillar < a < length - pillar and b > 0.06:
            use2 = 1.0
            gain = 0.75 + 0.7 * b + 0.1 * n
    elif m == M_SIGN:
        shape, half, centre, border = par[k, 11], par[k, 12], par[k, 13], par[k, 14]
        bb = b - centre
        if shape < 0.5:
            r = math.sqrt(a * a + bb * bb) / half
        elif shape < 1.5:
            r = max(abs(a) / (1.4 * half), abs(bb) / half)
        else:
            r = (abs(a) + abs(bb)) / (1.2 * half)
        if r > 1.0 - border:
            use2 = 1.0
    return (((1.0 - use2) * par[k, 0] + use2 * par[k, 8]) * gain,
            ((1.0 - use2) * par[k, 1] + use2 * par[k, 9]) * gain,
            ((1.0 - use2) * par[k, 2] + use2 * par[k, 10]) * gain)


# Inlined, as _material: a call per pixel passing the arrays cost 13-17% of a frame's
# instructions (measured with cachegrind).
@numba.njit(cache=True, inline="always")
def _ground(xn, scale, centre, cos_phi, sin_phi, s_row, logfp, gp, terrain, crosswalk, stopline,
            shadow, tex):
    """(class id, colour index into gp, brightness gain) of the ground seen at xn on a row."""
    dx = xn * scale - centre
    d = dx * cos_phi
    s = s_row + dx * sin_phi
    ad = abs(d)
    levels = tex.shape[1]
    si = int((s - gp[G_MAP_S0]) * INV_MAP_DS)
    si = min(max(si, 0), crosswalk.shape[0] - 1)
    label = FLAT
    base = G_ROAD
    gain = 1.0
    if ad < gp[G_ROAD_HALF]:
        gain = (1.0 + gp[G_ASPHALT_AMP] * _tex_smooth(tex, 0, logfp + 3.585, s * 12.0,
                                                      d * 12.0 + 91.0)) * (
            1.0 + 0.15 * _tex(tex, 1, _level_log(logfp - 0.32, levels), s * 0.8, d * 0.8))
        if ad > gp[G_DRIVING_HALF]:
            gain *= 0.9
        half_w = 0.075
        dash = _frac(s * (1.0 / 9.0)) < 0.33
        lane_w, drive = gp[G_LANE_W], gp[G_DRIVING_HALF]
        mark = 0
        if gp[G_CENTRE_DASHED] > 0.5:
            if ad < half_w and dash:
                mark = 2
        elif abs(ad - 0.1) < 0.05:
            mark = 2
        if gp[G_LANES] > 1.5 and abs(ad - lane_w) < half_w and dash:
            mark = 1
        if abs(ad - drive) < half_w:
            mark = 1
        if crosswalk[si] and ad < drive and _frac(d) < 0.5:
            mark = 1
        if stopline[si] and 0.0 < d < drive:
            mark = 1
        if mark > 0:
            base = G_MARK if mark == 1 else G_CENTRE_COLOUR
            gain = 0.9 + 0.15 * _tex(tex, 0, _level_log(logfp + 4.32, levels), s * 20.0,
                                     d * 20.0)
    elif ad < gp[G_KERB_OUT]:
        base = G_KERB
        gain = 1.0 + 0.08 * _tex(tex, 0, _level_log(logfp + 4.32, levels), s * 20, d)
    elif ad < gp[G_SIDEWALK_OUT]:
        base = G_SIDEWALK
        inv_tile = gp[G_TILE]
        gain = 1.0 + 0.1 * _tex_smooth(tex, 0, logfp + 3.32, s * 10, d * 10 + 17.0)
        if logfp < -2.5 and (_frac(s * inv_tile) < 0.06 or _frac(d * inv_tile) < 0.06):
            gain *= 0.8
    else:
        side = 1 if d >= 0 else 0
        if terrain[side, si]:
            base, label = G_GRASS, VEGETATION
            gain = max(0.1, (0.85 + 0.4 * _tex_smooth(tex, 0, logfp + 3.8, s * 14.0, d * 14.0))
                       * (1.0 + 0.3 * _tex(tex, 1, _level_log(logfp, levels), s, d)))
        else:
            base = G_PAVED
            gain = 1.0 + 0.12 * _tex(tex, 1, _level_log(logfp + 1.58, levels), s * 3, d * 3)
    i = min(max(int((s - gp[G_MAP_S0]) * INV_SHADOW_DS), 0), shadow.shape[0] - 1)
    j = min(max(int((d + SHADOW_D_RANGE) * INV_SHADOW_DS), 0), shadow.shape[1] - 1)
    return label, base, gain * shadow[i, j]


@numba.njit(cache=True)
def shade_frame(ids, plane, zrange, par, mat, cls, pshade, rows, cols, cam, gp, terrain,
                crosswalk, stopline, shadow, tex, out_rgb, out_label):
    """Fill out_rgb (H, W, 3) float32 (linear, about 0..1) and out_label (H, W) uint8.

    ids: (layers, H, W) uint16 primitive buffers; rows (H, R_SIZE) per-row ground geometry;
    cols (W,) sky azimuth texel coordinate per column; cam: (f, cx, cy); other arguments as
    built by :class:`ness_ros.data.scene.Scene`.
    """
    f, cx, cy = cam[0], cam[1], cam[2]
    height, width = out_label.shape
    layers = ids.shape[0]
    illum, cloudiness = gp[G_ILLUM], gp[G_CLOUDINESS]
    haze_r, haze_g, haze_b = gp[G_HAZE], gp[G_HAZE + 1], gp[G_HAZE + 2]
    # Haze weight 1 - exp(-depth / distance) from a table (an exp per pixel is costly).
    haze_scale = 4.0
    haze = 1.0 - np.exp(-(np.arange(4 * 1200) + 0.5) / haze_scale / gp[G_HAZE_DIST])
    for py in range(height):
        yn = (py - cy) / f
        valid, scale, centre = rows[py, R_VALID] > 0.5, rows[py, R_SCALE], rows[py, R_CENTRE]
        cos_phi, sin_phi, s_row = rows[py, R_COS], rows[py, R_SIN], rows[py, R_S]
        logfp, row_haze, elev_row = rows[py, R_LOGFP], rows[py, R_HAZE], rows[py, R_ELEV]
        elev = min(max(elev_row * 3.0, 0.0), 1.0)
        for px in range(width):
            xn = (px - cx) / f
            best, best_t = -1, 1e30
            for layer in range(layers):
                k = int(ids[layer, py, px]) - 1
                if k < 0:
                    continue
                denom = plane[k, 9] * xn + plane[k, 10] * yn + plane[k, 11]
                num = plane[k, 9] * plane[k, 0] + plane[k, 10] * plane[k, 1] \
                    + plane[k, 11] * plane[k, 2]
                t = num / denom if abs(denom) > 1e-9 else zrange[k, 0]
                t = min(max(t, zrange[k, 0]), zrange[k, 1])
                if t < best_t:
                    best, best_t = k, t
            lit = illum
            if best >= 0:
                k = best
                qx, qy, qz = best_t * xn - plane[k, 0], best_t * yn - plane[k, 1], \
                    best_t - plane[k, 2]
                a = qx * plane[k, 3] + qy * plane[k, 4] + qz * plane[k, 5]
                b = qx * plane[k, 6] + qy * plane[k, 7] + qz * plane[k, 8]
                r, g, bl = _material(k, a, b, best_t, f, par, mat, tex)
                if mat[k] == M_EMISSIVE:
                    lit = 1.0
                else:
                    sh = pshade[k]
                    r, g, bl = r * sh, g * sh, bl * sh
                hz = haze[min(int(best_t * haze_scale), haze.shape[0] - 1)]
                label = cls[k]
            elif valid:
                label, base, gain = _ground(xn, scale, centre, cos_phi, sin_phi, s_row, logfp,
                                            gp, terrain, crosswalk, stopline, shadow, tex)
                r, g, bl = gp[base] * gain, gp[base + 1] * gain, gp[base + 2] * gain
                hz = row_haze
            else:
                label = BACKGROUND
                cloud = _tex(tex, 1, 1, cols[px], elev_row * 400.0) * 0.5 + 0.5
                cloud = min(max((cloud - 1.0 + cloudiness) * 2.5, 0.0), 0.85)
                r = (gp[G_SKY_HORIZON] * (1.0 - elev) + gp[G_SKY_TOP] * elev) * (1.0 - cloud) \
                    + gp[G_CLOUD] * cloud
                g = (gp[G_SKY_HORIZON + 1] * (1.0 - elev) + gp[G_SKY_TOP + 1] * elev) \
                    * (1.0 - cloud) + gp[G_CLOUD + 1] * cloud
                bl = (gp[G_SKY_HORIZON + 2] * (1.0 - elev) + gp[G_SKY_TOP + 2] * elev) \
                    * (1.0 - cloud) + gp[G_CLOUD + 2] * cloud
                hz = 0.0
            out_rgb[py, px, 0] = (r * (1.0 - hz) + haze_r * hz) * lit
            out_rgb[py, px, 1] = (g * (1.0 - hz) + haze_g * hz) * lit
            out_rgb[py, px, 2] = (bl * (1.0 - hz) + haze_b * hz) * lit
            out_label[py, px] = label

