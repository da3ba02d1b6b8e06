"""A 2D LiDAR simulated from dense ground truth: the sparse anchor the project's evidence and tests use.

The protocol of ``shared/facts/realworld.md``: a band of 3 image rows around the image centre,
every 4th column, at the camera's size with no measurement elsewhere, i.e. a planar scanner
mounted at the camera and projected into it (``depth_image_proc``'s register step would give the
same picture). Published as 16UC1 millimetres (0 = no return), the usual driver output.
"""

from __future__ import annotations

import numpy as np

from disdepth_core.geometry import depth_to_millimetres

BAND_ROWS = 3
COLUMN_STEP = 4


def lidar_band(depth: np.ndarray, rows: int = BAND_ROWS, column_step: int = COLUMN_STEP) -> np.ndarray:
    """float32 metres: ``depth`` on ``rows`` rows around the centre, every ``column_step``-th column, NaN elsewhere.

    Invalid ground truth (0, NaN, negative) stays NaN: a scanner has no return there either.
    """
    height = depth.shape[0]
    first = height // 2 - rows // 2
    band = np.full(depth.shape[:2], np.nan, dtype=np.float32)
    picked = depth[first:first + rows, ::column_step].astype(np.float32)
    with np.errstate(invalid="ignore"):
        band[first:first + rows, ::column_step] = np.where(picked > 0, picked, np.nan)
    return band


def lidar_band_millimetres(depth: np.ndarray) -> np.ndarray:
    """:func:`lidar_band` as the uint16 millimetre image a 16UC1 sparse_depth message carries (0 = no return)."""
    return depth_to_millimetres(lidar_band(depth))
