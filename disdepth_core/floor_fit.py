"""Scale from a known camera height: fit the floor in the predicted cloud, scale it to that height.

A camera mounted ``h`` metres above a flat floor sees that floor in the lower part of the image;
the predicted cloud puts it at some distance ``d`` from the camera centre, so ``h / d`` is the
frame's scale (a monocular model gets shapes right far more often than absolute size). The floor
is found with RANSAC on a subsampled back-projection of the lower image part at the network's own
resolution (a few thousand points: about a millisecond):

* candidate planes from three random points (seeded, so a frame always gives the same answer);
* only planes below the camera whose normal is within :data:`MAX_TILT_DEG` of the camera's
  down axis count (the floor of a camera pitched or rolled by up to that much; walls and the
  sides of furniture never do);
* inliers lie within :data:`INLIER_TOLERANCE` of the median depth of the points (a relative
  tolerance: the unscaled prediction has no metres yet); among the planes holding at least
  :data:`LOWEST_OF` of the best plane's inliers the *lowest* wins (a table top or a bed can hold
  more points than the floor beside it, but never lies below it); it is refit by least squares
  on its inliers (twice) and must hold :data:`MIN_INLIER_FRACTION` of the points.

How good this is depends on the model's geometry more than on the fit: with the floor pixels
known exactly (ground truth), the demo model's predicted floor plane still put ``h / d`` within
-11 %/+67 % (10th/90th percentile) of each synthetic frame's best scale, because a monocular
prediction tilts the floor; with the true floor normal it was -22 %/+27 %.
``benchmarks/eval_camera_height.py`` measures the whole anchor on synthetic rooms.

A frame without such a plane (facing a wall, the floor covered, camera_info missing) gets no
estimate and a reason; the :class:`~disdepth_core.scale_anchor.ScaleTracker` then holds the last
good scale or falls back to none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from disdepth_core.scale_estimate import ScaleEstimate

LOWER_FRACTION = 0.45  # the floor is looked for in the lowest 45 % of the image rows
SUBSAMPLE = 2  # every 2nd row and column of the network's output
ITERATIONS = 128
MAX_TILT_DEG = 30.0
INLIER_TOLERANCE = 0.05  # |distance to plane| <= 5 % of the median depth of the lower image part
MIN_INLIER_FRACTION = 0.15
LOWEST_OF = 0.8  # the lowest plane among those with at least 80 % of the best plane's inliers
MIN_POINTS = 50
MAX_CAMERA_HEIGHT_M = 10.0  # the node's camera_height limit


@dataclass(frozen=True)
class FloorPlane:
    """``normal . p = distance`` in the camera's optical frame (normal pointing to the floor, distance > 0)."""

    normal: np.ndarray
    distance: float
    inliers: int
    points: int


def camera_height_problem(height: float) -> Optional[str]:
    """Why ``height`` (metres) cannot be a camera's height above the floor, or None."""
    if not (math.isfinite(height) and 0.0 < height <= MAX_CAMERA_HEIGHT_M):
        return f"camera_height must be > 0 and <= {MAX_CAMERA_HEIGHT_M:g} m (the camera's height above the floor), got {height}"
    return None


def lower_points(depth: np.ndarray, K: np.ndarray, content: tuple[int, int, int, int]) -> np.ndarray:
    """``[N,3]`` float64 points of the lower image part of ``depth`` (valid, positive pixels only)."""
    top, left, height, width = content
    first = top + int(height * (1.0 - LOWER_FRACTION))
    v = np.arange(first, top + height, SUBSAMPLE, dtype=np.float64)
    u = np.arange(left, left + width, SUBSAMPLE, dtype=np.float64)
    z = depth[first:top + height:SUBSAMPLE, left:left + width:SUBSAMPLE].astype(np.float64)
    x = (u[None, :] - K[0, 2]) / K[0, 0] * z
    y = (v[:, None] - K[1, 2]) / K[1, 1] * z
    points = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    return points[np.isfinite(points).all(axis=1) & (points[:, 2] > 0)]


def fit_floor(points: np.ndarray, seed: int = 0) -> tuple[Optional[FloorPlane], str]:
    """RANSAC floor plane of ``points`` (optical frame: x right, y down, z forward), or None and the reason."""
    count = len(points)
    if count < MIN_POINTS:
        return None, f"floor not found: only {count} valid predicted point(s) in the lower image part"
    rng = np.random.default_rng(seed)
    picks = points[rng.integers(0, count, size=(ITERATIONS, 3))]  # [I,3,3]
    normals = np.cross(picks[:, 1] - picks[:, 0], picks[:, 2] - picks[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    usable = norms > 1e-12
    normals[usable] /= norms[usable, None]
    normals *= np.where(normals[:, 1:2] < 0, -1.0, 1.0)  # point down (+y), towards the floor
    distances = np.einsum("ij,ij->i", normals, picks[:, 0])
    usable &= (normals[:, 1] >= math.cos(math.radians(MAX_TILT_DEG))) & (distances > 0)
    if not usable.any():
        return None, f"floor not found: no plane below the camera within {MAX_TILT_DEG:g} deg of level in the lower image part"
    normals, distances = normals[usable], distances[usable]
    tolerance = INLIER_TOLERANCE * float(np.median(points[:, 2]))
    inliers = np.abs(points @ normals.T - distances[None, :]) <= tolerance  # [N, candidates]
    support = inliers.sum(axis=0)
    best = int(np.argmax(np.where(support >= LOWEST_OF * support.max(), distances, -np.inf)))
    members = inliers[:, best]
    for _ in range(2):
        plane = _refit(points[members])
        if plane is None:
            return None, "floor not found: the best plane's inliers are degenerate"
        normal, distance = plane
        members = np.abs(points @ normal - distance) <= tolerance
    final = int(np.count_nonzero(members))
    needed = max(MIN_POINTS, MIN_INLIER_FRACTION * count)
    tilt = math.degrees(math.acos(min(1.0, float(normal[1]))))
    if tilt > MAX_TILT_DEG:
        return None, f"floor not found: the best plane tilts {tilt:.0f} deg from the camera's level (limit {MAX_TILT_DEG:g})"
    if final < needed:
        return None, (f"floor not found: the best level plane below the camera holds {final} of {count} points in the lower "
                      f"image part (needs {math.ceil(needed)})")
    return FloorPlane(normal, distance, final, count), ""


def _refit(points: np.ndarray) -> Optional[tuple[np.ndarray, float]]:
    """Least-squares plane through ``points`` (smallest singular vector), oriented down, with distance > 0."""
    if len(points) < 3:
        return None
    center = points.mean(axis=0)
    normal = np.linalg.svd(points - center, full_matrices=False)[2][-1]
    if normal[1] < 0:
        normal = -normal
    distance = float(normal @ center)
    return (normal, distance) if distance > 0 else None


def floor_scale(raw: np.ndarray, transform: Any, K_cam: Optional[np.ndarray], camera_height: float) -> ScaleEstimate:
    """``camera_height / floor distance`` of the network-resolution depth ``raw`` (2-D), or the reason there is none."""
    problem = camera_height_problem(camera_height)
    if problem:
        return ScaleEstimate(float("nan"), 0, problem)
    if K_cam is None:
        return ScaleEstimate(float("nan"), 0, "camera_height needs camera_info (intrinsics) to fit the floor; none received")
    K = transform.intrinsics_to_network(np.asarray(K_cam, dtype=np.float64))
    plane, problem = fit_floor(lower_points(raw, K, transform.content))
    if plane is None:
        return ScaleEstimate(float("nan"), 0, problem)
    return ScaleEstimate(float(camera_height) / plane.distance, plane.inliers)
