"""The node's output messages as plain fields and bytes, independent of any message class.

The node publishes rclpy messages and ``bag-eval --write-bag`` writes rosbags messages; both
fill their classes from the layouts built here, so a frame written to a bag carries exactly the
bytes the node publishes for it (depth image, camera_info, point cloud). The field names are the
sensor_msgs ones, so filling a message is one assignment per field.

* :func:`depth_image_layout` / :func:`image_layout`: ``32FC1`` metres (NaN invalid) or ``16UC1``
  millimetres (0 invalid), native byte order, rows unpadded.
* :func:`cloud_layout`: organized x/y/z float32 (+ rgb packed in a float32), 12 or 16 bytes a
  point with no padding (see :meth:`disdepth_core.pipeline.FramePipeline.make_points`),
  ``is_dense`` false, NaN for invalid points.
* :func:`depth_camera_info_layout`: the input camera_info with K of the depth image and P mapped
  by the same pixel affinity (so a rectified P keeps its Tx and its own focal length).

numpy only: the node imports this on robots without torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from disdepth_core.geometry import as_intrinsics, depth_to_millimetres

NATIVE_BIG_ENDIAN = sys.byteorder == "big"
POINT_FIELD_FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32
DEPTH_ENCODINGS = ("32FC1", "16UC1")


@dataclass(frozen=True)
class ImageLayout:
    """sensor_msgs/Image fields; ``pixels`` is C-contiguous and its bytes are ``data``."""

    height: int
    width: int
    encoding: str
    is_bigendian: bool
    step: int
    pixels: np.ndarray


@dataclass(frozen=True)
class PointFieldLayout:
    name: str
    offset: int
    datatype: int = POINT_FIELD_FLOAT32
    count: int = 1


@dataclass(frozen=True)
class CloudLayout:
    """sensor_msgs/PointCloud2 fields; ``points`` is the packed float32 ``[H,W,F]`` array (its bytes are ``data``)."""

    height: int
    width: int
    fields: tuple[PointFieldLayout, ...]
    is_bigendian: bool
    point_step: int
    row_step: int
    is_dense: bool
    points: np.ndarray


@dataclass(frozen=True)
class CameraInfoLayout:
    """sensor_msgs/CameraInfo fields of the depth image (binning and ROI stay at their defaults)."""

    height: int
    width: int
    distortion_model: str
    d: tuple[float, ...]
    k: tuple[float, ...]
    r: tuple[float, ...]
    p: tuple[float, ...]


def image_layout(pixels: np.ndarray, encoding: str) -> ImageLayout:
    """An image from a ``[H,W]``/``[H,W,C]`` array already in ``encoding``'s layout."""
    pixels = np.ascontiguousarray(pixels)
    big = NATIVE_BIG_ENDIAN if pixels.dtype.itemsize > 1 else False
    return ImageLayout(int(pixels.shape[0]), int(pixels.shape[1]), encoding, big, int(pixels.strides[0]), pixels)


def depth_image_layout(depth: np.ndarray, encoding: str = "32FC1") -> ImageLayout:
    """Depth in metres (NaN invalid) -> ``32FC1`` metres or ``16UC1`` millimetres (0 invalid)."""
    if encoding == "32FC1":
        return image_layout(depth.astype(np.float32, copy=False), "32FC1")
    if encoding != "16UC1":
        raise ValueError(f"depth encoding must be one of {', '.join(DEPTH_ENCODINGS)}, got {encoding!r}")
    return image_layout(depth_to_millimetres(depth), "16UC1")


def point_fields(rgb: bool, floats_per_point: int | None = None) -> tuple[PointFieldLayout, ...]:
    """x, y, z FLOAT32 (+ rgb packed in a FLOAT32 right after z, or at offset 16 in padded layouts)."""
    fields = tuple(PointFieldLayout(name, 4 * i) for i, name in enumerate("xyz"))
    if rgb:
        offset = 16 if (floats_per_point or 4) >= 8 else 12
        fields += (PointFieldLayout("rgb", offset),)
    return fields


def cloud_layout(packed: np.ndarray, rgb: bool) -> CloudLayout:
    """Organized cloud from a packed float32 ``[H,W,3]`` (xyz) or ``[H,W,4]`` (xyz + rgb) array.

    The padded depth_image_proc layouts ``[H,W,4]`` xyz-pad / ``[H,W,8]`` xyz-pad-rgb-pad are
    accepted too (``rgb`` tells a 4-float point apart). ``packed`` is kept as is (no copy), so a
    byte-backed buffer can become the message data without one.
    """
    height, width, floats = packed.shape
    point_step = 4 * int(floats)
    return CloudLayout(int(height), int(width), point_fields(rgb, floats), NATIVE_BIG_ENDIAN, point_step,
                       point_step * int(width), False, packed)


def depth_camera_info_layout(info: Any, K_out: np.ndarray, size_hw: tuple[int, int]) -> CameraInfoLayout:
    """camera_info of the depth image: K = ``K_out`` and the input's P mapped by the same pixel affinity.

    ``info`` is the camera's camera_info (rclpy or rosbags message: ``k``, ``p``, ``d``, ``r``,
    ``distortion_model``). The camera -> depth pixel map is affine per axis (resize/letterbox):
    ``u' = a u + b``; it is read off the two K matrices and applied to P's rows. A camera_info
    without P (all zeros) gets ``P = [K | 0]``.
    """
    K_in = as_intrinsics(info.k)
    K_out = np.asarray(K_out, dtype=np.float64).reshape(3, 3)
    a_u, a_v = K_out[0, 0] / K_in[0, 0], K_out[1, 1] / K_in[1, 1]
    b_u, b_v = K_out[0, 2] - a_u * K_in[0, 2], K_out[1, 2] - a_v * K_in[1, 2]
    P = np.array(info.p, dtype=np.float64).reshape(3, 4)
    if not P.any():
        P = np.hstack([K_in, np.zeros((3, 1))])
    P_out = P.copy()
    P_out[0] = a_u * P[0] + b_u * P[2]
    P_out[1] = a_v * P[1] + b_v * P[2]
    return CameraInfoLayout(int(size_hw[0]), int(size_hw[1]), str(info.distortion_model),
                            tuple(float(v) for v in info.d), tuple(float(v) for v in K_out.reshape(-1)),
                            tuple(float(v) for v in info.r), tuple(float(v) for v in P_out.reshape(-1)))


def camera_info_layout(K: np.ndarray, size_hw: tuple[int, int]) -> CameraInfoLayout:
    """A pinhole camera_info (plumb_bob, no distortion, P = [K | 0]) for frames that come with K only
    (synthetic streams and bags, recordings converted from image folders)."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    P = np.hstack([K, np.zeros((3, 1))])
    return CameraInfoLayout(int(size_hw[0]), int(size_hw[1]), "plumb_bob", (0.0,) * 5,
                            tuple(float(v) for v in K.reshape(-1)), tuple(float(v) for v in np.eye(3).reshape(-1)),
                            tuple(float(v) for v in P.reshape(-1)))


def cloud_to_arrays(msg: Any) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """xyz float32 ``[H,W,3]`` and, if present, uint8 rgb ``[H,W,3]`` of an x/y/z(/rgb) PointCloud2 (rclpy or
    rosbags message; any point_step and field offsets): the consumers' side of :func:`cloud_layout`."""
    offsets = {f.name: f.offset for f in msg.fields}
    raw = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.row_step)[:, :msg.width * msg.point_step]
    raw = raw.reshape(msg.height, msg.width, msg.point_step)
    xyz = np.stack([raw[..., offsets[n]:offsets[n] + 4].copy().view(np.float32)[..., 0] for n in "xyz"], axis=-1)
    if "rgb" not in offsets:
        return xyz, None
    packed = raw[..., offsets["rgb"]:offsets["rgb"] + 4].copy().view(np.uint32)[..., 0]
    colors = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=-1).astype(np.uint8)
    return xyz, colors
