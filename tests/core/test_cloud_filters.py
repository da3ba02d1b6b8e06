"""The cloud's filters (flying pixels, range, confidence) and the confidence sparsification, on exact inputs."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.cloud_filters import drop_points, flying_pixel_mask
from disdepth_core.geometry import depth_to_points
from disdepth_core.sparsification import SparsificationAccumulator, frame_sparsification

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

K = np.array([[570.0, 0, 79.5], [0, 570.0, 59.5], [0, 0, 1]])


def test_flying_pixels_between_foreground_and_background_are_dropped_edges_kept():
    z = np.full((8, 12), 1.0, np.float32)
    z[:, 6:] = 3.0
    z[:, 5], z[:, 6] = 1.7, 2.3  # the interpolated ramp between a box at 1 m and a wall at 3 m
    drop = flying_pixel_mask(z, 4 / 570, 4 / 570, 5.0)
    assert drop[:, 5:7].all() and drop.sum() == 16  # the ramp only: the box's and the wall's edge points stay
    assert not flying_pixel_mask(z, 4 / 570, 4 / 570, 0.0).any()
    z[2, 5] = np.nan  # an invalid point flags neither itself nor its neighbours
    assert not flying_pixel_mask(z, 4 / 570, 4 / 570, 5.0)[2, 4]


def test_a_floor_is_kept_until_it_is_seen_at_a_grazing_angle():
    """A level floor 1 m below the camera: dropped only where the view ray meets it within the angle."""
    v = np.arange(60, 120, dtype=np.float64)[:, None] * np.ones((1, 40))
    z = (1.0 * 570.0 / (v - 59.5 + 1e-9)).astype(np.float32)  # the floor's depth per image row
    drop = flying_pixel_mask(z, 1 / 570, 1 / 570, 5.0)
    grazing = np.degrees(np.arctan(1.0 / z[:, 0]))
    assert not drop[grazing > 6.0].any() and drop[1:-1][grazing[1:-1] < 4.0].all()


def test_drop_points_range_and_confidence():
    depth = np.full((12, 16), 2.0, np.float32)
    depth[:, 8:] = 6.0
    points = depth_to_points(depth, K, 1)
    confidence = np.ones((12, 16), np.float32)
    confidence[0, 0] = 0.1
    dropped = drop_points(points, 1, K, 0.0, 5.0, confidence, 0.3)
    assert dropped == 12 * 8 + 1 and np.isnan(points[:, 8:]).all() and np.isnan(points[0, 0]).all()
    assert np.isfinite(points[1:, :8]).all()
    assert drop_points(points, 1, K, 0.0, 0.0, confidence, 0.0) == 0  # all off: nothing more


def test_sparsification_curve_per_frame_then_averaged():
    gt = np.array([[1.0, 2.0, 4.0, 8.0]], np.float32)
    pred = np.array([[1.0, 2.2, 5.0, 16.0]], np.float32)  # relative errors 0, 0.1, 0.25, 1.0 (16 clamps to 10: 0.25)
    confidence = np.array([[0.9, 0.8, 0.5, 0.1]], np.float32)
    curve = frame_sparsification(pred, gt, confidence, 1e-3, 10.0)
    assert curve == pytest.approx([(0 + 0.1 + 0.25 + 0.25) / 4, (0 + 0.1 + 0.25) / 3, 0.05, 0.0])
    reversed_curve = frame_sparsification(pred, gt, -confidence, 1e-3, 10.0)
    assert reversed_curve[2] > curve[2]  # a confidence that ranks wrong raises the curve
    assert frame_sparsification(pred, np.zeros_like(gt), confidence, 1e-3, 10.0) is None
    total = SparsificationAccumulator()
    total.add(curve)
    total.add([0.2, 0.2, 0.2, 0.2])
    total.add(None)
    assert total.frames == 2 and total.compute()[2] == {"coverage": 0.5, "abs_rel": pytest.approx((0.05 + 0.2) / 2)}
    assert SparsificationAccumulator().compute() is None
