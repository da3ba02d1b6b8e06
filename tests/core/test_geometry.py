"""Back-projection, intrinsics bookkeeping and focal rescaling, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.geometry import (
    as_intrinsics,
    crop_intrinsics,
    depth_to_points,
    ray_grid,
    rescale_depth_for_focal,
    scale_intrinsics,
)

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

# fx = 2, fy = 4, cx = 1, cy = 0.5
K_SMALL = np.array([[2.0, 0.0, 1.0], [0.0, 4.0, 0.5], [0.0, 0.0, 1.0]])


def _project(K: np.ndarray, point: np.ndarray) -> np.ndarray:
    uvw = K @ point
    return uvw[:2] / uvw[2]


def test_points_by_hand_2x3_with_invalid_pixels() -> None:
    depth = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 0.0]], dtype=np.float32)
    pts = depth_to_points(depth, K_SMALL)
    assert pts.shape == (2, 3, 3) and pts.dtype == np.float32
    # X = (u - 1) * Z / 2, Y = (v - 0.5) * Z / 4
    # (v0,u0) Z=1: X = -1*1/2 = -0.5,  Y = -0.5*1/4 = -0.125
    # (v0,u1) Z=2: X =  0,             Y = -0.5*2/4 = -0.25
    # (v0,u2) Z=3: X =  1*3/2 = 1.5,   Y = -0.5*3/4 = -0.375
    # (v1,u0) Z=4: X = -1*4/2 = -2,    Y =  0.5*4/4 = 0.5
    expected_row0 = [[-0.5, -0.125, 1.0], [0.0, -0.25, 2.0], [1.5, -0.375, 3.0]]
    np.testing.assert_allclose(pts[0], expected_row0, rtol=1e-6)
    np.testing.assert_allclose(pts[1, 0], [-2.0, 0.5, 4.0], rtol=1e-6)
    # NaN depth and 0 depth -> all three coordinates NaN
    assert np.isnan(pts[1, 1]).all() and np.isnan(pts[1, 2]).all()


def test_negative_and_infinite_depth_are_nan_and_float64_input_ok() -> None:
    depth = np.array([[-1.0, np.inf, -np.inf, 1e300, 2.0]])  # 1e300 overflows float32 -> inf
    pts = depth_to_points(depth, K_SMALL)
    assert np.isnan(pts[0, :4]).all()
    np.testing.assert_allclose(pts[0, 4], [(4 - 1) * 2 / 2, (0 - 0.5) * 2 / 4, 2.0])


def test_stride_samples_original_pixel_coordinates() -> None:
    depth = np.arange(1, 16, dtype=np.float32).reshape(3, 5)  # Z = 1..15
    pts = depth_to_points(depth, K_SMALL, stride=2)
    # H' = ceil(3/2) = 2 (v = 0, 2), W' = ceil(5/2) = 3 (u = 0, 2, 4)
    assert pts.shape == (2, 3, 3)
    # (v=2, u=4): Z = depth[2, 4] = 15; X = (4-1)*15/2 = 22.5; Y = (2-0.5)*15/4 = 5.625
    np.testing.assert_allclose(pts[1, 2], [22.5, 5.625, 15.0], rtol=1e-6)
    # (v=0, u=2): Z = 3; X = (2-1)*3/2 = 1.5; Y = -0.5*3/4 = -0.375
    np.testing.assert_allclose(pts[0, 1], [1.5, -0.375, 3.0], rtol=1e-6)
    np.testing.assert_allclose(depth_to_points(depth, K_SMALL)[::2, ::2], pts)


def test_ray_grid_cache_returns_same_objects() -> None:
    a = ray_grid((4, 6), K_SMALL)
    b = ray_grid((4, 6), K_SMALL.reshape(-1).tolist())  # camera_info.k style, same values
    c = ray_grid((4, 6), K_SMALL + 1e-9)  # below the rounding used for the key
    assert a[0] is b[0] and a[1] is b[1] and a[0] is c[0]
    assert a[0].shape == (1, 6) and a[1].shape == (4, 1) and a[0].dtype == np.float32
    assert not a[0].flags.writeable  # shared via the cache: must be read-only
    other = ray_grid((4, 6), K_SMALL * np.array([[2.0], [1.0], [1.0]]))
    assert other[0] is not a[0]
    assert ray_grid((4, 6), K_SMALL, stride=2)[0] is not a[0]


def test_out_buffer_is_reused() -> None:
    depth = np.full((4, 6), 2.0, dtype=np.float32)
    buf = np.empty((4, 6, 3), dtype=np.float32)
    res = depth_to_points(depth, K_SMALL, out=buf)
    assert res is buf
    depth[0, 0] = np.nan
    res2 = depth_to_points(depth, K_SMALL, out=buf)
    assert res2 is buf and np.isnan(buf[0, 0]).all() and not np.isnan(buf[0, 1]).any()
    with pytest.raises(ValueError, match="out"):
        depth_to_points(depth, K_SMALL, out=np.empty((4, 6, 3), dtype=np.float64))
    with pytest.raises(ValueError, match="out"):
        depth_to_points(depth, K_SMALL, stride=2, out=buf)


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValueError):
        depth_to_points(np.ones((2, 2, 2)), K_SMALL)
    with pytest.raises(ValueError, match="millimetres"):
        depth_to_points(np.ones((2, 2), dtype=np.uint16), K_SMALL)
    with pytest.raises(ValueError):
        depth_to_points(np.ones((2, 2)), np.eye(4))
    with pytest.raises(ValueError):
        depth_to_points(np.ones((2, 2)), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        depth_to_points(np.ones((2, 2)), K_SMALL, stride=0)
    # singleton channel layouts are fine
    assert depth_to_points(np.ones((1, 2, 2)), K_SMALL).shape == (2, 2, 3)
    assert depth_to_points(np.ones((2, 2, 1)), K_SMALL).shape == (2, 2, 3)


def test_points_reproject_to_their_pixels() -> None:
    K = as_intrinsics([525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0])
    depth = np.random.default_rng(0).uniform(0.5, 5.0, size=(48, 64)).astype(np.float32)
    K_small = scale_intrinsics(K, (480, 640), (48, 64))
    pts = depth_to_points(depth, K_small).reshape(-1, 3).astype(np.float64)
    uv = (K_small @ pts.T).T
    uv = uv[:, :2] / uv[:, 2:]
    vv, uu = np.mgrid[0:48, 0:64]
    np.testing.assert_allclose(uv[:, 0], uu.reshape(-1), atol=1e-3)
    np.testing.assert_allclose(uv[:, 1], vv.reshape(-1), atol=1e-3)


def test_scale_intrinsics_pixel_centre_convention() -> None:
    K = np.array([[700.0, 0.0, 600.0], [0.0, 710.0, 180.0], [0.0, 0.0, 1.0]])
    # 352x1216 -> 176x608: sx = sy = 0.5
    K2 = scale_intrinsics(K, (352, 1216), (176, 608))
    # fx' = 350, fy' = 355, cx' = (600 + 0.5) * 0.5 - 0.5 = 299.75, cy' = 180.5*0.5 - 0.5 = 89.75
    np.testing.assert_allclose(K2, [[350.0, 0.0, 299.75], [0.0, 355.0, 89.75], [0.0, 0.0, 1.0]])

    point = np.array([1.2, -0.4, 7.0])
    u, v = _project(K, point)
    u2, v2 = _project(K2, point)
    # a continuous pixel coordinate maps as x' = (x + 0.5) * s - 0.5
    assert u2 == pytest.approx((u + 0.5) * 0.5 - 0.5)
    assert v2 == pytest.approx((v + 0.5) * 0.5 - 0.5)

    # non-uniform resize and round trip back to the original size
    K3 = scale_intrinsics(K, (352, 1216), (480, 640))
    np.testing.assert_allclose(scale_intrinsics(K3, (480, 640), (352, 1216)), K, rtol=1e-12)


def test_crop_intrinsics_shifts_principal_point_only() -> None:
    K = np.array([[721.5377, 0.0, 609.5593], [0.0, 721.5377, 172.854], [0.0, 0.0, 1.0]])
    H, W = 375, 1242
    top, left = H - 352, (W - 1216) // 2  # KITTI KB-crop: 23, 13
    Kc = crop_intrinsics(K, top, left)
    np.testing.assert_allclose(Kc[:2, 2], [609.5593 - 13, 172.854 - 23])
    assert Kc[0, 0] == K[0, 0] and Kc[1, 1] == K[1, 1]
    point = np.array([0.3, 0.2, 10.0])
    np.testing.assert_allclose(_project(Kc, point), _project(K, point) - [left, top])
    assert K[0, 2] == 609.5593  # input untouched


def test_rescale_depth_for_focal() -> None:
    depth = np.array([[10.0, 2.0]], dtype=np.float32)
    out = rescale_depth_for_focal(depth, focal_camera=1000.0, focal_train=500.0)
    # Z_true = Z_pred * 1000 / 500 = 2 * Z_pred
    np.testing.assert_allclose(out, [[20.0, 4.0]])
    assert out.dtype == np.float32
    assert float(rescale_depth_for_focal(3.0, 518.8579, 518.8579)) == 3.0
    with pytest.raises(ValueError):
        rescale_depth_for_focal(depth, 0.0, 500.0)
