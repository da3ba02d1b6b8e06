"""sensor_msgs <-> numpy without cv_bridge: zero-copy views in, one memcpy out.

Decoding (image -> numpy) is ROS-free and lives in :mod:`disdepth_core.image_decoding`
(re-exported here); this module builds the outgoing messages. Outgoing data is handed to rclpy as an
``array.array('B')`` filled with one ``frombytes`` memcpy: the generated setters store an
array.array as is, whereas ``bytes`` or a list is checked element by element in Python (tens
of ms for a 640x480 cloud).
"""

from __future__ import annotations

import array
import sys
from typing import Optional

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from disdepth_core.geometry import as_intrinsics, depth_to_millimetres
from disdepth_core.image_decoding import (  # noqa: F401  (re-exported: the node and tools decode through here)
    ENCODINGS,
    BadMessageError,
    compressed_to_rgb,
    image_to_depth,
    image_to_rgb,
    image_view,
)
from disdepth_core.pipeline import pack_rgb  # noqa: F401  (re-exported)

_NATIVE_BIG = sys.byteorder == "big"


def to_byte_array(arr: np.ndarray) -> array.array:
    """One memcpy of ``arr``'s bytes into the ``array.array('B')`` rclpy's setters take as is."""
    out = array.array("B")
    out.frombytes(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
    return out


def set_byte_data(msg, data: array.array) -> None:
    """``msg.data = data`` without a second full-size copy.

    Generated rclpy setters store an ``array.array('B')`` as is only when field checks are on
    (Humble always; newer distros only with ``ROS_PYTHON_CHECK_FIELDS=1``); otherwise they run
    ``array.array('B', value)``, copying megabytes per depth image or cloud. Every generated
    message keeps the field in the ``_data`` slot that the getter and rclpy's C conversion read,
    so the buffer is put there directly.
    """
    if not isinstance(data, array.array) or data.typecode != "B":
        raise TypeError("set_byte_data needs an array.array('B')")
    try:
        object.__setattr__(msg, "_data", data)
    except AttributeError:  # a message class without the slot: the setter (may copy) is still correct
        msg.data = data


def byte_storage(arr: np.ndarray) -> Optional[array.array]:
    """The ``array.array('B')`` that ``arr`` covers exactly (C-contiguous, from its first byte), else None.

    Such an array (``disdepth_core.pipeline.byte_backed_float32``) can become a message's
    ``data`` as is: rclpy copies it once when publishing, so no extra full-size copy is made.
    """
    base = arr
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    if (isinstance(base, array.array) and base.typecode == "B" and arr.flags.c_contiguous
            and len(base) == arr.nbytes and base.buffer_info()[0] == arr.ctypes.data):
        return base
    return None


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
    set_byte_data(msg, to_byte_array(pixels))
    return msg


def depth_to_image(depth: np.ndarray, header, encoding: str = "32FC1") -> Image:
    """Depth in metres (NaN invalid) -> ``32FC1`` metres or ``16UC1`` millimetres (0 invalid)."""
    if encoding == "32FC1":
        return array_to_image(depth.astype(np.float32, copy=False), "32FC1", header)
    if encoding != "16UC1":
        raise ValueError(f"depth encoding must be 32FC1 or 16UC1, got {encoding!r}")
    return array_to_image(depth_to_millimetres(depth), "16UC1", header)


def point_fields(rgb: bool, step_floats: Optional[int] = None) -> list[PointField]:
    """x, y, z FLOAT32 (+ rgb packed in a FLOAT32 right after z, or at offset 16 in padded layouts)."""
    fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    if rgb:
        offset = 16 if (step_floats or 4) >= 8 else 12
        fields.append(PointField(name="rgb", offset=offset, datatype=PointField.FLOAT32, count=1))
    return fields


def points_to_cloud(packed: np.ndarray, header, rgb: bool) -> PointCloud2:
    """Organized PointCloud2 from a packed float32 ``[H,W,3]`` (xyz) or ``[H,W,4]`` (xyz + rgb) array.

    The padded depth_image_proc layouts ``[H,W,4]`` xyz-pad / ``[H,W,8]`` xyz-pad-rgb-pad are
    accepted too (``rgb`` tells a 4-float point apart). A byte-backed array (see
    :func:`byte_storage`) becomes the message data without a copy.
    """
    height, width, floats = packed.shape
    msg = PointCloud2()
    msg.header = header
    msg.height, msg.width = int(height), int(width)
    msg.fields = point_fields(rgb, floats)
    msg.is_bigendian = _NATIVE_BIG
    msg.point_step = 4 * int(floats)
    msg.row_step = msg.point_step * int(width)
    msg.is_dense = False
    storage = byte_storage(packed)
    set_byte_data(msg, storage if storage is not None else to_byte_array(packed))
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
