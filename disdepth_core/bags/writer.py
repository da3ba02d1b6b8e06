"""Write rosbag2 files that ROS 2 Humble and newer can read (sqlite3 or MCAP), with rosbags.

Metadata version 8 is the oldest ``rosbags`` writes and the newest Humble's rosbag2 parses: Humble
reads ``offered_qos_profiles`` as a YAML string (v8 keeps it a string; v9 makes it a list, which
Humble rejects) and ignores v8's extra keys (``type_description_hash``, ``ros_distro``). Jazzy
and later read v8 too. Messages are serialised with the Humble definitions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from disdepth_core.message_layout import (CameraInfoLayout, CloudLayout, ImageLayout, camera_info_layout, depth_image_layout,
                                          image_layout)

from .reader import CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE, POINTCLOUD_TYPE, BagError, humble_typestore

METADATA_VERSION = 8
STORAGES = ("sqlite3", "mcap")


class BagWriter:
    """``add(topic, msgtype, msg, time_ns)`` / ``add_raw``; topics are registered on first use."""

    def __init__(self, path: str | Path, storage: str = "sqlite3") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ValueError(f"bag storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"output bag {self.path} already exists; choose a new path or delete it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.typestore = humble_typestore()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=METADATA_VERSION, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[tuple[str, str], Any] = {}
        self.factory = MessageFactory(self.typestore)

    def connection(self, topic: str, msgtype: str, msgdef: Optional[str] = None, digest: Optional[str] = None) -> Any:
        key = (topic, msgtype)
        if key not in self._connections:
            if msgdef and digest:
                self._connections[key] = self._writer.add_connection(topic, msgtype, msgdef=msgdef, rihs01=digest)
            else:
                self._connections[key] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
        return self._connections[key]

    def add(self, topic: str, msgtype: str, msg: Any, time_ns: int) -> None:
        self._writer.write(self.connection(topic, msgtype), int(time_ns), self.typestore.serialize_cdr(msg, msgtype))

    def add_raw(self, topic: str, msgtype: str, raw: bytes, time_ns: int, msgdef: Optional[str] = None,
                digest: Optional[str] = None) -> None:
        self._writer.write(self.connection(topic, msgtype, msgdef, digest), int(time_ns), raw)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "BagWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MessageFactory:
    """rosbags message objects of the sensor_msgs types the tools write (Humble definitions).

    The node's outputs are filled from :mod:`disdepth_core.message_layout`, the same layouts the
    node fills its rclpy messages from, so a written bag holds the bytes the node publishes.
    """

    def __init__(self, typestore=None) -> None:
        self.typestore = typestore or humble_typestore()
        types = self.typestore.types
        self._Header, self._Time = types["std_msgs/msg/Header"], types["builtin_interfaces/msg/Time"]
        self._Image, self._Compressed = types[IMAGE_TYPE], types[COMPRESSED_TYPE]
        self._Info, self._Cloud = types[CAMERA_INFO_TYPE], types[POINTCLOUD_TYPE]
        self._Field = types["sensor_msgs/msg/PointField"]
        self._ROI = types["sensor_msgs/msg/RegionOfInterest"]

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        return self._Header(stamp=self._Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000)),
                            frame_id=frame_id)

    def image_message(self, layout: ImageLayout, header: Any) -> Any:
        return self._Image(header=header, height=layout.height, width=layout.width, encoding=layout.encoding,
                           is_bigendian=int(layout.is_bigendian), step=layout.step, data=layout.pixels.reshape(-1).view(np.uint8))

    def cloud_message(self, layout: CloudLayout, header: Any) -> Any:
        fields = [self._Field(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in layout.fields]
        data = np.ascontiguousarray(layout.points).reshape(-1).view(np.uint8)
        return self._Cloud(header=header, height=layout.height, width=layout.width, fields=fields, is_bigendian=layout.is_bigendian,
                           point_step=layout.point_step, row_step=layout.row_step, data=data, is_dense=layout.is_dense)

    def camera_info_message(self, layout: CameraInfoLayout, header: Any) -> Any:
        return self._Info(header=header, height=layout.height, width=layout.width, distortion_model=layout.distortion_model,
                          d=np.array(layout.d, dtype=np.float64), k=np.array(layout.k, dtype=np.float64),
                          r=np.array(layout.r, dtype=np.float64), p=np.array(layout.p, dtype=np.float64), binning_x=0, binning_y=0,
                          roi=self._ROI(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    def image(self, pixels: np.ndarray, encoding: str, header: Any) -> Any:
        return self.image_message(image_layout(pixels, encoding), header)

    def depth_image(self, depth_m: np.ndarray, header: Any, encoding: str = "32FC1") -> Any:
        """32FC1 metres (NaN invalid) or 16UC1 millimetres (0 invalid), as the node publishes."""
        return self.image_message(depth_image_layout(depth_m, encoding), header)

    def compressed(self, data: bytes | np.ndarray, fmt: str, header: Any) -> Any:
        return self._Compressed(header=header, format=fmt, data=np.frombuffer(bytes(data), dtype=np.uint8))

    def camera_info(self, K: np.ndarray, size_hw: tuple[int, int], header: Any) -> Any:
        """A pinhole camera_info for frames that come with K only (synthetic and converted recordings)."""
        return self.camera_info_message(camera_info_layout(K, size_hw), header)
