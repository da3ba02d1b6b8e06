"""Write RGB-D frames as a camera driver records them: colour, registered depth, camera_info.

Turns any RGB-D frames (an image-sequence recording, synthetic frames, test fixtures) into a
rosbag2 laid out like a RealSense recording with ``align_depth.enable:=true``: colour as
``rgb8`` Image and/or JPEG CompressedImage, ``16UC1`` millimetre (or ``32FC1`` metre) depth
registered to colour, and both camera_info topics, at ``rate_hz`` in frame order. Depth
carries its own stamp a little after the colour frame's (``depth_delay_s``), as unsynchronised
drivers stamp it, so readers must pair by ``--max-dt`` like they would on a real recording.
``unregistered=True`` also writes the raw depth stream with the depth camera's own intrinsics,
which is what a user who forgot to align records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from disdepth_core.rgbd_recording import RgbdFrame

from .reader import CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE
from .writer import BagWriter

JPEG_QUALITY = 90


@dataclass(frozen=True)
class RgbdTopics:
    """Topic names (realsense-ros 4.x defaults)."""

    color: str = "/camera/camera/color/image_raw"
    color_info: str = "/camera/camera/color/camera_info"
    depth: str = "/camera/camera/aligned_depth_to_color/image_raw"
    depth_info: str = "/camera/camera/aligned_depth_to_color/camera_info"
    raw_depth: str = "/camera/camera/depth/image_rect_raw"
    raw_depth_info: str = "/camera/camera/depth/camera_info"

    @property
    def compressed(self) -> str:
        return self.color + "/compressed"


def write_rgbd_bag(frames: Iterable[RgbdFrame], out: str | Path, storage: str = "sqlite3", colour: str = "both",
                   depth_encoding: str = "16UC1", rate_hz: float = 30.0, depth_delay_s: float = 0.004,
                   unregistered: bool = False, topics: RgbdTopics = RgbdTopics(), start_ns: int = 1_700_000_000 * 10**9) -> Path:
    """Write ``frames`` (stamped ``start_ns + i / rate_hz`` in order) and return the bag path.

    ``colour``: ``"raw"`` (rgb8 Image), ``"jpeg"`` (CompressedImage) or ``"both"``.
    """
    if colour not in ("raw", "jpeg", "both"):
        raise ValueError(f"colour must be raw, jpeg or both, got {colour!r}")
    if depth_encoding not in ("16UC1", "32FC1"):
        raise ValueError(f"depth encoding must be 16UC1 or 32FC1, got {depth_encoding!r}")
    if rate_hz <= 0:
        raise ValueError(f"rate must be > 0 Hz, got {rate_hz}")
    period = int(round(1e9 / rate_hz))
    with BagWriter(out, storage) as writer:
        factory = writer.factory
        for i, frame in enumerate(frames):
            stamp = start_ns + i * period
            depth_stamp = stamp + int(round(depth_delay_s * 1e9))
            header = factory.header(stamp, "camera_color_optical_frame")
            depth_header = factory.header(depth_stamp, "camera_color_optical_frame")  # aligned: the colour frame
            size = frame.rgb.shape[:2]
            writer.add(topics.color_info, CAMERA_INFO_TYPE, factory.camera_info(frame.K, size, header), stamp)
            if colour in ("raw", "both"):
                writer.add(topics.color, IMAGE_TYPE, factory.image(frame.rgb, "rgb8", header), stamp)
            if colour in ("jpeg", "both"):
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                writer.add(topics.compressed, COMPRESSED_TYPE, factory.compressed(jpeg.tobytes(), "rgb8; jpeg compressed bgr8", header), stamp)
            depth = np.where(frame.depth > 0, frame.depth, np.nan).astype(np.float32)
            writer.add(topics.depth_info, CAMERA_INFO_TYPE, factory.camera_info(frame.K, size, depth_header), depth_stamp)
            writer.add(topics.depth, IMAGE_TYPE, factory.depth_image(depth, depth_header, depth_encoding), depth_stamp)
            if unregistered:
                _write_raw_depth(writer, frame, depth, depth_stamp, depth_encoding, topics)
    return Path(out)


def _write_raw_depth(writer: BagWriter, frame: RgbdFrame, depth: np.ndarray, stamp: int, encoding: str, topics: RgbdTopics) -> None:
    """The depth camera's own stream: a wider lens (0.8x the colour focal), its own frame id."""
    factory = writer.factory
    header = factory.header(stamp, "camera_depth_optical_frame")
    K = np.array(frame.K, dtype=np.float64)
    K[0, 0] *= 0.8
    K[1, 1] *= 0.8
    writer.add(topics.raw_depth_info, CAMERA_INFO_TYPE, factory.camera_info(K, depth.shape, header), stamp)
    writer.add(topics.raw_depth, IMAGE_TYPE, factory.depth_image(depth, header, encoding), stamp)
