"""ROS image messages -> numpy without ROS: raw encodings, compressed JPEG/PNG, depth.

Duck-typed on the sensor_msgs field names (``encoding``, ``height``, ``width``, ``step``,
``is_bigendian``, ``data``; ``format`` for compressed), so rclpy messages, rosbags' deserialised
messages and plain namespaces all decode the same way: offline evaluation reads frames exactly
as the node does. ``data`` may be an ``array.array('B')``, bytes or a uint8 numpy array;
``np.frombuffer`` views it (typed uint8, uint16 or float32) and the row ``step`` (drivers pad
rows) is respected by slicing, so an rgb8 frame reaches preprocessing without a copy.
"""

from __future__ import annotations

import cv2
import numpy as np

# encoding -> (channels, bytes per channel, channel order); 8UC*/16UC* read like cv_bridge does.
ENCODINGS: dict[str, tuple[int, int, str]] = {
    "rgb8": (3, 1, "rgb"), "bgr8": (3, 1, "bgr"), "rgba8": (4, 1, "rgba"), "bgra8": (4, 1, "bgra"), "mono8": (1, 1, "mono"),
    "8UC3": (3, 1, "bgr"), "8UC1": (1, 1, "mono"), "8UC4": (4, 1, "bgra"),
    "rgb16": (3, 2, "rgb"), "bgr16": (3, 2, "bgr"), "rgba16": (4, 2, "rgba"), "bgra16": (4, 2, "bgra"),
    "mono16": (1, 2, "mono"), "16UC1": (1, 2, "mono"), "16UC3": (3, 2, "bgr"),
}
_TO_RGB = {"bgr": cv2.COLOR_BGR2RGB, "rgba": cv2.COLOR_RGBA2RGB, "bgra": cv2.COLOR_BGRA2RGB, "mono": cv2.COLOR_GRAY2RGB}


class BadMessageError(ValueError):
    """A message that cannot be a frame (size mismatch, unknown encoding, undecodable data)."""


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


def image_view(msg) -> np.ndarray:
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


def image_to_rgb(msg) -> np.ndarray:
    """uint8 RGB ``[H,W,3]``: a view for rgb8, else one conversion (16-bit scaled by >> 8)."""
    pixels = image_view(msg)
    order = ENCODINGS[msg.encoding][2]
    if pixels.dtype != np.uint8:
        pixels = (pixels >> 8).astype(np.uint8)
    if order == "rgb":
        return pixels
    return cv2.cvtColor(np.ascontiguousarray(pixels), _TO_RGB[order])


def compressed_to_rgb(msg) -> np.ndarray:
    """Decode a JPEG/PNG CompressedImage to uint8 RGB ``[H,W,3]``."""
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise BadMessageError("empty compressed image")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise BadMessageError(f"cannot decode compressed image (format {msg.format!r}, {data.size} bytes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_to_depth(msg) -> np.ndarray:
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
