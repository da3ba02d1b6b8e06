"""Dataset configuration: one dataclass that says where the data is and how to read it.

The trainer, the evaluator and the demo configs all describe datasets with
:class:`DatasetConfig`, so per-dataset conventions (depth scale, max depth, crops, augmentation
strength) live in one table, :data:`DATASET_DEFAULTS`, instead of being repeated in YAML files.

Path conventions:

* ``train_split`` / ``test_split`` are paths to split files; relative paths are resolved
  against the **current working directory** (not against ``data_root``), like any other
  command-line path.
* Paths *inside* a split file are relative to ``data_root`` (images) and ``gt_root`` (depth);
  ``gt_root`` defaults to ``data_root``. For evaluation, ``test_data_root`` / ``test_gt_root``
  default to the training roots (NYU keeps its test images in a different folder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from disdepth_core.config_parsing import dataclass_to_dict
from disdepth_core.value_ranges import ranged

from .recording_config import RecordingConfig

# Per-dataset defaults (the BTS / AdaBins / NeWCRFs conventions the paper's numbers use).
# Folder datasets default to millimetre PNGs (depth_scale 1000) and an indoor range.
# A train size of 0 for "folder" means "no random crop" (images are used at full size).
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "kitti": {"max_depth": 80.0, "depth_scale": 256.0, "eval_crop": "garg", "rotate_degree": 1.0,
              "train_height": 352, "train_width": 704},
    "nyu": {"max_depth": 10.0, "depth_scale": 1000.0, "eval_crop": "nyu", "rotate_degree": 2.5,
            "train_height": 416, "train_width": 544},
    "folder": {"max_depth": 10.0, "depth_scale": 1000.0, "eval_crop": None, "rotate_degree": 1.0,
               "train_height": 0, "train_width": 0},
    # RGB-D recordings (rosbag2 or image folders), read through a frame cache: data_root is the
    # cache folder, ``recording`` names the recordings (disdepth_core/data/bag_dataset.py).
    "bag": {"max_depth": 10.0, "depth_scale": 1000.0, "eval_crop": None, "rotate_degree": 0.0,
            "train_height": 0, "train_width": 0},
}

# Evaluation crops understood by the metrics code; None = evaluate every valid pixel.
EVAL_CROPS: tuple[str | None, ...] = ("garg", "eigen", "nyu", None)

_AUTO = "auto"


def scaled_size(size: int, scale: float) -> int:
    """Round ``size * scale`` half-up (never below 1).

    One rounding rule for every resized dimension (image, KB crop, border crop, default train
    crop) keeps the geometry consistent; Python's ``round`` rounds half to even.
    """
    return max(1, int(math.floor(size * scale + 0.5)))


@dataclass
class DatasetConfig:
    """Where a depth dataset lives and how to read and augment it.

    Fields left at ``None`` / ``"auto"`` / ``0`` take the per-dataset value from
    :data:`DATASET_DEFAULTS` in ``__post_init__`` (after which they are concrete), so a config
    records the values that were actually used. ``train_height``/``train_width`` of 0 take the
    dataset default scaled by ``resize_scale``. ``eval_height``/``eval_width`` stay 0 meaning
    the dataset default (KITTI: KB crop 352x1216 scaled by ``resize_scale``; NYU and folder:
    the full image); when set, KITTI uses them as the KB-crop size and other datasets take a
    centred crop of that size.

    ``resize_scale`` resizes image (area / linear) and depth (nearest, so no invalid pixel is
    blended into a valid one) before any crop, and scales the focal length by the same factor.
    """

    name: str
    data_root: str
    gt_root: str = ""
    train_split: str = ""
    test_split: str = ""
    test_data_root: str = ""
    test_gt_root: str = ""
    train_height: int = ranged(0, ge=0)
    train_width: int = ranged(0, ge=0)
    eval_height: int = ranged(0, ge=0)
    eval_width: int = ranged(0, ge=0)
    min_depth: float = ranged(1e-3, gt=0)
    max_depth: float | None = ranged(None, gt=0)
    depth_scale: float | None = ranged(None, gt=0)
    kb_crop: bool = True
    eval_crop: str | None = _AUTO
    rotate_degree: float | None = ranged(None, ge=0, le=180)
    do_flip: bool = True
    color_aug: bool = True
    do_random_rotate: bool = True
    focal: float = ranged(0.0, ge=0)
    resize_scale: float = ranged(1.0, gt=0)
    recording: RecordingConfig | None = None  # the ``bag`` dataset's recordings (required there, unused elsewhere)

    def __post_init__(self) -> None:
        if self.name not in DATASET_DEFAULTS:
            raise ValueError(f"unknown dataset name {self.name!r}; known: {', '.join(sorted(DATASET_DEFAULTS))}")
        defaults = DATASET_DEFAULTS[self.name]
        if not self.data_root:
            raise ValueError(f"dataset {self.name!r}: data_root must be set")
        if not (isinstance(self.resize_scale, (int, float)) and math.isfinite(self.resize_scale) and self.resize_scale > 0):
            raise ValueError(f"resize_scale must be a positive number, got {self.resize_scale!r}")
        if self.max_depth is None:
            self.max_depth = float(defaults["max_depth"])
        if self.depth_scale is None:
            self.depth_scale = float(defaults["depth_scale"])
        if self.rotate_degree is None:
            self.rotate_degree = float(defaults["rotate_degree"])
        if self.eval_crop == _AUTO:
            self.eval_crop = defaults["eval_crop"]
        elif isinstance(self.eval_crop, str) and self.eval_crop.lower() in ("none", ""):
            self.eval_crop = None  # YAML users write "none"
        if (self.name == "bag") != (self.recording is not None):
            raise ValueError("a 'bag' dataset needs a 'recording' section (sources, topics), and only a 'bag' dataset takes one")
        if self.train_height == 0 and self.train_width == 0 and defaults["train_height"]:
            self.train_height = scaled_size(defaults["train_height"], self.resize_scale)
            self.train_width = scaled_size(defaults["train_width"], self.resize_scale)
        self._validate()

    def _validate(self) -> None:
        for key in ("train_height", "train_width", "eval_height", "eval_width"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer (0 = dataset default), got {value!r}")
        for a, b in (("train_height", "train_width"), ("eval_height", "eval_width")):
            if (getattr(self, a) == 0) != (getattr(self, b) == 0):
                raise ValueError(f"{a} and {b} must both be set or both be 0, got {getattr(self, a)} and {getattr(self, b)}")
        if not (math.isfinite(self.min_depth) and self.min_depth > 0):
            raise ValueError(f"min_depth must be positive, got {self.min_depth!r}")
        if not self.min_depth < self.max_depth:
            raise ValueError(f"min_depth ({self.min_depth}) must be smaller than max_depth ({self.max_depth})")
        if not (math.isfinite(self.depth_scale) and self.depth_scale > 0):
            raise ValueError(f"depth_scale must be positive, got {self.depth_scale!r}")
        if not (math.isfinite(self.rotate_degree) and self.rotate_degree >= 0):
            raise ValueError(f"rotate_degree must be >= 0, got {self.rotate_degree!r}")
        if not (math.isfinite(self.focal) and self.focal >= 0):
            raise ValueError(f"focal must be >= 0 (0 = take it from the split file), got {self.focal!r}")
        if self.eval_crop not in EVAL_CROPS:
            raise ValueError(f"eval_crop must be one of {EVAL_CROPS}, got {self.eval_crop!r}")
        for key in ("kb_crop", "do_flip", "color_aug", "do_random_rotate"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be true or false, got {getattr(self, key)!r}")

    def image_root(self, mode: str) -> str:
        """Root that image paths of ``mode`` ("train" or "eval") are relative to."""
        if mode == "eval" and self.test_data_root:
            return self.test_data_root
        return self.data_root

    def depth_root(self, mode: str) -> str:
        """Root that depth paths of ``mode`` are relative to (falls back to the image roots)."""
        if mode == "eval":
            return self.test_gt_root or self.gt_root or self.test_data_root or self.data_root
        return self.gt_root or self.data_root

    def split_path(self, mode: str) -> str:
        """Split file of ``mode``; raises ValueError when it is not configured."""
        path = self.train_split if mode == "train" else self.test_split
        if not path:
            key = "train_split" if mode == "train" else "test_split"
            raise ValueError(f"dataset {self.name!r}: {key} is not set, cannot build the {mode} dataset")
        return path

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping for checkpoints and logs; the training config's parser
        (:func:`disdepth_core.config_parsing.load_dataclass`) reads it back."""
        return dataclass_to_dict(self)
