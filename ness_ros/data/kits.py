"""Static scene objects and their colour palettes: buildings, trees, bushes, hedges, street lamps,
signs and traffic lights, added to a :class:`~ness_ros.data.objects.GeometryBuilder`.

Palettes overlap on purpose, so that no class can be told from a pixel's colour alone: grey
buildings, grey cars and grey road; green signs, green cars and green trees; dark-green poles.
Colours are linear RGB in 0..1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ness_ros.data.objects import (
    LAYER_BUILDINGS,
    LAYER_VEHICLES,
    M_EMISSIVE,
    M_FACADE,
    M_FOLIAGE,
    M_PLAIN,
    M_SIGN,
    GeometryBuilder,
    ellipse,
    params,
    rect,
)
from ness_ros.labels import CLASS_NAMES

FLAT, BACKGROUND, OBJECT, VEGETATION, HUMAN, VEHICLE = range(len(CLASS_NAMES))

GREYS = [(0.2, 0.2, 0.2), (0.35, 0.35, 0.36), (0.5, 0.5, 0.5), (0.65, 0.65, 0.66)]
FACADE_COLOURS = GREYS + [(0.72, 0.64, 0.52), (0.56, 0.32, 0.24), (0.82, 0.8, 0.76),
                          (0.24, 0.28, 0.32), (0.5, 0.58, 0.46), (0.62, 0.55, 0.4)]
CAR_COLOURS = GREYS + [(0.85, 0.85, 0.85), (0.06, 0.06, 0.07), (0.6, 0.08, 0.07),
                       (0.1, 0.18, 0.45), (0.12, 0.35, 0.18), (0.8, 0.65, 0.1), (0.4, 0.3, 0.2),
                       (0.3, 0.45, 0.6), (0.45, 0.5, 0.35)]
FOLIAGE_COLOURS = [(0.16, 0.3, 0.1), (0.25, 0.38, 0.14), (0.12, 0.22, 0.12), (0.35, 0.4, 0.2),
                   (0.5, 0.4, 0.15), (0.45, 0.22, 0.1), (0.3, 0.33, 0.28)]
SIGN_COLOURS = [(0.1, 0.25, 0.6), (0.7, 0.1, 0.1), (0.1, 0.42, 0.22), (0.85, 0.85, 0.82),
                (0.85, 0.7, 0.1)]
POLE_COLOURS = [(0.4, 0.4, 0.42), (0.55, 0.55, 0.55), (0.12, 0.22, 0.15), (0.1, 0.1, 0.1),
                (0.3, 0.25, 0.2)]
BARK_COLOURS = [(0.3, 0.22, 0.15), (0.4, 0.38, 0.35), (0.22, 0.18, 0.14)]
#: Lamp colours of a traffic light, lit: red, amber, green.
SIGNAL_COLOURS = np.array([[1.0, 0.15, 0.1], [1.0, 0.65, 0.05], [0.2, 1.0, 0.45]], np.float32)


def pick(rng: np.random.Generator, palette: list[tuple[float, float, float]],
         jitter: float = 0.06) -> NDArray[np.float64]:
    """A palette colour with a per-instance brightness and hue jitter."""
    base = np.array(palette[rng.integers(len(palette))])
    return np.clip(base * rng.uniform(0.85, 1.15) + rng.normal(0, jitter / 2, 3), 0.02, 0.95)


def add_building(b: GeometryBuilder, rng: np.random.Generator, x: float, z: float,
                 heading: float, length: float, depth: float, height: float,
                 shade: float) -> None:
    """A block of length (along the road) x depth x height metres centred at world (x, z)."""
    colour = pick(rng, FACADE_COLOURS)
    glass = pick(rng, [(0.1, 0.12, 0.15), (0.2, 0.25, 0.3), (0.55, 0.6, 0.65), (0.35, 0.3, 0.2)])
    shop = float(rng.uniform(3.5, 4.5)) if rng.random() < 0.5 else 0.0
    extra = (rng.uniform(2.5, 4.0), rng.uniform(3.0, 3.6), rng.uniform(0.35, 0.7),
             rng.uniform(0.35, 0.6), shop)
    facade = params(colour, rng, amp=rng.uniform(0.06, 0.16), scale=6.0, flavour=1,
                    colour2=glass, extra=extra)
    roof = params(colour * 0.7, rng, amp=0.1)
    b.add_box(x, z, heading, length, depth, 0.0, height, cls=BACKGROUND, layer=LAYER_BUILDINGS,
              mats=[M_FACADE] * 4 + [M_PLAIN], pars=[facade] * 4 + [roof], shade=shade)


def add_hedge(b: GeometryBuilder, rng: np.random.Generator, x: float, z: float, heading: float,
              length: float, shade: float) -> None:
    leaves = params(pick(rng, FOLIAGE_COLOURS[:4]), rng, amp=0.4, scale=14.0, extra=(3.0,))
    b.add_box(x, z, heading, length, rng.uniform(0.6, 1.2), 0.0, rng.uniform(0.8, 1.6),
              cls=VEGETATION, layer=LAYER_VEHICLES, mats=[M_FOLIAGE] * 5, pars=[leaves] * 5,
              shade=shade)


def add_tree(b: GeometryBuilder, rng: np.random.Generator, x: float, z: float,
             shade: float, bush: bool = False) -> None:
    """A street tree (trunk and crown) or, with ``bush``, a low shrub."""
    leaves = params(pick(rng, FOLIAGE_COLOURS), rng, amp=rng.uniform(0.3, 0.5),
                    scale=rng.uniform(10, 18), extra=(rng.uniform(2, 4),))
    if bush:
        rx = rng.uniform(0.5, 1.3)
        s = b.add_sprite(x, z, radius=rx)
        b.add_part(s, ellipse(0, rx * 0.6, rx, rx * 0.7, 14, rng.uniform(0.8, 1.15, 14)),
                   cls=VEGETATION, mat=M_FOLIAGE, par=leaves, order=0, shade=shade)
        return
    trunk_h, rx = rng.uniform(1.8, 3.5), rng.uniform(1.2, 3.2)
    s = b.add_sprite(x, z, radius=rx)
    half = rng.uniform(0.1, 0.22)
    b.add_part(s, rect(-half, half, 0, trunk_h + rx * 0.5), cls=VEGETATION, mat=M_PLAIN,
               par=params(pick(rng, BARK_COLOURS), rng, amp=0.25, scale=20, flavour=1),
               order=0, shade=shade)
    if rng.random() < 0.25:  # conifer
        crown = np.array([[0, trunk_h + 3.2 * rx], [-rx, trunk_h], [rx, trunk_h]])
    else:
        ry = rx * rng.uniform(0.8, 1.3)
        crown = ellipse(0, trunk_h + ry, rx, ry, 18, rng.uniform(0.82, 1.15, 18))
    b.add_part(s, crown, cls=VEGETATION, mat=M_FOLIAGE, par=leaves, order=1, shade=shade)


def add_street_lamp(b: GeometryBuilder, rng: np.random.Generator, x: float, z: float,
                    towards_road: float, shade: float) -> None:
    """Pole, arm reaching over the road (``towards_road``: -1 left, +1 right) and lamp head."""
    h, arm = rng.uniform(6.0, 8.0), rng.uniform(1.0, 2.2) * towards_road
    metal = params(pick(rng, POLE_COLOURS), rng, amp=0.08, scale=10)
    s = b.add_sprite(x, z, radius=abs(arm) + 0.5)
    b.add_part(s, rect(-0.08, 0.08, 0, h), cls=OBJECT, mat=M_PLAIN, par=metal, order=0,
               shade=shade)
    b.add_part(s, rect(min(0, arm), max(0, arm), h - 0.12, h), cls=OBJECT, mat=M_PLAIN,
               par=metal, order=1, shade=shade)
    b.add_part(s, rect(arm - 0.3, arm + 0.3, h - 0.22, h - 0.05), cls=OBJECT, mat=M_PLAIN,
               par=params((0.85, 0.85, 0.8), rng, amp=0.02), order=2, shade=shade)


def add_sign(b: GeometryBuilder, rng: np.random.Generator, x: float, z: float,
             shade: float) -> None:
    """A sign plate (disc, rectangle or diamond) on a thin post."""
    post_h, half = rng.uniform(1.8, 2.8), rng.uniform(0.3, 0.5)
    shape = int(rng.integers(3))
    s = b.add_sprite(x, z, radius=half * 1.5)
    b.add_part(s, rect(-0.04, 0.04, 0, post_h + half), cls=OBJECT, mat=M_PLAIN,
               par=params(pick(rng, POLE_COLOURS), rng, amp=0.05), order=0, shade=shade)
    centre = post_h + half
    if shape == 0:
        plate = ellipse(0, centre, half, half, 16)
    elif shape == 1:
        plate = rect(-half * 1.4, half * 1.4, centre - half, centre + half)
    else:
        plate = np.array([[0, centre - half * 1.2], [half * 1.2, centre], [0, centre + half * 1.2],
                          [-half * 1.2, centre]])
    border = (0.85, 0.85, 0.85) if rng.random() < 0.6 else (0.7, 0.1, 0.1)
    par = params(pick(rng, SIGN_COLOURS), rng, amp=0.04, colour2=border,
                 extra=(shape, half, centre, rng.uniform(0.1, 0.2)))
    b.add_part(s, plate, cls=OBJECT, mat=M_SIGN, par=par, order=1, shade=shade)


def add_traffic_light(b: GeometryBuilder, rng: np.random.Generator, x: float, z: float,
                      towards_road: float, arm_length: float, shade: float, signal: int) -> None:
    """A traffic light on a pole, with a mast arm and a second head over the road when
    ``arm_length`` > 0. Its lamps are M_EMISSIVE parts whose parameters 11 and 12 hold the
    ``signal`` index and the lamp (0 red, 1 amber, 2 green), so the scene can switch them."""
    pole_h = 5.6 if arm_length > 0 else 3.2
    metal = params(pick(rng, POLE_COLOURS), rng, amp=0.06)
    housing = params((0.07, 0.07, 0.07), rng, amp=0.1)
    s = b.add_sprite(x, z, radius=arm_length + 0.5)
    b.add_part(s, rect(-0.08, 0.08, 0, pole_h), cls=OBJECT, mat=M_PLAIN, par=metal, order=0,
               shade=shade)
    heads = [(0.0, 2.2)]
    if arm_length > 0:
        arm = arm_length * towards_road
        b.add_part(s, rect(min(0, arm), max(0, arm), pole_h - 0.15, pole_h), cls=OBJECT,
                   mat=M_PLAIN, par=metal, order=1, shade=shade)
        heads.append((arm * 0.85, pole_h - 1.0))
    for a, b0 in heads:
        b.add_part(s, rect(a - 0.17, a + 0.17, b0, b0 + 0.95), cls=OBJECT, mat=M_PLAIN,
                   par=housing, order=2, shade=shade)
        for k in range(3):
            b.add_part(s, ellipse(a, b0 + 0.78 - 0.3 * k, 0.1, 0.1, 10), cls=OBJECT,
                       mat=M_EMISSIVE, par=params(SIGNAL_COLOURS[k] * 0.15, rng, amp=0.0,
                                                  extra=(signal, k)), order=3)
