"""The ROS-free frame pipeline and image decoders (what the node and offline evaluation share)."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from disdepth_core import image_decoding
from disdepth_core.geometry import focal_rescale_factor, rescale_depth_for_focal
from disdepth_core.pipeline import FramePipeline, PipelineConfig
from disdepth_core.runtime import load_runtime

RGB = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)


def namespace_image(pixels: np.ndarray, encoding: str, pad: int = 0) -> types.SimpleNamespace:
    """A message as rosbags deserialises it: plain attributes, ``data`` a uint8 numpy array."""
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.zeros((rows.shape[0], rows.shape[1] + pad), np.uint8)
    padded[:, :rows.shape[1]] = rows
    return types.SimpleNamespace(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, is_bigendian=0,
                                 step=padded.shape[1], data=padded.reshape(-1))


def test_decoders_take_rosbags_style_messages():
    np.testing.assert_array_equal(image_decoding.image_to_rgb(namespace_image(RGB, "rgb8", pad=3)), RGB)
    bgr = np.ascontiguousarray(RGB[..., ::-1])
    np.testing.assert_array_equal(image_decoding.image_to_rgb(namespace_image(bgr, "bgr8")), RGB)
    png = cv2.imencode(".png", bgr)[1].reshape(-1)
    np.testing.assert_array_equal(image_decoding.compressed_to_rgb(types.SimpleNamespace(format="png", data=png)), RGB)
    mm = np.array([[0, 1500], [65535, 20]], np.uint16)
    depth = image_decoding.image_to_depth(namespace_image(mm, "16UC1", pad=2))
    np.testing.assert_allclose(depth, [[np.nan, 1.5], [65.535, 0.02]], rtol=1e-6)
    with pytest.raises(image_decoding.BadMessageError, match="unsupported image encoding 'yuv422'"):
        image_decoding.image_to_rgb(namespace_image(RGB, "yuv422"))


def test_focal_rescale_is_geometry_rescale_at_network_resolution(tiny_checkpoint):
    """With ``focal_rescale`` the output is the plain output times fx(network px) / train focal."""
    pipeline = FramePipeline(load_runtime(tiny_checkpoint))
    K = np.array([[300.0, 0, 32], [0, 300.0, 24], [0, 0, 1]])
    unbounded = dict(min_depth=1e-6, max_depth=1e6, points=False)
    plain = pipeline.process_rgb(RGB, (K, RGB.shape[:2]), PipelineConfig(**unbounded))
    scaled = pipeline.process_rgb(RGB, (K, RGB.shape[:2]), PipelineConfig(focal_rescale=True, **unbounded))
    fx_network = 300.0 * pipeline.input_hw[1] / RGB.shape[1]
    expected = focal_rescale_factor(fx_network, pipeline.metadata.train_focal)
    assert scaled.focal_factor == pytest.approx(expected) and plain.focal_factor == 1.0
    np.testing.assert_allclose(scaled.depth, rescale_depth_for_focal(plain.depth, fx_network, pipeline.metadata.train_focal),
                               rtol=1e-5)
    # camera_info for another resolution is scaled to the frame first: same factor
    half = pipeline.process_rgb(RGB, (K * [[2], [2], [1]], (96, 128)), PipelineConfig(focal_rescale=True, **unbounded))
    assert half.focal_factor == pytest.approx(expected)


def test_decode_dispatches_raw_and_compressed(tiny_checkpoint):
    pipeline = FramePipeline(load_runtime(tiny_checkpoint))
    png = cv2.imencode(".png", RGB[..., ::-1])[1].reshape(-1)
    raw = pipeline.process_message(namespace_image(RGB, "rgb8"), None, PipelineConfig())
    compressed = pipeline.process_message(types.SimpleNamespace(format="png", data=png), None, PipelineConfig())
    np.testing.assert_array_equal(raw.depth, compressed.depth)
    assert raw.points is None and set(raw.timings) >= {"decode", "preprocess", "inference", "postprocess"}


def test_auto_points_stride_matches_the_network_resolution():
    from disdepth_core.pipeline import auto_points_stride

    assert auto_points_stride((480, 640), (120, 160)) == 4  # the demo model on a VGA camera
    assert auto_points_stride((375, 1242), (94, 311)) == 3  # never coarser than the network on either axis
    assert auto_points_stride((480, 640), (480, 640)) == 1
    assert auto_points_stride((120, 160), (240, 320)) == 1  # a network larger than the image: every pixel
    assert auto_points_stride((480, 640), (0, 0)) == 1


def test_cloud_is_at_network_resolution_by_default_and_every_pixel_with_stride_1(tiny_checkpoint):
    """points_stride 0 (the default) samples the camera-size depth at the network's resolution, with exact geometry."""
    from disdepth_core.geometry import depth_to_points

    pipeline = FramePipeline(load_runtime(tiny_checkpoint), input_hw=(32, 48))
    rgb = np.random.default_rng(2).integers(0, 255, (128, 192, 3), dtype=np.uint8)
    K = np.array([[150.0, 0, 95.5], [0, 150.0, 63.5], [0, 0, 1]])
    auto = pipeline.process_rgb(rgb, (K, rgb.shape[:2]), PipelineConfig())
    assert auto.depth.shape == (128, 192) and auto.points.shape == (32, 48, 3)
    np.testing.assert_array_equal(auto.points, depth_to_points(auto.depth, K, 4))
    full = pipeline.process_rgb(rgb, (K, rgb.shape[:2]), PipelineConfig(points_stride=1))
    assert full.points.shape == (128, 192, 3)
    np.testing.assert_array_equal(full.points, depth_to_points(full.depth, K))
    # depth at network size: nothing is interpolated, so auto keeps every pixel
    small = pipeline.process_rgb(rgb, (K, rgb.shape[:2]), PipelineConfig(output_resolution="model"))
    assert small.depth.shape == (32, 48) and small.points.shape == (32, 48, 3)
