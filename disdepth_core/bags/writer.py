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
    """rosbags message objects of the sensor_msgs types the tools write (Humble definitions)."""

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

    def image(self, pixels: np.ndarray, encoding: str, header: Any) -> Any:
        pixels = np.ascontiguousarray(pixels)
        return self._Image(header=header, height=int(pixels.shape[0]), width=int(pixels.shape[1]), encoding=encoding,
                           is_bigendian=0, step=int(pixels.strides[0]), data=pixels.reshape(-1).view(np.uint8))

    def depth_image(self, depth_m: np.ndarray, header: Any, encoding: str = "32FC1") -> Any:
        """32FC1 metres (NaN invalid) or 16UC1 millimetres (0 invalid), as the node publishes."""
        if encoding == "32FC1":
            return self.image(depth_m.astype("<f4"), "32FC1", header)
        from disdepth_core.geometry import depth_to_millimetres

        return self.image(depth_to_millimetres(depth_m).astype("<u2", copy=False), "16UC1", header)

    def compressed(self, data: bytes | np.ndarray, fmt: str, header: Any) -> Any:
        return self._Compressed(header=header, format=fmt, data=np.frombuffer(bytes(data), dtype=np.uint8))

    def camera_info(self, K: np.ndarray, size_hw: tuple[int, int], header: Any) -> Any:
        K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        P = np.hstack([K, np.zeros((3, 1))])
        return self._Info(header=header, height=int(size_hw[0]), width=int(size_hw[1]), distortion_model="plumb_bob",
                          d=np.zeros(5), k=K.reshape(-1), r=np.eye(3).reshape(-1), p=P.reshape(-1), binning_x=0, binning_y=0,
                          roi=self._ROI(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))

    def cloud(self, xyz: np.ndarray, header: Any) -> Any:
        """Organized x/y/z FLOAT32 cloud (depth_image_proc layout, NaN invalid, padded to 16 bytes)."""
        height, width = xyz.shape[:2]
        packed = np.zeros((height, width, 4), dtype="<f4")
        packed[..., :3] = xyz
        fields = [self._Field(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("xyz")]  # 7 = FLOAT32
        return self._Cloud(header=header, height=int(height), width=int(width), fields=fields, is_bigendian=False,
                           point_step=16, row_step=16 * int(width), data=packed.reshape(-1).view(np.uint8), is_dense=False)
