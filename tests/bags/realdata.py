"""A rosbag2 of the real RGB-D frames in ``shared/realdata`` (kept outside the repository).

Three registered indoor frames from three sensors: TUM RGB-D (Kinect v1, PNG colour, depth
/5000), SUN3D (Xtion, JPEG colour, bit-rotated millimetres) and a Kinect v2 frame (millimetres,
shrunk 3x to keep the test fast). Colour goes in as JPEG ``CompressedImage`` and depth as
``16UC1`` millimetres, the usual layout of real RGB-D driver recordings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
IMAGE_TOPIC, DEPTH_TOPIC, INFO_TOPIC = "/camera/color/image_raw/compressed", "/camera/depth/image_raw", "/camera/color/camera_info"


def find_realdata() -> Optional[Path]:
    """``$DISDEPTH_REALDATA``, else the first ``shared/realdata`` beside the repository or above it."""
    if os.environ.get("DISDEPTH_REALDATA"):
        path = Path(os.environ["DISDEPTH_REALDATA"])
        return path if path.is_dir() else None
    for parent in REPO.parents:
        candidate = parent / "shared" / "realdata"
        if candidate.is_dir():
            return candidate
    return None


def _read(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return image


def real_frames(root: Path) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, BGR uint8, depth metres float32 (NaN invalid), K) per frame."""
    frames = []
    tum_depth = _read(root / "tum_rgbd_open3d" / "TUM_depth.png", cv2.IMREAD_UNCHANGED).astype(np.float32) / 5000.0
    frames.append(("tum", _read(root / "tum_rgbd_open3d" / "TUM_color.png", cv2.IMREAD_COLOR), tum_depth,
                   np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])))
    raw = _read(root / "sun3d_open3d" / "SUN_depth.png", cv2.IMREAD_UNCHANGED).astype(np.uint32)
    sun_depth = (((raw >> 3) | (raw << 13)) & 0xFFFF).astype(np.float32) / 1000.0
    frames.append(("sun3d", _read(root / "sun3d_open3d" / "SUN_color.jpg", cv2.IMREAD_COLOR), sun_depth,
                   np.array([[570.3, 0, 320.0], [0, 570.3, 240.0], [0, 0, 1]])))
    kinect_bgr = _read(root / "kinectv2_emsanet" / "sample_rgb.png", cv2.IMREAD_COLOR)
    kinect_mm = _read(root / "kinectv2_emsanet" / "sample_depth.png", cv2.IMREAD_UNCHANGED)
    size = (kinect_bgr.shape[1] // 3, kinect_bgr.shape[0] // 3)
    kinect_bgr = cv2.resize(kinect_bgr, size, interpolation=cv2.INTER_AREA)
    kinect_depth = cv2.resize(kinect_mm, size, interpolation=cv2.INTER_NEAREST).astype(np.float32) / 1000.0
    focal = 1081.37 / 3  # typical Kinect v2 colour focal; the sample looks like a 4:3 crop (focal kept); not published
    frames.append(("kinect_v2", kinect_bgr, kinect_depth,
                   np.array([[focal, 0, size[0] / 2], [0, focal, size[1] / 2], [0, 0, 1]])))
    for _, _, depth, _ in frames:
        depth[depth <= 0] = np.nan
    return frames


def write_realdata_bag(root: Path, out: Path, storage: str = "sqlite3") -> Path:
    from disdepth_core.bags.writer import BagWriter, MessageFactory

    factory = MessageFactory()
    with BagWriter(out, storage) as writer:
        for i, (name, bgr, depth, K) in enumerate(real_frames(root)):
            stamp = 1_600_000_000 * 10**9 + i * 10**9
            header = factory.header(stamp, f"{name}_color_optical_frame")
            ok, jpeg = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), 90])
            assert ok
            writer.add(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", factory.camera_info(K, bgr.shape[:2], header), stamp)
            writer.add(IMAGE_TOPIC, "sensor_msgs/msg/CompressedImage", factory.compressed(jpeg.tobytes(), "jpeg", header), stamp)
            writer.add(DEPTH_TOPIC, "sensor_msgs/msg/Image", factory.depth_image(depth, header, "16UC1"), stamp)
    return out
