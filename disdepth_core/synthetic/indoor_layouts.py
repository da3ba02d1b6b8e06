"""Realistic indoor layouts (opt-in): corridors and small neutral rooms.

Why: the default toy rooms (3-8 m, saturated colours, head-height camera) make models
over-estimate depth on real indoor frames and fail in office corridors.  These layouts
add what indoor robots actually see: long narrow corridors with doors, ceiling lights and
cabinets, and smaller rooms with white/beige/grey walls, filmed from 0.3-1.7 m.

Chosen through ``build_scene("nyu", seed, layouts="rooms,corridors,small_rooms")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .layouts import _VIVID, _WOODS, _color, _mat, build_indoor
from .scenes import CameraPath, Lighting, Material, Scene, make_box, make_plane

# Low-saturation wall paints: white, off-white, light grey, beige, warm grey, pale blue-grey.
NEUTRAL_WALLS = [(0.93, 0.93, 0.91), (0.9, 0.88, 0.83), (0.8, 0.81, 0.82), (0.86, 0.81, 0.72),
                 (0.74, 0.72, 0.69), (0.8, 0.83, 0.86)]
_GREY_FLOORS = [(0.55, 0.55, 0.54), (0.42, 0.43, 0.45), (0.66, 0.64, 0.6), (0.35, 0.36, 0.36)]
_CARPETS = [(0.4, 0.4, 0.42), (0.36, 0.32, 0.28), (0.3, 0.33, 0.4), (0.45, 0.42, 0.38)]
_DOORS = [(0.45, 0.32, 0.2), (0.3, 0.22, 0.15), (0.4, 0.42, 0.45), (0.25, 0.3, 0.4), (0.55, 0.45, 0.33)]
_METALS = [(0.62, 0.63, 0.64), (0.45, 0.46, 0.48), (0.8, 0.8, 0.78)]
MAX_CORRIDOR_PRIMITIVES = 34  # same order as the rooms' 30 (render time grows with the count)


def _neutral(rng: np.random.Generator, palette) -> np.ndarray:
    """Palette colour with brightness jitter and only a tiny per-channel tint."""
    return _color(rng, palette, 0.012)


def neutral_wall(rng: np.random.Generator) -> Material:
    """Paint: flat or a faint noise/roll texture; the second colour is a slightly darker shade."""
    c0 = np.minimum(_neutral(rng, NEUTRAL_WALLS), 0.95)
    pattern = ("flat", "noise", "noise")[int(rng.integers(3))]
    return _mat(rng, pattern, c0, c0 * rng.uniform(0.82, 0.95), rng.uniform(0.3, 1.5), rng.uniform(0.02, 0.06),
                rng.uniform(0.01, 0.04))


def neutral_floor(rng: np.random.Generator) -> Material:
    """Grey tiles / vinyl, wood planks or carpet."""
    kind = int(rng.integers(3))
    if kind == 0:
        c0 = _neutral(rng, _GREY_FLOORS)
        pattern = ("tiles", "noise")[int(rng.integers(2))]
        return _mat(rng, pattern, c0, c0 * rng.uniform(0.6, 0.85), rng.uniform(0.3, 0.6), rng.uniform(0.03, 0.08))
    if kind == 1:
        c0 = _color(rng, _WOODS, 0.03)
        return _mat(rng, "planks", c0, c0 * rng.uniform(0.5, 0.75), rng.uniform(0.1, 0.2), rng.uniform(0.04, 0.1))
    c0 = _neutral(rng, _CARPETS)
    return _mat(rng, "noise", c0, c0 * rng.uniform(0.7, 0.9), rng.uniform(0.1, 0.4), rng.uniform(0.08, 0.15), 0.01)


def neutral_ceiling(rng: np.random.Generator) -> Material:
    c0 = np.minimum(_neutral(rng, NEUTRAL_WALLS[:3]), 0.92)
    return _mat(rng, "tiles" if rng.random() < 0.5 else "flat", c0, c0 * 0.7, rng.uniform(0.55, 0.65), 0.03)


@dataclass(frozen=True)
class IndoorStyle:
    """Overrides for :func:`build_indoor`: room size and camera height ranges, surface materials."""

    size: tuple[float, float]
    eye: tuple[float, float]
    floor: Callable[[np.random.Generator], Material]
    ceiling: Callable[[np.random.Generator], Material]
    wall: Callable[[np.random.Generator], Material]


SMALL_ROOM = IndoorStyle((2.5, 6.0), (0.3, 1.7), neutral_floor, neutral_ceiling, neutral_wall)


def build_small_room(rng: np.random.Generator) -> Scene:
    """2.5-6 m room with neutral walls/floors and the usual furniture; camera 0.3-1.7 m high."""
    return build_indoor(rng, SMALL_ROOM)


def _free(intervals: list[tuple[float, float]], lo: float, hi: float) -> bool:
    return all(hi <= a or lo >= b for a, b in intervals)


def build_corridor(rng: np.random.Generator) -> Scene:
    """Office corridor along +z: width 1.6-3 m, length 8-25 m, doors, ceiling lights, cabinets.

    x in [0, w], z in [0, L]; the camera stands at least 7 m before the end wall, 0.3-1.6 m
    high, looking roughly along +z.  The side walls are unbounded planes (the camera never
    leaves the corridor), doors/lights are bounded planes 1 cm off their surface.
    """
    w, length, h = rng.uniform(1.6, 3.0), rng.uniform(8.0, 25.0), rng.uniform(2.4, 3.0)
    wall, floor, ceiling = neutral_wall(rng), neutral_floor(rng), neutral_ceiling(rng)
    ceiling = Material(ceiling.pattern, np.asarray(ceiling.colors * 0.8, np.float32), ceiling.scale, ceiling.grain,
                       ceiling.grain_texel, ceiling.offset, ceiling.angle)  # darker than the light panels
    end_wall = wall if rng.random() < 0.6 else neutral_wall(rng)
    prims = [make_plane((0, 0, 0), (0, 1, 0), (1, 0, 0), floor), make_plane((0, h, 0), (0, -1, 0), (1, 0, 0), ceiling),
             make_plane((0, 0, 0), (1, 0, 0), (0, 0, 1), wall), make_plane((w, 0, 0), (-1, 0, 0), (0, 0, 1), wall),
             make_plane((0, 0, length), (0, 0, -1), (1, 0, 0), end_wall), make_plane((0, 0, 0), (0, 0, 1), (1, 0, 0), wall)]

    # Camera: zero drift (any frame index stays inside), wobble mostly along the corridor.
    amp = np.array([rng.uniform(0.02, 0.12), rng.uniform(0.0, 0.03), rng.uniform(0.05, 0.4)])
    cz = rng.uniform(0.6 + amp[2], length - 7.0)
    cx = rng.uniform(0.45, w - 0.45)
    path = CameraPath(np.array([cx, rng.uniform(0.3, 1.6), cz]), np.zeros(3), amp, rng.uniform(0, 2 * math.pi, 3),
                      rng.uniform(0.15, 0.4), rng.uniform(-0.35, 0.35), rng.uniform(-0.25, 0.1), rng.normal(0.0, 0.02),
                      np.array([rng.uniform(0.02, 0.08), rng.uniform(0.01, 0.04), 0.01]))
    keep_clear = (cz - amp[2] - 0.6, cz + amp[2] + 0.6)  # nothing on the floor around the camera
    used: dict[int, list[tuple[float, float]]] = {0: [], 1: []}  # per side: z intervals of doors / cabinets

    door_a, door_b = _color(rng, _DOORS, 0.03), _color(rng, _DOORS, 0.03)
    for _ in range(int(rng.integers(2, 9))):  # doors: 0.9 x 2.1 m, 1 cm off a side wall
        side, z = int(rng.integers(2)), rng.uniform(0.8, length - 0.8)
        if not _free(used[side], z - 0.65, z + 0.65):
            continue
        used[side].append((z - 0.65, z + 0.65))
        colour = door_a if rng.random() < 0.75 else door_b
        mat = _mat(rng, "planks" if rng.random() < 0.5 else "flat", colour, colour * 0.8, rng.uniform(0.3, 0.6), 0.04)
        x, normal = (0.01, (1, 0, 0)) if side == 0 else (w - 0.01, (-1, 0, 0))
        prims.append(make_plane((x, 1.05, z), normal, (0, 0, 1), mat, 0.45, 1.05))

    light = _mat(rng, "flat", (1.0, 1.0, rng.uniform(0.9, 1.0)), grain=0.0)
    hu, hv = (0.3, 0.6) if rng.random() < 0.5 else (0.3, 0.3)
    z, spacing = rng.uniform(0.5, 2.0), rng.uniform(2.0, 4.0)
    while z < length - 0.4 and len(prims) < MAX_CORRIDOR_PRIMITIVES - 4:  # ceiling light panels
        prims.append(make_plane((w / 2, h - 0.01, z), (0, -1, 0), (1, 0, 0), light, hu, hv))
        z += spacing

    metal = _mat(rng, "flat", _neutral(rng, _METALS), grain=0.03)
    for _ in range(int(rng.integers(0, 6))):  # cabinets / boxes against the walls
        if len(prims) >= MAX_CORRIDOR_PRIMITIVES:
            break
        side = int(rng.integers(2))
        bw, bd, bh = rng.uniform(0.4, 1.5), rng.uniform(0.3, 0.5), rng.uniform(0.4, 2.0)
        z = rng.uniform(bw / 2 + 0.1, length - bw / 2 - 0.1)
        lo, hi = z - bw / 2, z + bw / 2
        if not _free(used[side], lo, hi) or not _free([keep_clear], lo, hi):
            continue
        used[side].append((lo, hi))
        if rng.random() < 0.5:
            mat = metal
        else:
            c = _color(rng, _WOODS + _VIVID[-1:], 0.04)
            mat = _mat(rng, "flat" if rng.random() < 0.6 else "noise", c, c * 0.75, 0.3, 0.05)
        x = bd / 2 + 0.01 if side == 0 else w - bd / 2 - 0.01
        prims.append(make_box((x, bh / 2, z), (bd, bh, bw), mat))

    sun = np.array([rng.normal(0.0, 0.3), 1.0, rng.normal(0.0, 0.3)])
    lighting = Lighting(sun / np.linalg.norm(sun), rng.uniform(0.68, 0.8), rng.uniform(0.2, 0.32))
    return Scene("nyu", "corridor", tuple(prims), lighting, path, 10.0)
