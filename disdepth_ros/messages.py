"""sensor_msgs <-> numpy without cv_bridge: zero-copy views in, one memcpy out.

Incoming ``msg.data`` is an ``array.array('B')``; ``np.frombuffer`` views it (already typed:
uint8, uint16 or float32) and the row ``step`` (drivers pad rows) is respected by slicing, so
an rgb8 frame reaches preprocessing without a copy. Outgoing data is handed to rclpy as an
``array.array('B')`` filled with one ``frombytes`` memcpy: the generated setters store an
array.array as is, whereas ``bytes`` or a list is checked element by element in Python (tens
of ms for a 640x480 cloud).
"""

from __future__ import annotations

import array
import sys
from typing import Optional

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField

from disdepth_core.geometry import as_intrinsics

# encoding -> (channels, bytes per channel, channel order); 8UC*/16UC* read like cv_bridge does.
ENCODINGS: dict[str, tuple[int, int, str]] = {
    "rgb8": (3, 1, "rgb"), "bgr8": (3, 1, "bgr"), "rgba8": (4, 1, "rgba"), "bgra8": (4, 1, "bgra"), "mono8": (1, 1, "mono"),
    "8UC3": (3, 1, "bgr"), "8UC1": (1, 1, "mono"), "8UC4": (4, 1, "bgra"),
    "rgb16": (3, 2, "rgb"), "bgr16": (3, 2, "bgr"), "rgba16": (4, 2, "rgba"), "bgra16": (4, 2, "bgra"),
    "mono16": (1, 2, "mono"), "16UC1": (1, 2, "mono"), "16UC3": (3, 2, "bgr"),
}
_TO_RGB = {"bgr": cv2.COLOR_BGR2RGB, "rgba": cv2.COLOR_RGBA2RGB, "bgra": cv2.COLOR_BGRA2RGB, "mono": cv2.COLOR_GRAY2RGB}
_NATIVE_BIG = sys.byteorder == "big"


class BadMessageError(ValueError):
    """A message that cannot be a frame (size mismatch, unknown encoding, undecodable data)."""


def to_byte_array(arr: np.ndarray) -> array.array:
    """One memcpy of ``arr``'s bytes into the ``array.array('B')`` rclpy's setters take as is."""
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
    return out


def _pixel_rows(data, height: int, step: int, dtype: np.dtype, row_items: int, what: str) -> np.ndarray:
    """``[height, row_items]`` view of ``data`` typed as ``dtype``, each row's padding skipped.

    The typed view is built BEFORE the padding is sliced off: ``frombuffer`` of the whole
    (contiguous) buffer, reshape by ``step // itemsize``, then slice. Viewing an already sliced
    (non-contiguous) uint8 array as a wider dtype raises ValueError on numpy < 1.23 (Humble).
    """
    itemsize = dtype.itemsize
    if step % itemsize:
        raise BadMessageError(f"step {step} of a {what} image is not a multiple of its {itemsize}-byte channel size")
    if step < row_items * itemsize:
        raise BadMessageError(f"step {step} is shorter than a {what} row ({row_items * itemsize} bytes)")
    if len(data) != height * step:
        raise BadMessageError(f"data has {len(data)} bytes, expected height*step = {height}*{step} = {height * step}")
    return np.frombuffer(data, dtype=dtype).reshape(height, step // itemsize)[:, :row_items]


def image_view(msg: Image) -> np.ndarray:
    """``[H,W,C]`` view (uint8 or uint16) of an Image's pixels, row padding skipped, no copy."""
    if msg.encoding not in ENCODINGS:
        raise BadMessageError(f"unsupported image encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}")
    channels, size, _ = ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise BadMessageError(f"zero-sized image {width}x{height}")
    dtype = np.dtype(np.uint8) if size == 1 else np.dtype(">u2" if msg.is_bigendian else "<u2")
    rows = _pixel_rows(msg.data, height, step, dtype, width * channels, f"{width}-pixel {msg.encoding}")
    return rows.reshape(height, width, channels)  # splits the contiguous last axis: still a view


def image_to_rgb(msg: Image) -> np.ndarray:
    """uint8 RGB ``[H,W,3]``: a view for rgb8, else one conversion (16-bit scaled by >> 8)."""
    pixels = image_view(msg)
    order = ENCODINGS[msg.encoding][2]
    if pixels.dtype != np.uint8:
        pixels = (pixels >> 8).astype(np.uint8)
    if order == "rgb":
        return pixels
    return cv2.cvtColor(np.ascontiguousarray(pixels), _TO_RGB[order])


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """Decode a JPEG/PNG CompressedImage to uint8 RGB ``[H,W,3]``."""
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise BadMessageError("empty compressed image")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise BadMessageError(f"cannot decode compressed image (format {msg.format!r}, {data.size} bytes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def array_to_image(pixels: np.ndarray, encoding: str, header=None) -> Image:
    """An Image from a ``[H,W]``/``[H,W,C]`` array already in ``encoding``'s layout."""
    pixels = np.ascontiguousarray(pixels)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = _NATIVE_BIG if pixels.dtype.itemsize > 1 else False
    msg.step = int(pixels.strides[0])
    msg.data = to_byte_array(pixels)
    return msg


def depth_to_image(depth: np.ndarray, header, encoding: str = "32FC1") -> Image:
    """Depth in metres (NaN invalid) -> ``32FC1`` metres or ``16UC1`` millimetres (0 invalid)."""
    if encoding == "32FC1":
        return array_to_image(depth.astype(np.float32, copy=False), "32FC1", header)
    if encoding != "16UC1":
        raise ValueError(f"depth encoding must be 32FC1 or 16UC1, got {encoding!r}")
    with np.errstate(invalid="ignore"):
        mm = np.rint(depth * 1000.0)
        mm[~((mm > 0) & (mm <= 65535))] = 0  # NaN, <= 0 and beyond 65.5 m are all "no data"
    return array_to_image(mm.astype(np.uint16), "16UC1", header)


def image_to_depth(msg: Image) -> np.ndarray:
    """A 32FC1/16UC1 depth Image -> float32 metres with NaN invalid (for tests and tools)."""
    if msg.encoding == "32FC1":
        if msg.height <= 0 or msg.width <= 0:
            raise BadMessageError(f"zero-sized image {msg.width}x{msg.height}")
        dtype = np.dtype(">f4" if msg.is_bigendian else "<f4")
        return _pixel_rows(msg.data, int(msg.height), int(msg.step), dtype, int(msg.width), "32FC1").astype(np.float32)
    if msg.encoding in ("16UC1", "mono16"):
        mm = image_view(msg)[..., 0].astype(np.float32)
        mm[mm == 0] = np.nan
        return mm / 1000.0
    raise BadMessageError(f"not a depth encoding: {msg.encoding!r}")


def point_fields(rgb: bool) -> list[PointField]:
    """x, y, z FLOAT32 (+ rgb packed in a FLOAT32 at offset 16), as depth_image_proc."""
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    if rgb:
        fields.append(PointField(name="rgb", offset=16, datatype=PointField.FLOAT32, count=1))
    return fields


def pack_rgb(rgb: np.ndarray, out: np.ndarray) -> None:
    """Write ``0x00RRGGBB`` of uint8 ``rgb [H,W,3]`` into the uint32 view ``out [H,W]``."""
    np.left_shift(rgb[..., 0], 16, out=out, dtype=np.uint32)
    out |= rgb[..., 1].astype(np.uint32) << 8
    out |= rgb[..., 2]


def points_to_cloud(packed: np.ndarray, header, rgb: bool) -> PointCloud2:
    """Organized PointCloud2 from a packed float32 ``[H,W,4]`` (xyz) or ``[H,W,8]`` (xyzrgb) array."""
    height, width, floats = packed.shape
    msg = PointCloud2()
    msg.header = header
    msg.height, msg.width = int(height), int(width)
    msg.fields = point_fields(rgb)
    msg.is_bigendian = _NATIVE_BIG
    msg.point_step = 4 * int(floats)
    msg.row_step = msg.point_step * int(width)
    msg.is_dense = False
    msg.data = to_byte_array(packed)
    return msg


def cloud_to_arrays(msg: PointCloud2) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """xyz float32 ``[H,W,3]`` and, if present, uint8 rgb ``[H,W,3]`` of an x/y/z(/rgb) cloud."""
    offsets = {f.name: f.offset for f in msg.fields}
    raw = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.row_step)[:, :msg.width * msg.point_step]
    raw = raw.reshape(msg.height, msg.width, msg.point_step)
    xyz = np.stack([raw[..., offsets[n]:offsets[n] + 4].copy().view(np.float32)[..., 0] for n in "xyz"], axis=-1)
    if "rgb" not in offsets:
        return xyz, None
    packed = raw[..., offsets["rgb"]:offsets["rgb"] + 4].copy().view(np.uint32)[..., 0]
    colors = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=-1).astype(np.uint8)
    return xyz, colors


def camera_info_for(info: CameraInfo, K_out: np.ndarray, size_hw: tuple[int, int], header) -> CameraInfo:
    """camera_info of the depth image: K = ``K_out`` and P mapped by the same pixel affinity.

    The camera->depth pixel map is affine per axis (resize/letterbox): ``u' = a u + b``; it is
    read off K and applied to P's rows, so a rectified P (Tx, different focal) stays exact.
    """
    K_in = as_intrinsics(info.k)
    a_u, a_v = K_out[0, 0] / K_in[0, 0], K_out[1, 1] / K_in[1, 1]
    b_u, b_v = K_out[0, 2] - a_u * K_in[0, 2], K_out[1, 2] - a_v * K_in[1, 2]
    P = np.array(info.p, dtype=np.float64).reshape(3, 4)
    if not P.any():
        P = np.hstack([K_in, np.zeros((3, 1))])
    P_out = P.copy()
    P_out[0] = a_u * P[0] + b_u * P[2]
    P_out[1] = a_v * P[1] + b_v * P[2]
    out = CameraInfo()
    out.header = header
    out.height, out.width = int(size_hw[0]), int(size_hw[1])
    out.distortion_model = info.distortion_model
    out.d = list(info.d)
    out.k = [float(v) for v in np.asarray(K_out, dtype=np.float64).reshape(-1)]
    out.r = list(info.r)
    out.p = [float(v) for v in P_out.reshape(-1)]
    return out
