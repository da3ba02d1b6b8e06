"""The ``recording:`` section of a ``bag`` dataset: which recordings, how to read, split and augment them.

A ``bag`` dataset config names the cache folder as its ``data_root`` and the recordings here::

    data:
      name: bag
      data_root: runs/my_robot/cache          # decoded frames at training resolution (built on first use)
      train_height: 96                        # the network input during training (a crop of the view)
      train_width: 128
      eval_height: 120                        # the deployed model input: the view at zoom 1
      eval_width: 160
      recording:
        sources: [recordings/office_run1, recordings/office_run2]   # rosbag2 (sqlite3/MCAP) or image folders
        image_topic: /camera/camera/color/image_raw/compressed
        depth_topic: /camera/camera/aligned_depth_to_color/image_raw
        zoom_min: 0.8                         # focal-consistent scale augmentation
        zoom_max: 2.0

Everything here is plain data checked at load time, so ``training.train`` (distillation included)
reads bags like any other dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from disdepth_core.value_ranges import ranged


@dataclass
class RecordingConfig:
    """Recordings of a ``bag`` dataset and how to read and augment them (see the module docstring)."""

    sources: list[str] = field(default_factory=list)
    image_topic: str = ""
    depth_topic: str = ""
    camera_info_topic: str = ""  # "" = the camera_info beside the image topic
    max_dt: float = ranged(0.02, ge=0)  # seconds between a colour frame and the depth paired with it
    intrinsics: tuple[float, ...] = ranged((), gt=0)  # (fx, fy, cx, cy) at the colour size: overrides camera_info
    depth_scale: float = ranged(0.0, ge=0)  # image folders: depth units per metre (0 = 1000; TUM folders 5000)
    val_fraction: float = ranged(0.2, ge=0, lt=1)  # last part of each recording held out (contiguous in time)
    max_frames: int = ranged(3000, ge=0)  # keep every k-th frame of longer recordings (near-duplicates at 30 Hz)
    cache_height: int = ranged(0, ge=0)  # 0 = twice the view (zoom up to 2 without upsampling), at most the recording's size
    cache_width: int = ranged(0, ge=0)
    zoom_min: float = ranged(1.0, gt=0, le=4)  # focal-consistent scale augmentation (image zoomed by s, depth / s)
    zoom_max: float = ranged(1.0, gt=0, le=4)
    samples_per_epoch: int = ranged(0, ge=0)  # 0 = one pass over the training frames
    synthetic_mix: float = ranged(0.0, ge=0, lt=1)  # share of training samples drawn from synthetic scenes (at this camera's focal)
    synthetic_frames: int = ranged(256, ge=1)  # size of the rendered synthetic pool

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("recording.sources must list at least one rosbag2 or RGB-D image folder")
        # Each field's own range is declared above and checked by the config parser; this is what
        # only the section as a whole can tell.
        if self.zoom_min > self.zoom_max:
            raise ValueError(f"recording.zoom_min ({self.zoom_min:g}) must not exceed zoom_max ({self.zoom_max:g})")
        if self.intrinsics and len(self.intrinsics) != 4:
            raise ValueError(f"recording.intrinsics must be [fx, fy, cx, cy], got {self.intrinsics!r}")
        if (self.cache_height == 0) != (self.cache_width == 0):
            raise ValueError("recording.cache_height and cache_width must both be set or both be 0")

    def intrinsics_tuple(self) -> Optional[tuple[float, float, float, float]]:
        return tuple(float(v) for v in self.intrinsics) if self.intrinsics else None  # type: ignore[return-value]
