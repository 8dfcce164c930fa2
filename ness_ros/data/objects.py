"""Scene geometry containers: boxes (buildings, car bodies, hedges) and sprites (trees, poles,
signs, traffic lights, pedestrians), with the material parameters the shader reads.

A box is an oriented cuboid standing on the ground, drawn as up to five planar faces. A sprite is
an upright flat figure that always faces the camera, anchored at a ground point; its parts are
polygons in sprite coordinates (a: metres to the camera's right of the anchor, b: metres above
the ground). Every face or part is one *primitive* for the renderer: a planar polygon with a
class id, a material id and a row of :data:`NUM_PARAMS` material parameters.

Material parameter row (float32): 0-2 base colour (linear RGB, 0..1), 3 texture amplitude,
4 texture scale (texels per metre), 5-6 texture offsets (texels), 7 texture flavour, 8-10 second
colour (windows, glass, tyres, sign border), 11-15 material-specific (see the M_* constants).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

NUM_PARAMS = 16
#: Face order of a box: front (+forward), rear, right (+lateral), left, top.
BOX_FACES = 5

# Materials. Specific parameters in brackets.
M_PLAIN = 0      # base colour times (1 + amplitude * noise)
M_FACADE = 1     # windows grid [11 period along, 12 period up, 13-14 window fractions,
                 # 15 ground-floor height (shop windows below)]
M_FOLIAGE = 2    # leaves: strong two-scale noise
M_CAR_SIDE = 3   # lower body side with wheels [11 length, 12 wheel radius, 13 wheel inset]
M_CAR_END = 4    # lower body front/rear with lamps [11 width, 12-14 lamp colour, 15 lamp height]
M_GLASS = 5      # cabin face: glass with pillars [11 face length, 12 pillar width]
M_SIGN = 6       # sign plate [11 shape 0 disc 1 rectangle 2 diamond, 12 half size,
                 # 13 centre height, 14 border fraction]
M_EMISSIVE = 7   # lamp: not shaded, not dimmed by lighting

# Render layers: occlusion between layers is decided per pixel by depth, within a layer by
# drawing far to near (painter's algorithm).
LAYER_BUILDINGS = 0
LAYER_VEHICLES = 1
LAYER_SPRITES = 2
NUM_LAYERS = 3


def params(colour: tuple[float, float, float] | NDArray[np.floating],
           rng: np.random.Generator, *, amp: float = 0.1, scale: float = 8.0,
           flavour: int = 0, colour2: tuple[float, float, float] | NDArray[np.floating]
           = (0.0, 0.0, 0.0), extra: tuple[float, ...] = ()) -> NDArray[np.float32]:
    """One material parameter row; texture offsets are random so no two instances look alike."""
    row = np.zeros(NUM_PARAMS, dtype=np.float32)
    row[0:3] = np.clip(colour, 0.0, 1.0)
    row[3], row[4] = amp, scale
    row[5:7] = rng.uniform(0, 256, size=2)
    row[7] = flavour
    row[8:11] = np.clip(colour2, 0.0, 1.0)
    row[11:11 + len(extra)] = extra
    return row


@dataclass
class BoxSet:
    """Oriented boxes standing on the ground; all arrays have length B (the box count).

    geom: (B, 7) float64: centre x, centre z (world metres), heading (rad), length (along the
        heading), width, bottom height, top height (metres).
    layer, cls: (B,) int; mat: (B, 5) int32 and par: (B, 5, NUM_PARAMS) float32 per face;
    shade: (B,) float32 brightness factor (ground shadow at the box).
    """

    geom: NDArray[np.float64]
    layer: NDArray[np.int8]
    cls: NDArray[np.uint8]
    mat: NDArray[np.int32]
    par: NDArray[np.float32]
    shade: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.geom)

    def take(self, idx: NDArray[np.intp]) -> BoxSet:
        """The boxes ``idx``, in that order."""
        return BoxSet(self.geom[idx], self.layer[idx], self.cls[idx], self.mat[idx],
                      self.par[idx], self.shade[idx])

    @staticmethod
    def concatenate(sets: list[BoxSet]) -> BoxSet:
        return BoxSet(*(np.concatenate([getattr(s, f) for s in sets])
                        for f in ("geom", "layer", "cls", "mat", "par", "shade")))


@dataclass
class SpriteSet:
    """Camera-facing sprites and their polygon parts.

    Sprites (S): anchor (S, 3) float64 world x, z and base height; radius (S,) float64 (for
    culling); layer (S,) int8.
    Parts (P): sprite (P,) int index, cls (P,) uint8, mat (P,) int32, par (P, NUM_PARAMS)
    float32, order (P,) drawing order within the sprite, shade (P,) float32; vertices of part p
    are ``verts[start[p]:start[p + 1]]``, (V, 2) float64 sprite coordinates (a, b) in metres.
    """

    anchor: NDArray[np.float64]
    radius: NDArray[np.float64]
    layer: NDArray[np.int8]
    sprite: NDArray[np.intp]
    cls: NDArray[np.uint8]
    mat: NDArray[np.int32]
    par: NDArray[np.float32]
    order: NDArray[np.int16]
    shade: NDArray[np.float32]
    verts: NDArray[np.float64]
    start: NDArray[np.intp]

    def select(self, idx: NDArray[np.intp]) -> SpriteSet:
        """The sprites ``idx`` in that order, each with its parts (kept in their order); the
        result has its parts grouped by sprite, as :meth:`slice` requires."""
        new_index = np.full(len(self.anchor), -1, np.intp)
        new_index[idx] = np.arange(len(idx))
        owner = new_index[self.sprite]
        parts = np.nonzero(owner >= 0)[0]
        parts = parts[np.argsort(owner[parts], kind="stable")]
        counts = np.diff(self.start)[parts]
        verts = np.concatenate([np.arange(self.start[p], self.start[p + 1]) for p in parts]) \
            if len(parts) else np.zeros(0, np.intp)
        return SpriteSet(self.anchor[idx], self.radius[idx], self.layer[idx], owner[parts],
                         self.cls[parts], self.mat[parts], self.par[parts], self.order[parts],
                         self.shade[parts], self.verts[verts],
                         np.concatenate([[0], np.cumsum(counts)]).astype(np.intp))

    def slice(self, i0: int, i1: int) -> SpriteSet:
        """Sprites i0..i1-1 as views; parts must be grouped by sprite in sprite order."""
        p0, p1 = np.searchsorted(self.sprite, [i0, i1])
        v0, v1 = self.start[p0], self.start[p1]
        return SpriteSet(self.anchor[i0:i1], self.radius[i0:i1], self.layer[i0:i1],
                         self.sprite[p0:p1] - i0, self.cls[p0:p1], self.mat[p0:p1],
                         self.par[p0:p1], self.order[p0:p1], self.shade[p0:p1],
                         self.verts[v0:v1], self.start[p0:p1 + 1] - v0)

    @staticmethod
    def concatenate(a: SpriteSet, b: SpriteSet) -> SpriteSet:
        """Sprites of ``a`` then ``b`` (part and vertex indices of ``b`` shifted)."""
        return SpriteSet(
            anchor=np.concatenate([a.anchor, b.anchor]),
            radius=np.concatenate([a.radius, b.radius]),
            layer=np.concatenate([a.layer, b.layer]),
            sprite=np.concatenate([a.sprite, b.sprite + len(a.anchor)]),
            cls=np.concatenate([a.cls, b.cls]), mat=np.concatenate([a.mat, b.mat]),
            par=np.concatenate([a.par, b.par]), order=np.concatenate([a.order, b.order]),
            shade=np.concatenate([a.shade, b.shade]), verts=np.concatenate([a.verts, b.verts]),
            start=np.concatenate([a.start[:-1], b.start + a.start[-1]]))


@dataclass
class GeometryBuilder:
    """Collects boxes and sprites one object at a time, then packs them into arrays."""

    _boxes: list[tuple] = field(default_factory=list)
    _sprites: list[tuple] = field(default_factory=list)
    _parts: list[tuple] = field(default_factory=list)

    def add_box(self, x: float, z: float, heading: float, length: float, width: float,
                y0: float, y1: float, *, cls: int, layer: int, mats: list[int],
                pars: list[NDArray[np.float32]], shade: float = 1.0) -> None:
        self._boxes.append(((x, z, heading, length, width, y0, y1), layer, cls, mats,
                            np.stack(pars), shade))

    def add_sprite(self, x: float, z: float, *, radius: float, layer: int = LAYER_SPRITES,
                   base: float = 0.0) -> int:
        self._sprites.append(((x, z, base), radius, layer))
        return len(self._sprites) - 1

    def add_part(self, sprite: int, verts: NDArray[np.floating] | list, *, cls: int, mat: int,
                 par: NDArray[np.float32], order: int, shade: float = 1.0) -> None:
        self._parts.append((sprite, np.asarray(verts, dtype=np.float64).reshape(-1, 2), cls, mat,
                            par, order, shade))

    def boxes(self) -> BoxSet:
        b = self._boxes
        return BoxSet(
            geom=np.array([r[0] for r in b], dtype=np.float64).reshape(-1, 7),
            layer=np.array([r[1] for r in b], dtype=np.int8),
            cls=np.array([r[2] for r in b], dtype=np.uint8),
            mat=np.array([r[3] for r in b], dtype=np.int32).reshape(-1, BOX_FACES),
            par=np.array([r[4] for r in b], dtype=np.float32).reshape(-1, BOX_FACES, NUM_PARAMS),
            shade=np.array([r[5] for r in b], dtype=np.float32))

    def sprites(self) -> SpriteSet:
        s, p = self._sprites, self._parts
        counts = [len(r[1]) for r in p]
        return SpriteSet(
            anchor=np.array([r[0] for r in s], dtype=np.float64).reshape(-1, 3),
            radius=np.array([r[1] for r in s], dtype=np.float64),
            layer=np.array([r[2] for r in s], dtype=np.int8),
            sprite=np.array([r[0] for r in p], dtype=np.intp),
            cls=np.array([r[2] for r in p], dtype=np.uint8),
            mat=np.array([r[3] for r in p], dtype=np.int32),
            par=np.array([r[4] for r in p], dtype=np.float32).reshape(-1, NUM_PARAMS),
            order=np.array([r[5] for r in p], dtype=np.int16),
            shade=np.array([r[6] for r in p], dtype=np.float32),
            verts=(np.concatenate([r[1] for r in p]) if p else np.zeros((0, 2))),
            start=np.concatenate([[0], np.cumsum(counts)]).astype(np.intp))


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 12,
            jitter: NDArray[np.floating] | None = None) -> NDArray[np.float64]:
    """Polygon (n, 2) approximating an ellipse; ``jitter`` (n,) scales each vertex radius."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    scale = 1.0 if jitter is None else jitter
    return np.stack([cx + rx * scale * np.cos(ang), cy + ry * scale * np.sin(ang)], axis=1)


def rect(a0: float, a1: float, b0: float, b1: float) -> NDArray[np.float64]:
    """Axis-aligned rectangle (4, 2) in sprite coordinates."""
    return np.array([[a0, b0], [a1, b0], [a1, b1], [a0, b1]], dtype=np.float64)
