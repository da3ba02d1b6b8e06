"""Open an RGB-D recording by what it is: a rosbag2 (sqlite3 or MCAP) or a folder of images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from disdepth_core.rgbd_recording import Recording, RecordingError

BAG_SUFFIXES = (".db3", ".mcap")


@dataclass(frozen=True)
class RecordingOptions:
    """How to read a recording: the bag topics (ignored for image folders) and optional overrides."""

    image_topic: str = ""
    depth_topic: str = ""
    camera_info_topic: str = ""  # "" = the camera_info beside the image topic
    max_dt: float = 0.02  # seconds between a colour frame and its depth
    intrinsics: Optional[tuple[float, float, float, float]] = None  # fx, fy, cx, cy at the colour size
    depth_scale: Optional[float] = None  # image folders: depth units per metre (None: 1000, TUM 5000)


def is_rosbag(path: Path) -> bool:
    """A rosbag2 folder (metadata.yaml, or .db3/.mcap storage files) or one storage file."""
    if path.is_file():
        return path.suffix in BAG_SUFFIXES
    return path.is_dir() and ((path / "metadata.yaml").is_file() or any(p.suffix in BAG_SUFFIXES for p in path.iterdir()))


def open_recording(path: str | Path, options: RecordingOptions) -> Recording:
    """The reader for ``path``; RecordingError / BagError (one line) when it cannot be used."""
    from .image_sequence import ImageSequenceRecording, is_image_sequence

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording not found: {path}")
    if is_rosbag(path):
        from disdepth_core.bags.rgbd_frames import BagRecording

        return BagRecording(path, options.image_topic, options.depth_topic, options.camera_info_topic or None,
                            options.max_dt, options.intrinsics)
    if is_image_sequence(path):
        return ImageSequenceRecording(path, options.intrinsics, options.depth_scale, options.max_dt)
    raise RecordingError(f"{path} is neither a rosbag2 (metadata.yaml, .db3 or .mcap) nor a folder of colour + depth images")
