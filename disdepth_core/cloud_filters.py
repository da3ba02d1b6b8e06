"""Which points of an organized cloud a costmap should not get: flying pixels, far points, unsure points.

Users feeding monocular clouds into Nav2 ran PCL outlier filters that cut their rate from 6 Hz to
1.5 Hz. These filters work on the organized grid the node already has (one point per sampled
depth pixel, a few ten thousand points at the default stride), in a few vectorised numpy passes:

* **flying pixels**: at a depth discontinuity a network predicts a ramp of depths between the
  foreground and the background (the bins head averages both, then the output is upsampled),
  which a costmap sees as a veil of obstacles in mid-air. A grid point is dropped when its depth
  differs from *both* neighbours along a row or along a column by more than a surface seen at
  less than ``angle_deg`` from the viewing ray would produce: between neighbouring rays ``dtheta``
  apart such a surface changes depth by ``z * dtheta / tan(angle)``. Requiring both neighbours
  keeps the true foreground and background edge points (each has one smooth side) and removes
  the interpolated ones between them; a floor is only dropped where it is seen at a grazing
  angle below ``angle_deg`` (with 5 deg and a 1 m high camera: beyond about 11 m at 570 px focal
  and stride 4).
* **range**: points farther than ``max_range`` metres from the camera centre (Euclidean, as
  Nav2's ``obstacle_max_range``).
* **confidence**: points whose confidence (:func:`disdepth_core.models.heads.depth_confidence`)
  is below ``min_confidence``.

Dropped points become NaN (the organized cloud keeps its shape, ``is_dense: false``).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


def flying_pixel_mask(z: np.ndarray, step_x: float, step_y: float, angle_deg: float) -> np.ndarray:
    """True where a point of the organized depth grid ``z`` ``[H,W]`` is a flying pixel.

    ``step_x``/``step_y`` are the angles (radians) between neighbouring grid columns/rows
    (``stride / fx`` and ``stride / fy``). NaN depths never flag their neighbours.
    """
    drop = np.zeros(z.shape, dtype=bool)
    if angle_deg <= 0:
        return drop
    slope = 1.0 / math.tan(math.radians(angle_deg))
    with np.errstate(invalid="ignore"):
        for axis, step in ((1, step_x), (0, step_y)):
            if z.shape[axis] < 3:
                continue
            centre = _inner(z, axis, 1, -1)
            jump = np.minimum(np.abs(centre - _inner(z, axis, 0, -2)), np.abs(centre - _inner(z, axis, 2, None)))
            _inner(drop, axis, 1, -1)[...] |= jump > (step * slope) * centre
    return drop


def _inner(array: np.ndarray, axis: int, start: int, stop: Optional[int]) -> np.ndarray:
    return array[:, start:stop] if axis == 1 else array[start:stop]


def drop_points(points: np.ndarray, stride: int, K: np.ndarray, flying_pixel_angle: float = 0.0, max_range: float = 0.0,
                confidence: Optional[np.ndarray] = None, min_confidence: float = 0.0) -> int:
    """NaN the x/y/z of every point of the organized cloud ``points`` ``[H',W',3+]`` that a filter drops, in place.

    ``confidence`` is sampled like the cloud (``[H',W']``); returns the number of points dropped
    (that were valid before).
    """
    z = points[..., 2]
    drop = flying_pixel_mask(z, stride / float(K[0, 0]), stride / float(K[1, 1]), flying_pixel_angle)
    if max_range > 0:
        xyz = points[..., :3]
        with np.errstate(invalid="ignore"):
            drop |= np.einsum("ijk,ijk->ij", xyz, xyz) > max_range * max_range
    if confidence is not None and min_confidence > 0:
        with np.errstate(invalid="ignore"):
            drop |= confidence < min_confidence
    drop &= np.isfinite(z)
    dropped = int(np.count_nonzero(drop))
    if dropped:
        np.copyto(points[..., :3], np.float32(np.nan), where=drop[..., None])
    return dropped
