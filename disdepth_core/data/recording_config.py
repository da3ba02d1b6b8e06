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

import math
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class RecordingConfig:
    """Recordings of a ``bag`` dataset and how to read and augment them (see the module docstring)."""

    sources: list[str] = field(default_factory=list)
    image_topic: str = ""
    depth_topic: str = ""
    camera_info_topic: str = ""  # "" = the camera_info beside the image topic
    max_dt: float = 0.02  # seconds between a colour frame and the depth paired with it
    intrinsics: list[float] = field(default_factory=list)  # [fx, fy, cx, cy] at the colour size: overrides camera_info
    depth_scale: float = 0.0  # image folders: depth units per metre (0 = 1000; TUM folders 5000)
    val_fraction: float = 0.2  # last part of each recording held out (contiguous in time)
    max_frames: int = 3000  # keep every k-th frame of longer recordings (near-duplicates at 30 Hz)
    cache_height: int = 0  # 0 = twice the view (zoom up to 2 without upsampling), at most the recording's size
    cache_width: int = 0
    zoom_min: float = 1.0  # focal-consistent scale augmentation (image zoomed by s, depth / s)
    zoom_max: float = 1.0
    samples_per_epoch: int = 0  # 0 = one pass over the training frames
    synthetic_mix: float = 0.0  # share of training samples drawn from synthetic scenes (rendered at this camera's focal)
    synthetic_frames: int = 256  # size of the rendered synthetic pool

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError("recording.sources must list at least one rosbag2 or RGB-D image folder")
        checks = [("max_dt", self.max_dt >= 0), ("depth_scale", self.depth_scale >= 0),
                  ("val_fraction", 0 <= self.val_fraction < 1), ("max_frames", self.max_frames >= 0),
                  ("cache_height", self.cache_height >= 0), ("cache_width", self.cache_width >= 0),
                  ("zoom_min", 0 < self.zoom_min <= self.zoom_max), ("zoom_max", self.zoom_max <= 4),
                  ("samples_per_epoch", self.samples_per_epoch >= 0), ("synthetic_mix", 0 <= self.synthetic_mix < 1),
                  ("synthetic_frames", self.synthetic_frames >= 1)]
        for name, ok in checks:
            value = getattr(self, name)
            if not ok or (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(f"recording.{name} is out of range: {value!r} (see disdepth_core/data/recording_config.py)")
        if self.intrinsics and len(self.intrinsics) != 4:
            raise ValueError(f"recording.intrinsics must be [fx, fy, cx, cy], got {self.intrinsics!r}")
        if (self.cache_height == 0) != (self.cache_width == 0):
            raise ValueError("recording.cache_height and cache_width must both be set or both be 0")

    def intrinsics_tuple(self) -> Optional[tuple[float, float, float, float]]:
        return tuple(float(v) for v in self.intrinsics) if self.intrinsics else None  # type: ignore[return-value]
