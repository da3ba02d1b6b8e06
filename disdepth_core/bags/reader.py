"""Open a rosbag2 (sqlite3 or MCAP) with one-line errors, and read header stamps without deserialising.

Every error a user can cause (no such path, not a bag, truncated or corrupt storage, missing
topic, wrong message type) is a :class:`BagError` (a ``ValueError``) whose message names the
bag and, for topics, lists what the bag does contain.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from ..errors_text import one_line

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
POINTCLOUD_TYPE = "sensor_msgs/msg/PointCloud2"
COLOR_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)


class BagError(ValueError):
    """A bag that cannot be used as asked (missing, corrupt, wrong topic or type)."""


def humble_typestore():
    """The ROS 2 Humble message definitions (used when a bag carries none, and for writing)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


def header_stamp_ns(raw: bytes | memoryview) -> int:
    """``header.stamp`` (ns) of a CDR message that starts with a ``std_msgs/Header`` (no deserialising).

    CDR: 4-byte encapsulation header (byte 1: 0 big-endian, 1 little-endian), then the
    Header's ``stamp.sec`` (int32) and ``stamp.nanosec`` (uint32).
    """
    if len(raw) < 12:
        raise BagError(f"message of {len(raw)} bytes is too short to hold a header")
    order = "<" if raw[1] & 1 else ">"
    sec, nanosec = struct.unpack_from(order + "iI", raw, 4)
    return sec * 1_000_000_000 + nanosec


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    raw: Any  # CDR bytes
    connection: Any


class BagReader:
    """A read-only rosbag2; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"bag not found: {self.path}")
        from rosbags.highlevel import AnyReader

        try:
            self._reader = AnyReader([self.path], default_typestore=humble_typestore())
            self._reader.open()
        except FileNotFoundError as err:
            raise FileNotFoundError(f"bag {self.path} is incomplete: {err}") from None
        except Exception as err:  # noqa: BLE001 - rosbags/sqlite3/mcap raise many types for one user error
            raise BagError(f"cannot read bag {self.path}: {one_line(err, limit=300)} (not a rosbag2, or truncated/corrupt)") from None
        self.topics: dict[str, str] = {name: info.msgtype for name, info in self._reader.topics.items() if info.msgtype}
        self.counts: dict[str, int] = {name: int(info.msgcount) for name, info in self._reader.topics.items()}

    @property
    def storage(self) -> str:
        """'sqlite3' or 'mcap' (from the storage files present)."""
        files = [self.path] if self.path.is_file() else list(self.path.iterdir())
        return "mcap" if any(f.suffix == ".mcap" for f in files) else "sqlite3"

    @property
    def connections(self) -> list:
        return list(self._reader.connections)

    def describe_topics(self) -> str:
        return ", ".join(f"{name} ({msgtype.split('/')[-1]}, {self.counts.get(name, 0)})" for name, msgtype in sorted(self.topics.items()))

    def require_topic(self, topic: str, allowed: Iterable[str], role: str) -> str:
        """The topic's message type; BagError (listing the bag's topics) if absent or of another type."""
        allowed = tuple(allowed)
        if topic not in self.topics:
            raise BagError(f"{role} topic {topic!r} is not in bag {self.path}; its topics: {self.describe_topics() or 'none'}")
        msgtype = self.topics[topic]
        if msgtype not in allowed:
            raise BagError(f"{role} topic {topic!r} has message type {msgtype}, expected "
                           f"{' or '.join(allowed)} (unknown message type for this role)")
        return msgtype

    def messages(self, topics: Optional[Iterable[str]] = None) -> Iterator[BagMessage]:
        """Raw messages of ``topics`` (all if None) in recording order; corrupt storage -> BagError."""
        wanted = set(topics) if topics is not None else None
        connections = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        if not connections:
            return
        iterator = self._reader.messages(connections=connections)
        while True:
            try:
                connection, log_time, raw = next(iterator)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - storage errors mid-file: truncated or corrupt
                raise BagError(f"bag {self.path} is truncated or corrupt: {one_line(err, limit=300)}") from None
            yield BagMessage(connection.topic, connection.msgtype, int(log_time), raw, connection)

    def deserialize(self, message: BagMessage) -> Any:
        try:
            return self._reader.deserialize(message.raw, message.msgtype)
        except Exception as err:  # noqa: BLE001
            raise BagError(f"cannot deserialise a {message.msgtype} on {message.topic}: {one_line(err, limit=300)}") from None

    def close(self) -> None:
        try:
            self._reader.close()
        except Exception:  # noqa: BLE001 - closing a half-open reader
            pass

    def __enter__(self) -> "BagReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
