"""sensor_msgs messages from the node's output layouts, without cv_bridge: one memcpy out.

What the fields and bytes are is decided ROS-free in :mod:`disdepth_core.message_layout` (so
``bag-eval --write-bag`` writes exactly what the node publishes); this module only fills rclpy's
classes. Decoding incoming messages lives in :mod:`disdepth_core.image_decoding`. Outgoing data is
handed to rclpy as an ``array.array('B')`` filled with one ``frombytes`` memcpy: the generated
setters store an array.array as is, whereas ``bytes`` or a list is checked element by element in
Python (tens of ms for a 640x480 cloud).
"""

from __future__ import annotations

import array
from typing import Optional

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from disdepth_core.message_layout import (CameraInfoLayout, CloudLayout, ImageLayout, cloud_layout, depth_camera_info_layout,
                                          depth_image_layout, image_layout)

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


def image_message(layout: ImageLayout, header=None) -> Image:
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width, msg.encoding = layout.height, layout.width, layout.encoding
    msg.is_bigendian, msg.step = layout.is_bigendian, layout.step
    set_byte_data(msg, to_byte_array(layout.pixels))
    return msg


def cloud_message(layout: CloudLayout, header) -> PointCloud2:
    """A byte-backed ``layout.points`` (see :func:`byte_storage`) becomes the message data without a copy."""
    msg = PointCloud2()
    msg.header = header
    msg.height, msg.width = layout.height, layout.width
    msg.fields = [PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in layout.fields]
    msg.is_bigendian, msg.is_dense = layout.is_bigendian, layout.is_dense
    msg.point_step, msg.row_step = layout.point_step, layout.row_step
    storage = byte_storage(layout.points)
    set_byte_data(msg, storage if storage is not None else to_byte_array(layout.points))
    return msg


def camera_info_message(layout: CameraInfoLayout, header) -> CameraInfo:
    out = CameraInfo()
    out.header = header
    out.height, out.width = layout.height, layout.width
    out.distortion_model = layout.distortion_model
    out.d, out.k, out.r, out.p = list(layout.d), list(layout.k), list(layout.r), list(layout.p)
    return out


def array_to_image(pixels: np.ndarray, encoding: str, header=None) -> Image:
    """An Image from a ``[H,W]``/``[H,W,C]`` array already in ``encoding``'s layout."""
    return image_message(image_layout(pixels, encoding), header)


def depth_to_image(depth: np.ndarray, header, encoding: str = "32FC1") -> Image:
    """Depth in metres (NaN invalid) -> ``32FC1`` metres or ``16UC1`` millimetres (0 invalid)."""
    return image_message(depth_image_layout(depth, encoding), header)


def points_to_cloud(packed: np.ndarray, header, rgb: bool) -> PointCloud2:
    """Organized PointCloud2 from the pipeline's packed points (see :func:`~disdepth_core.message_layout.cloud_layout`)."""
    return cloud_message(cloud_layout(packed, rgb), header)


def camera_info_for(info: CameraInfo, K_out: np.ndarray, size_hw: tuple[int, int], header) -> CameraInfo:
    """camera_info of the depth image (see :func:`~disdepth_core.message_layout.depth_camera_info_layout`)."""
    return camera_info_message(depth_camera_info_layout(info, K_out, size_hw), header)
