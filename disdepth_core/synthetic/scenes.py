"""Scene vocabulary for the synthetic RGB-D generator: cameras, primitives and textures.

The generator exists so that tests, demos and smoke-training runs have RGB-D data with
*exact* ground truth and no download.  This module describes scenes (cameras,
analytic primitives, procedural textures) and builds the random rooms and streets; ray
casting lives in :mod:`disdepth_core.synthetic.render`.

World frame: metres, ``y`` up, ground at ``y = 0``; yaw 0 looks along ``+z``.  Textures
are evaluated in object/world coordinates (metres), so their on-screen frequency falls off
with distance and gives the network a genuine texture-gradient cue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

PLANE, BOX, SPHERE = 0, 1, 2
INF = float("inf")

_NOISE_SIZE = 256  # texels per side of the periodic noise texture (power of two)


def _periodic_value_noise(size: int, seed: int) -> np.ndarray:
    """Smooth, tileable fractal noise in [0, 1], built once at import.

    Sampling a pre-filtered texture (one gather per pixel) is ~5x cheaper than evaluating
    interpolated value noise per pixel, which keeps rendering above 20 frames/s.  Only
    element-wise arithmetic is used (no FFT) so the texture is bit-stable across numpy
    versions.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((size, size), np.float64)
    amplitude, total = 1.0, 0.0
    for grid in (4, 8, 16, 32, 64):
        values = rng.random((grid, grid))
        pos = np.arange(size) * (grid / size)
        i0 = np.floor(pos).astype(np.int64)
        frac = pos - i0
        frac = frac * frac * (3.0 - 2.0 * frac)
        i1 = (i0 + 1) % grid
        rows = values[i0] * (1.0 - frac)[:, None] + values[i1] * frac[:, None]
        layer = rows[:, i0] * (1.0 - frac)[None, :] + rows[:, i1] * frac[None, :]
        out += amplitude * layer
        total += amplitude
        amplitude *= 0.55
    out /= total
    out = (out - out.min()) / (out.max() - out.min())
    return out.astype(np.float32).ravel()


_NOISE = _periodic_value_noise(_NOISE_SIZE, seed=0x5EED)
_WHITE = np.random.default_rng(0xC0FFEE).random(4096).astype(np.float32)


def _noise(u: np.ndarray, v: np.ndarray, texel: float, offset: int) -> np.ndarray:
    """Smooth noise in [0, 1] at world coordinates (u, v); ``texel`` is metres per texel."""
    inv = 1.0 / texel
    iu = np.floor(u * inv).astype(np.int32) + (offset & 255)
    iv = np.floor(v * inv).astype(np.int32) + ((offset >> 8) & 255)
    return _NOISE[((iv & 255) << 8) | (iu & 255)]


def _cell_rand(i: np.ndarray, j: np.ndarray, offset: int) -> np.ndarray:
    """Uncorrelated value in [0, 1) per integer cell (brick, plank, window)."""
    h = (i * 73856093) ^ (j * 19349663) ^ offset
    return _WHITE[(h ^ (h >> 13)) & 4095]


@dataclass(frozen=True, eq=False)
class Material:
    """Procedural surface appearance.

    ``colors`` is a (k, 3) float32 array in [0, 1]; patterns blend colour 0 towards
    colour 1 (``street`` uses four).  ``scale`` is the pattern period in metres, ``grain``
    the strength of multiplicative noise that breaks up flat areas.
    """

    pattern: str
    colors: np.ndarray
    scale: float = 1.0
    grain: float = 0.06
    grain_texel: float = 0.03
    offset: int = 0
    angle: float = 0.0
    params: tuple[float, ...] = ()


def _floor_div(x: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer cell index and fractional position of ``x`` for a given period."""
    q = x * (1.0 / period)
    f = np.floor(q)
    return f.astype(np.int32), q - f


def _pattern(mat: Material, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Blend weight in [0, 1] towards ``colors[1]`` (None = plain colour 0)."""
    s = mat.scale
    name = mat.pattern
    if name == "flat":
        return None
    if name == "checker":
        iu, _ = _floor_div(u, s)
        iv, _ = _floor_div(v, s)
        return ((iu + iv) & 1).astype(np.float32)
    if name == "stripes":
        w = u * math.cos(mat.angle) + v * math.sin(mat.angle)
        iw, _ = _floor_div(w, s)
        return (iw & 1).astype(np.float32)
    if name == "noise":
        return _noise(u, v, s / 16.0, mat.offset)
    if name in ("bricks", "planks"):
        # Rows of height s; bricks are 2s long and offset by half, planks 8s with a
        # random per-row offset.  Colour 1 is the mortar / seam colour.
        length = 2.0 * s if name == "bricks" else 8.0 * s
        gap = 0.012 if name == "bricks" else 0.004
        row, fv = _floor_div(v, s)
        shift = np.where(row & 1, np.float32(0.5), np.float32(0.0)) if name == "bricks" else _cell_rand(row, row, mat.offset)
        col, fu = _floor_div(u * (1.0 / length) + shift, 1.0)
        seam = (fu * length < gap) | (fv * s < gap)
        return np.where(seam, np.float32(1.0), 0.35 * _cell_rand(row, col, mat.offset))
    if name == "tiles":
        iu, fu = _floor_div(u, s)
        iv, fv = _floor_div(v, s)
        g = 0.008 / s
        grout = (fu < g) | (fv < g)
        return np.where(grout, np.float32(1.0), 0.2 * _cell_rand(iu, iv, mat.offset))
    if name == "windows":
        # Facade: window cells of s metres by params[0] (storey height); colour 1 = glass.
        storey = mat.params[0] if mat.params else 3.2
        iu, fu = _floor_div(u, s)
        iv, fv = _floor_div(v, storey)
        win = (fu > 0.22) & (fu < 0.78) & (fv > 0.3) & (fv < 0.85) & (v > 1.0)
        return np.where(win, 0.7 + 0.3 * _cell_rand(iu, iv, mat.offset), np.float32(0.0))
    raise ValueError(f"unknown texture pattern {name!r}")


def _street_color(mat: Material, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Road, lane markings, parking strips, sidewalks, grass (u across, v along): class, gain."""
    lanes_half, lane_w, n_lanes, road_half, side_w, dash, period = mat.params
    au = np.abs(u)
    # Interior lane separators sit at multiples of lane_w from the road edge: dashed.
    m = u * (1.0 / lane_w) + (lanes_half / lane_w + 0.5)
    sep = (np.abs(m - np.floor(m) - 0.5) < 0.07 / lane_w) & (au < lanes_half - 0.5 * lane_w)
    along = v * (1.0 / period)
    sep &= along - np.floor(along) < dash
    marking = sep | (np.abs(au - lanes_half) < 0.08)  # solid edge lines
    cls = (au >= road_half).astype(np.intp) * 2 + (au >= road_half + side_w)  # 0 road, 2 kerb, 3 grass
    cls[marking] = 1
    n = _noise(u, v, 0.04, mat.offset)
    gain = np.take(np.array([0.4, 0.0, 0.2, 0.9], np.float32), cls) * n + np.take(np.array([0.8, 1.0, 0.9, 0.55], np.float32), cls)
    return cls, gain


def material_channels(mat: Material, u: np.ndarray, v: np.ndarray, light: np.ndarray,
                      white: float | np.ndarray = 1.0) -> list[np.ndarray]:
    """R, G, B (three 1-D float32 arrays) of ``mat`` at surface coords (u, v) in metres, times ``light``.

    Why this shape: all brightness terms (texture grain, lighting) are folded into one
    per-pixel scalar capped at ``white``; palette colours lie in [0, 1], so results stay
    in [0, white] without a clip.  Working per channel on flat arrays is ~10x faster
    than (n, 1) x (3,) broadcasting, which matters for the frame-rate budget.
    """
    if mat.pattern == "street":
        cls, gain = _street_color(mat, u, v)
        gain = np.minimum(gain * light, white)
        return [np.take(mat.colors[:, c], cls) * gain for c in range(3)]
    p = _pattern(mat, u, v)
    gain = light
    if mat.grain > 0.0:
        g = _noise(u, v, mat.grain_texel, mat.offset ^ 0x5A5A)
        gain = gain * ((1.0 - mat.grain) + (2.0 * mat.grain) * g)
    gain = np.minimum(gain, white)
    c0, c1 = (float(x) for x in mat.colors[0]), (float(x) for x in mat.colors[1])
    if p is None:
        return [gain * a for a in c0]
    return [(p * (b - a) + a) * gain for a, b in zip(c0, c1)]


def yaw_matrix(yaw: float) -> np.ndarray:
    """Rotation about the vertical axis; columns are the local axes in world frame."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass(frozen=True, eq=False)
class Primitive:
    """An analytic surface in its own local frame (``rotation`` columns = local axes).

    BOX: axis-aligned in local frame with half extents ``half``.  SPHERE: radius
    ``half[0]``.  PLANE: local z = 0 with normal +z, bounded by ``half[0:2]`` (inf =
    unbounded).  ``velocity`` (m/frame) makes traffic move between frames.
    """

    kind: int
    center: np.ndarray
    rotation: np.ndarray
    half: np.ndarray
    material: Material
    velocity: np.ndarray | None = None

    def at_frame(self, frame_index: int) -> Primitive:
        if self.velocity is None:
            return self
        return replace(self, center=self.center + self.velocity * frame_index)


def make_plane(point, normal, u_axis, material: Material, half_u: float = INF, half_v: float = INF) -> Primitive:
    """Plane through ``point``; texture u runs along ``u_axis``."""
    n = np.asarray(normal, np.float64)
    n = n / np.linalg.norm(n)
    ua = np.asarray(u_axis, np.float64)
    ua = ua - n * float(ua @ n)
    ua = ua / np.linalg.norm(ua)
    rot = np.stack([ua, np.cross(n, ua), n], axis=1)
    return Primitive(PLANE, np.asarray(point, np.float64), rot, np.array([half_u, half_v, 0.0]), material)


def make_box(center, size, material: Material, yaw: float = 0.0, velocity=None) -> Primitive:
    """Box of full ``size`` (x, y, z) rotated by ``yaw`` about the vertical axis."""
    vel = None if velocity is None else np.asarray(velocity, np.float64)
    return Primitive(BOX, np.asarray(center, np.float64), yaw_matrix(yaw), 0.5 * np.asarray(size, np.float64), material, vel)


def make_sphere(center, radius: float, material: Material) -> Primitive:
    return Primitive(SPHERE, np.asarray(center, np.float64), np.eye(3), np.array([radius] * 3, np.float64), material)


@dataclass(frozen=True, eq=False)
class Camera:
    """Pinhole pose: world-frame unit axes of the OpenCV camera (x right, y down, z fwd)."""

    position: np.ndarray
    right: np.ndarray
    down: np.ndarray
    forward: np.ndarray

    @staticmethod
    def look(position, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> Camera:
        """Camera at ``position`` with yaw about +y, pitch up (+) / down (-), then roll."""
        cp, sp = math.cos(pitch), math.sin(pitch)
        cy, sy = math.cos(yaw), math.sin(yaw)
        fwd = np.array([sy * cp, sp, cy * cp])
        right = np.array([cy, 0.0, -sy])
        down = np.cross(right, fwd)
        cr, sr = math.cos(roll), math.sin(roll)
        right, down = cr * right + sr * down, -sr * right + cr * down
        return Camera(np.asarray(position, np.float64), right, down, fwd)


@dataclass(frozen=True, eq=False)
class Lighting:
    """Directional light + ambient; optional sky gradient and exponential fog."""

    direction: np.ndarray = field(default_factory=lambda: np.array([0.3, 0.85, -0.4]) / np.linalg.norm([0.3, 0.85, -0.4]))
    ambient: float = 0.45
    diffuse: float = 0.6
    background: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    sky_horizon: np.ndarray | None = None
    sky_zenith: np.ndarray | None = None
    fog_distance: float | None = None
    fog_color: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class CameraPath:
    """Smooth, deterministic camera trajectory: drift + bounded sinusoidal wobble.

    Indoor paths have zero drift so every frame index stays inside the room; outdoor
    paths drive forward along +z.
    """

    origin: np.ndarray
    velocity: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray
    freq: float
    yaw: float
    pitch: float
    roll: float
    angle_amplitude: np.ndarray  # yaw, pitch, roll wobble (radians)

    def camera(self, frame_index: int) -> Camera:
        i = float(frame_index)
        pos = self.origin + self.velocity * i + self.amplitude * np.sin(self.freq * i + self.phase)
        wob = self.angle_amplitude * np.sin(0.8 * self.freq * i + self.phase[::-1])
        return Camera.look(pos, self.yaw + wob[0], self.pitch + wob[1], self.roll + wob[2])


@dataclass(frozen=True, eq=False)
class Scene:
    """A room or a street plus the camera path that films it."""

    kind: str  # "nyu" or "kitti"
    name_prefix: str
    primitives: tuple[Primitive, ...]
    lighting: Lighting
    path: CameraPath
    max_depth: float

    def primitives_at(self, frame_index: int) -> list[Primitive]:
        return [p.at_frame(frame_index) for p in self.primitives]


# --------------------------------------------------------------------------- layouts
