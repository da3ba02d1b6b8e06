"""Procedural layouts: random rooms (NYU-like) and street drives (KITTI-like).

Kept apart from the geometry/texture primitives in :mod:`.scenes` so the "what is
in a scene" choices (palettes, furniture, cars, camera paths) read on their own and can be
extended without touching the ray-casting machinery.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .scenes import (
    CameraPath,
    Lighting,
    Material,
    Primitive,
    Scene,
    make_box,
    make_plane,
    make_sphere,
    yaw_matrix,
)

ROOM_TYPES = ("bedroom", "kitchen", "living_room", "office", "bathroom", "dining_room", "study", "classroom")
_WALLS = [(0.86, 0.84, 0.78), (0.74, 0.8, 0.86), (0.9, 0.84, 0.68), (0.7, 0.76, 0.64), (0.82, 0.7, 0.68), (0.6, 0.64, 0.7)]
_WOODS = [(0.55, 0.38, 0.22), (0.7, 0.52, 0.33), (0.4, 0.26, 0.15), (0.8, 0.66, 0.46)]
_FABRICS = [(0.3, 0.35, 0.55), (0.6, 0.25, 0.25), (0.35, 0.5, 0.35), (0.55, 0.55, 0.55), (0.82, 0.76, 0.6), (0.2, 0.2, 0.23)]
_VIVID = [(0.85, 0.2, 0.15), (0.2, 0.45, 0.85), (0.95, 0.75, 0.15), (0.25, 0.7, 0.35), (0.6, 0.3, 0.7), (0.95, 0.95, 0.92)]
_FACADES = [(0.7, 0.6, 0.5), (0.55, 0.3, 0.25), (0.82, 0.8, 0.74), (0.6, 0.62, 0.65), (0.85, 0.75, 0.55), (0.45, 0.45, 0.48)]
_CARS = [(0.8, 0.8, 0.82), (0.1, 0.1, 0.12), (0.6, 0.08, 0.08), (0.15, 0.25, 0.5), (0.45, 0.47, 0.5), (0.9, 0.9, 0.88)]


def _color(rng: np.random.Generator, palette, jitter: float = 0.06) -> np.ndarray:
    base = np.asarray(palette[int(rng.integers(len(palette)))], np.float64)
    return np.clip(base * rng.uniform(0.8, 1.15) + rng.normal(0.0, jitter, 3), 0.03, 1.0)


def _mat(rng: np.random.Generator, pattern: str, c0, c1=None, scale: float = 1.0, grain: float = 0.06,
         texel: float = 0.03, params: tuple[float, ...] = ()) -> Material:
    colors = np.array([c0, c0 if c1 is None else c1], np.float32)
    return Material(pattern, colors, float(scale), float(grain), float(texel),
                    int(rng.integers(0, 1 << 16)), float(rng.uniform(0.0, math.pi)), params)


def _surface(rng: np.random.Generator, palette, patterns: tuple[str, ...], scale: tuple[float, float]) -> Material:
    """Random material from a palette: second colour is a darker/lighter variant or a contrast."""
    c0 = _color(rng, palette)
    c1 = c0 * rng.uniform(0.45, 0.8) if rng.random() < 0.7 else _color(rng, _VIVID)
    pattern = patterns[int(rng.integers(len(patterns)))]
    return _mat(rng, pattern, c0, c1, rng.uniform(*scale), rng.uniform(0.03, 0.12), rng.uniform(0.01, 0.06))


def _furniture(rng: np.random.Generator) -> tuple[list[tuple[tuple, tuple, Material]], float, float]:
    """Parts (local centre, size, material) of one furniture item + footprint half sizes."""
    wood = _surface(rng, _WOODS, ("planks", "flat", "noise"), (0.08, 0.2))
    kind = rng.choice(["cabinet", "table", "bed", "chair"], p=[0.35, 0.25, 0.2, 0.2])
    if kind == "cabinet":
        w, d, h = rng.uniform(0.5, 1.8), rng.uniform(0.3, 0.7), rng.uniform(0.5, 2.2)
        mat = wood if rng.random() < 0.5 else _surface(rng, _WALLS + _VIVID, ("flat", "stripes", "checker"), (0.1, 0.4))
        return [((0, h / 2, 0), (w, h, d), mat)], w / 2, d / 2
    if kind == "table":
        w, d, h = rng.uniform(0.7, 1.8), rng.uniform(0.5, 1.0), rng.uniform(0.6, 0.8)
        t, leg = rng.uniform(0.03, 0.07), rng.uniform(0.04, 0.08)
        parts = [((0, h - t / 2, 0), (w, t, d), wood)]
        for sx in (-1, 1):
            for sz in (-1, 1):
                centre = (sx * (w / 2 - leg / 2 - 0.03), (h - t) / 2, sz * (d / 2 - leg / 2 - 0.03))
                parts.append((centre, (leg, h - t, leg), wood))
        return parts, w / 2, d / 2
    fabric = _surface(rng, _FABRICS, ("flat", "noise", "checker", "stripes"), (0.05, 0.3))
    if kind == "bed":
        w, d, h = rng.uniform(1.2, 2.1), rng.uniform(0.9, 2.0), rng.uniform(0.3, 0.55)
        bt, bh = rng.uniform(0.08, 0.2), rng.uniform(0.7, 1.1)
        return [((0, h / 2, -bt / 2), (w, h, d - bt), fabric), ((0, bh / 2, d / 2 - bt / 2), (w, bh, bt), wood)], w / 2, d / 2
    s, sh = rng.uniform(0.4, 0.55), rng.uniform(0.4, 0.48)
    return [((0, sh / 2, 0), (s, sh, s), fabric), ((0, sh + 0.22, s / 2 - 0.03), (s, 0.44, 0.06), wood)], s / 2, s / 2


def _fits(x: float, z: float, r: float, taken: list[tuple[float, float, float]]) -> bool:
    return all(math.hypot(x - tx, z - tz) > 0.85 * (r + tr) for tx, tz, tr in taken)


def build_indoor(rng: np.random.Generator, style=None) -> Scene:
    """NYU-like room: textured floor/ceiling/walls, furniture boxes, balls, pictures, rug.

    ``style`` (None = the original toy rooms, draw for draw) overrides the room size range,
    camera height range and the floor/ceiling/wall materials: see ``indoor_layouts``.
    """
    prefix = ROOM_TYPES[int(rng.integers(len(ROOM_TYPES)))]
    size = (3.0, 8.0) if style is None else style.size
    rw, rd, rh = rng.uniform(*size), rng.uniform(*size), rng.uniform(2.4, 3.2)
    if style is None:
        floor = _surface(rng, _WOODS + _FABRICS, ("planks", "tiles", "noise", "checker"), (0.12, 0.6))
        ceiling = _mat(rng, "tiles" if rng.random() < 0.4 else "flat", _color(rng, _WALLS[:3], 0.02), (0.6, 0.6, 0.6), rng.uniform(0.5, 0.7), 0.03)
        wall = _surface(rng, _WALLS, ("flat", "noise", "stripes", "bricks"), (0.08, 0.4))
    else:
        floor, ceiling, wall = style.floor(rng), style.ceiling(rng), style.wall(rng)
    walls = [(( 0, 0, 0), (1, 0, 0), (0, 0, 1)), ((rw, 0, 0), (-1, 0, 0), (0, 0, 1)),
             ((0, 0, 0), (0, 0, 1), (1, 0, 0)), ((0, 0, rd), (0, 0, -1), (1, 0, 0))]
    prims = [make_plane((0, 0, 0), (0, 1, 0), (1, 0, 0), floor), make_plane((0, rh, 0), (0, -1, 0), (1, 0, 0), ceiling)]
    for point, normal, u_axis in walls:
        if rng.random() < 0.75:
            mat = wall
        else:
            mat = _surface(rng, _WALLS, ("flat", "noise", "stripes", "bricks"), (0.08, 0.4)) if style is None else style.wall(rng)
        prims.append(make_plane(point, normal, u_axis, mat))

    margin = 0.75
    cx, cz = rng.uniform(margin, rw - margin), rng.uniform(margin, rd - margin)
    tx, tz = rng.uniform(0.25, 0.75) * rw, rng.uniform(0.25, 0.75) * rd
    amp = np.array([rng.uniform(0.03, 0.25), rng.uniform(0.0, 0.04), rng.uniform(0.03, 0.25)])
    eye = (1.0, 1.7) if style is None else style.eye
    path = CameraPath(np.array([cx, rng.uniform(*eye), cz]), np.zeros(3), amp, rng.uniform(0, 2 * math.pi, 3),
                      rng.uniform(0.15, 0.4), math.atan2(tx - cx, tz - cz) + rng.normal(0.0, 0.3),
                      rng.uniform(-0.4, 0.08), rng.normal(0.0, 0.03),
                      np.array([rng.uniform(0.03, 0.15), rng.uniform(0.01, 0.05), 0.01]))
    taken = [(cx, cz, 0.45 + float(max(amp[0], amp[2])))]
    tops: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(3, 10))):
        for _attempt in range(10):
            parts, hx, hz = _furniture(rng)
            if len(prims) + len(parts) > 30:
                break
            if rng.random() < 0.6:  # back against a wall, facing into the room
                side = int(rng.integers(4))
                yaw = (0.0, math.pi, 0.5 * math.pi, -0.5 * math.pi)[side]
                length = rw if side < 2 else rd
                if length < 2 * hx + 0.1:
                    continue
                along = rng.uniform(hx + 0.05, length - hx - 0.05)
                x, z = [(along, rd - hz - 0.01), (along, hz + 0.01), (rw - hz - 0.01, along), (hz + 0.01, along)][side]
            else:
                yaw, r = rng.uniform(0, 2 * math.pi), math.hypot(hx, hz)
                if min(rw, rd) < 2 * r + 0.1:
                    continue
                x, z = rng.uniform(r + 0.05, rw - r - 0.05), rng.uniform(r + 0.05, rd - r - 0.05)
            radius = math.hypot(hx, hz)
            if not _fits(x, z, radius, taken):
                continue
            taken.append((x, z, radius))
            rot = yaw_matrix(yaw)
            for centre, size, mat in parts:
                prims.append(make_box(np.array([x, 0.0, z]) + rot @ np.asarray(centre, np.float64), size, mat, yaw))
            tops.append((x, z, max(c[1] + s[1] / 2 for c, s, _ in parts)))
            break
    for _ in range(int(rng.integers(0, 4))):  # balls / lamps on the floor or on furniture
        r = rng.uniform(0.08, 0.3)
        mat = _surface(rng, _VIVID, ("flat", "stripes", "checker"), (0.05, 0.15))
        if tops and rng.random() < 0.5:
            x, z, top = tops[int(rng.integers(len(tops)))]
            prims.append(make_sphere((x, top + r, z), r, mat))
        else:
            x, z = rng.uniform(r + 0.05, rw - r - 0.05), rng.uniform(r + 0.05, rd - r - 0.05)
            if _fits(x, z, r, taken):
                taken.append((x, z, r))
                prims.append(make_sphere((x, r, z), r, mat))
    for _ in range(int(rng.integers(0, 4))):  # pictures: bounded planes 1 cm off a wall
        point, normal, u_axis = walls[int(rng.integers(4))]
        length = rw if normal[0] == 0 else rd
        hu, hv = rng.uniform(0.15, 0.6), rng.uniform(0.15, 0.45)
        along = rng.uniform(hu, max(hu, length - hu))
        centre = np.asarray(point, np.float64) + 0.01 * np.asarray(normal) + along * np.asarray(u_axis)
        centre[1] = rng.uniform(1.1, rh - hv - 0.15)
        mat = _surface(rng, _VIVID + _FABRICS, ("noise", "stripes", "checker"), (0.03, 0.2))
        prims.append(make_plane(centre, normal, u_axis, mat, hu, hv))
    if rng.random() < 0.5:  # rug
        hu, hv = rng.uniform(0.5, 1.5), rng.uniform(0.4, 1.2)
        centre = (rng.uniform(0.2, 0.8) * rw, 0.004, rng.uniform(0.2, 0.8) * rd)
        prims.append(make_plane(centre, (0, 1, 0), (1, 0, 0), _surface(rng, _FABRICS, ("stripes", "checker", "noise"), (0.05, 0.3)), hu, hv))
    light = np.array([rng.normal(0.0, 0.6), rng.uniform(0.3, 1.0), rng.normal(0.0, 0.6)])
    lighting = Lighting(light / np.linalg.norm(light), rng.uniform(0.4, 0.6), rng.uniform(0.35, 0.6))
    return Scene("nyu", prefix, tuple(prims), lighting, path, 10.0)


def _car(rng: np.random.Generator, x: float, z: float, yaw: float, velocity) -> list[Primitive]:
    w, length, hb, hc = rng.uniform(1.6, 1.9), rng.uniform(3.6, 4.8), rng.uniform(0.55, 0.8), rng.uniform(0.4, 0.6)
    paint = _mat(rng, "flat", _color(rng, _CARS, 0.03), grain=0.02)
    glass = _mat(rng, "flat", (0.12, 0.14, 0.17), grain=0.02)
    dark = _mat(rng, "flat", (0.05, 0.05, 0.05), grain=0.02)
    rot = yaw_matrix(yaw)
    base = np.array([x, 0.0, z])
    shift = rng.uniform(-0.15, 0.05) * length
    return [make_box(base + rot @ np.array([0.0, 0.2, 0.0]), (w - 0.15, 0.36, length - 0.5), dark, yaw, velocity),
            make_box(base + rot @ np.array([0.0, 0.3 + hb / 2, 0.0]), (w, hb, length), paint, yaw, velocity),
            make_box(base + rot @ np.array([0.0, 0.3 + hb + hc / 2, shift]), (0.88 * w, hc, 0.55 * length), glass, yaw, velocity)]


def build_outdoor(rng: np.random.Generator) -> Scene:
    """KITTI-like street: marked road, sidewalks, facades, parked/moving cars, poles, trees."""
    n_lanes, lane_w = int(rng.integers(2, 5)), rng.uniform(3.0, 3.7)
    park_w = rng.uniform(2.0, 2.6) if rng.random() < 0.8 else 0.3
    lanes_half = n_lanes * lane_w / 2
    road_half, side_w = lanes_half + park_w, rng.uniform(1.5, 3.5)
    street_colors = np.array([_color(rng, [(0.3, 0.3, 0.31)], 0.02), (0.92, 0.92, 0.88),
                              _color(rng, [(0.66, 0.65, 0.62)], 0.03), _color(rng, [(0.3, 0.42, 0.16), (0.45, 0.38, 0.25)], 0.03)], np.float32)
    params = (lanes_half, lane_w, float(n_lanes), road_half, side_w, 0.33, rng.uniform(8.0, 12.0))
    street = Material("street", street_colors, 1.0, 0.0, 0.04, int(rng.integers(0, 1 << 16)), 0.0, params)
    prims = [make_plane((0, 0, 0), (0, 1, 0), (1, 0, 0), street)]

    ego = int(rng.integers(n_lanes // 2, n_lanes))
    speed = rng.uniform(0.3, 1.4)
    path = CameraPath(np.array([-lanes_half + (ego + 0.5) * lane_w, rng.uniform(1.6, 1.7), 0.0]), np.array([0.0, 0.0, speed]),
                      np.array([rng.uniform(0.0, 0.2), 0.01, 0.0]), rng.uniform(0, 2 * math.pi, 3), rng.uniform(0.05, 0.2),
                      rng.normal(0.0, 0.03), rng.normal(0.0, 0.02), rng.normal(0.0, 0.01),
                      np.array([rng.uniform(0.0, 0.03), 0.01, 0.005]))
    z_end = 90.0 + 20.0 * speed
    for side in (-1.0, 1.0):  # facades
        z = rng.uniform(-20.0, 0.0)
        while z < z_end:
            length = rng.uniform(6.0, 30.0)
            if rng.random() < 0.8:
                setback, depth, height = rng.uniform(0.0, 8.0), rng.uniform(6.0, 16.0), rng.uniform(4.0, 22.0)
                mat = _surface(rng, _FACADES, ("windows", "windows", "bricks", "flat"), (2.0, 4.0))
                if mat.pattern == "bricks":
                    mat = replace(mat, scale=rng.uniform(0.07, 0.1))
                elif mat.pattern == "windows":
                    mat = replace(mat, colors=np.array([mat.colors[0], _color(rng, [(0.2, 0.25, 0.3)], 0.03)], np.float32), params=(rng.uniform(2.8, 3.6),))
                x = side * (road_half + side_w + setback + depth / 2)
                prims.append(make_box((x, height / 2, z + length / 2), (depth, height, length), mat))
            z += length + rng.uniform(0.0, 8.0)
    if park_w > 1.0:  # parked cars along both kerbs
        for side in (-1.0, 1.0):
            for z in np.sort(rng.uniform(3.0, z_end - 20.0, int(rng.integers(0, 5)))):
                if len(prims) < 45:
                    prims += _car(rng, side * (lanes_half + park_w / 2), float(z), rng.normal(0.0, 0.03), None)
    for lane in range(n_lanes):  # traffic; the ego lane only gets a lead car at constant gap
        same_dir = lane >= n_lanes // 2
        count = (1 if rng.random() < 0.5 else 0) if lane == ego else int(rng.integers(0, 3))
        lane_speed = speed if lane == ego else (speed * rng.uniform(0.7, 1.3) if same_dir else -rng.uniform(0.5, 1.5))
        for k in range(count):
            if len(prims) >= 45:
                break
            z = rng.uniform(12.0, 40.0) if lane == ego else rng.uniform(5.0, 35.0) + 40.0 * k
            yaw = 0.0 if same_dir else math.pi
            prims += _car(rng, -lanes_half + (lane + 0.5) * lane_w, z, yaw + rng.normal(0.0, 0.01), (0.0, 0.0, lane_speed))
    metal = _mat(rng, "flat", _color(rng, [(0.5, 0.5, 0.52)], 0.03))
    for _ in range(int(rng.integers(2, 8))):  # poles
        h = rng.uniform(4.0, 8.0)
        prims.append(make_box((rng.choice([-1.0, 1.0]) * (road_half + 0.35), h / 2, rng.uniform(0.0, z_end)), (0.15, h, 0.15), metal))
    bark = _mat(rng, "noise", (0.35, 0.25, 0.15), (0.2, 0.14, 0.08), 0.3)
    for _ in range(int(rng.integers(0, 7))):  # trees: trunk + crown
        if len(prims) > 46:
            break
        x = rng.choice([-1.0, 1.0]) * (road_half + side_w * rng.uniform(0.5, 0.9))
        z, ht, r = rng.uniform(2.0, z_end), rng.uniform(1.5, 3.0), rng.uniform(1.0, 2.5)
        leaves = _mat(rng, "noise", _color(rng, [(0.2, 0.42, 0.15), (0.35, 0.45, 0.12)], 0.04), (0.08, 0.2, 0.05), rng.uniform(0.5, 1.2))
        prims.append(make_box((x, (ht + 0.5 * r) / 2, z), (0.3, ht + 0.5 * r, 0.3), bark))
        prims.append(make_sphere((x, ht + 0.7 * r, z), r, leaves))
    elev, azim = rng.uniform(0.3, 1.1), rng.uniform(0.0, 2 * math.pi)
    horizon = np.array([rng.uniform(0.72, 0.85), rng.uniform(0.78, 0.88), rng.uniform(0.85, 0.95)], np.float32)
    zenith = np.array([rng.uniform(0.25, 0.45), rng.uniform(0.45, 0.62), rng.uniform(0.78, 0.95)], np.float32)
    sun = np.array([math.cos(elev) * math.sin(azim), math.sin(elev), math.cos(elev) * math.cos(azim)])
    lighting = Lighting(sun, rng.uniform(0.4, 0.55), rng.uniform(0.5, 0.7), horizon, horizon, zenith,
                        rng.uniform(150.0, 500.0), horizon)
    return Scene("kitti", "drive", tuple(prims), lighting, path, 80.0)
