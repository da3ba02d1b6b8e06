"""Transforms: crop geometry, paired flips/rotations, colour jitter, normalisation, file readers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from disdepth_core.data import transforms as T
from disdepth_core.runtime import normalization as N
from disdepth_core.data.io import read_depth_png, read_rgb


def _coords(h: int, w: int) -> np.ndarray:
    """Depth map whose value encodes its pixel position (so crops/flips can be located)."""
    return (np.arange(h * w, dtype=np.float32).reshape(h, w) + 1.0)


def test_imagenet_constants() -> None:
    assert N.IMAGENET_MEAN == (0.485, 0.456, 0.406)
    assert N.IMAGENET_STD == (0.229, 0.224, 0.225)


@pytest.mark.parametrize("h, w, top, left", [(375, 1242, 23, 13), (370, 1224, 18, 4), (376, 1241, 24, 12)])
def test_kb_crop_geometry(h: int, w: int, top: int, left: int) -> None:
    img = np.zeros((h, w, 3), np.uint8)
    depth = _coords(h, w)
    assert T.kb_crop_box(h, w) == (top, left, 352, 1216)
    out_img, out_depth = T.kb_crop(img, depth)
    assert out_img.shape == (352, 1216, 3)
    np.testing.assert_array_equal(out_depth, depth[top:top + 352, left:left + 1216])


def test_kb_crop_rejects_small_image() -> None:
    with pytest.raises(ValueError, match="smaller than the KB crop"):
        T.kb_crop(np.zeros((300, 1242, 3), np.uint8), None)


def test_nyu_border_crop() -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    depth = _coords(480, 640)
    out_img, out_depth = T.nyu_border_crop(img, depth)
    assert out_img.shape == (427, 565, 3)
    np.testing.assert_array_equal(out_depth, depth[45:472, 43:608])
    assert T.nyu_border_box(0.5) == (23, 22, 213, 282)


def test_random_crop_size_and_alignment() -> None:
    depth = _coords(60, 80)
    img = np.stack([depth] * 3, axis=-1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        out_img, out_depth = T.random_crop(img, depth, 32, 48, rng)
        assert out_img.shape == (32, 48, 3) and out_depth.shape == (32, 48)
        np.testing.assert_array_equal(out_img[..., 0], out_depth)
    with pytest.raises(ValueError, match="larger than the image"):
        T.random_crop(img, depth, 61, 10, rng)


def test_flip_moves_image_and_depth_together() -> None:
    depth = np.zeros((4, 6), np.float32)
    depth[:, 0] = 5.0  # asymmetric: only the left column is set
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, 0] = 200
    out_img, out_depth = T.random_flip(img, depth, np.random.default_rng(0), p=1.0)
    assert np.all(out_depth[:, -1] == 5.0) and np.all(out_depth[:, :-1] == 0)
    assert np.all(out_img[:, -1] == 200) and np.all(out_img[:, :-1] == 0)
    same_img, same_depth = T.random_flip(img, depth, np.random.default_rng(0), p=0.0)
    np.testing.assert_array_equal(same_depth, depth)


def test_rotation_keeps_depth_values_nearest() -> None:
    rng = np.random.default_rng(3)
    depth = rng.choice(np.array([0.0, 1.5, 2.25, 7.0, 31.0], np.float32), size=(50, 70))
    img = rng.random((50, 70, 3), dtype=np.float32)
    out_img, out_depth = T.random_rotate(img, depth, 10.0, rng)
    assert out_img.shape == img.shape and out_depth.shape == depth.shape
    assert set(np.unique(out_depth)) <= set(np.unique(depth)) | {0.0}
    same_img, same_depth = T.rotate(img, depth, 0.0)
    np.testing.assert_array_equal(same_depth, depth)
    np.testing.assert_allclose(same_img, img, atol=1e-6)


def test_color_augment_range_reproducible_and_skippable() -> None:
    img = np.random.default_rng(1).random((8, 8, 3), dtype=np.float32)
    a = T.color_augment(img, np.random.default_rng(5), p=1.0)
    b = T.color_augment(img, np.random.default_rng(5), p=1.0)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.min() >= 0.0 and a.max() <= 1.0
    assert not np.allclose(a, img)
    assert T.color_augment(img, np.random.default_rng(5), p=0.0) is img


def test_normalize_and_to_tensor() -> None:
    img = np.full((2, 3, 3), 255, np.uint8)
    out = N.normalize(img)
    assert out.shape == (3, 2, 3) and out.dtype == np.float32
    expected = (1.0 - np.array(N.IMAGENET_MEAN)) / np.array(N.IMAGENET_STD)
    np.testing.assert_allclose(out[:, 0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(N.normalize(img.astype(np.float32) / 255.0), out, rtol=1e-6)
    tensor = T.to_tensor(out)
    assert isinstance(tensor, torch.Tensor) and tuple(tensor.shape) == (3, 2, 3)
    assert tuple(T.to_tensor(np.zeros((4, 5), np.float32)).shape) == (1, 4, 5)


def test_resize_pair_uses_nearest_for_depth() -> None:
    depth = np.random.default_rng(0).choice(np.array([0.0, 3.0, 9.0], np.float32), size=(375, 1242))
    img = np.zeros((375, 1242, 3), np.uint8)
    small_img, small_depth = T.resize_pair(img, depth, 0.5)
    assert small_img.shape == (188, 621, 3) and small_depth.shape == (188, 621)
    assert set(np.unique(small_depth)) <= {0.0, 3.0, 9.0}


def test_read_rgb_returns_rgb_order(tmp_path: Path) -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = read_rgb(tmp_path / "red.png")
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    assert np.all(rgb[..., 0] == 255) and np.all(rgb[..., 2] == 0)


def test_read_depth_png_scaling_is_exact(tmp_path: Path) -> None:
    raw = np.array([[0, 1, 256], [1000, 65535, 5120]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), raw)
    kitti = read_depth_png(tmp_path / "d.png", 256.0)
    assert kitti.dtype == np.float32
    np.testing.assert_array_equal(kitti, raw.astype(np.float32) / np.float32(256))
    assert kitti[0, 2] == 1.0 and kitti[1, 2] == 20.0 and kitti[0, 0] == 0.0
    nyu = read_depth_png(tmp_path / "d.png", 1000.0)
    np.testing.assert_array_equal(nyu, raw.astype(np.float32) / np.float32(1000))
    assert nyu[1, 0] == 1.0


def test_read_depth_png_errors_name_the_file(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "eight_bit.png"), np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match=r"eight_bit\.png") as info:
        read_depth_png(tmp_path / "eight_bit.png", 256.0)
    assert "uint8" in str(info.value)
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.zeros((3, 3, 3), np.uint16))
    with pytest.raises(ValueError, match=r"rgb16\.png.*|shape \(3, 3, 3\)"):
        read_depth_png(tmp_path / "rgb16.png", 256.0)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_depth_png(tmp_path / "missing.png", 256.0)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="junk.png"):
        read_rgb(tmp_path / "junk.png")
