"""PyTorch datasets for supervised depth training and evaluation (KITTI, NYU, image folders).

One :class:`DepthDataset` class serves every dataset; what differs between datasets (the crop
applied before the random train crop, the network-input box at evaluation, the brightness
jitter) is a small :class:`DatasetBehaviour` looked up by name in :data:`DATASET_BEHAVIOURS`.
A new dataset is one behaviour plus one :func:`register_dataset` call.

Item layout (a dict, so the default collate function batches it):

* ``image``: float32 ``[3, h, w]``, ImageNet-normalised RGB (the network input).
* ``depth``: float32 ``[1, h, w]`` metres, 0 = invalid. In training it is aligned with
  ``image``; in evaluation it is the **full** ground-truth frame (only ``resize_scale``
  applied, no KB crop), so the evaluator can paste the prediction back at ``crop_box`` into a
  zero map of GT size before the Garg/Eigen crop, as the KITTI protocol requires. KITTI frame
  sizes vary, so evaluate with ``batch_size=1`` (as BTS/AdaBins do) or a custom collate.
* ``focal`` (pixels, scaled by ``resize_scale``), ``has_gt`` (False for ``None`` depth lines at
  evaluation; such lines are skipped in training), ``path`` (full image path), ``index``.
* ``crop_box`` (evaluation only): int64 ``[4]`` = (top, left, height, width) of ``image``
  inside the ``depth`` frame.

Randomness: each item draws from ``np.random.default_rng([seed, epoch, index])``, so a sample
is reproducible regardless of worker count, and :meth:`DepthDataset.set_epoch` changes the
augmentation from one epoch to the next. Call ``set_epoch`` before iterating each epoch and do
not use ``persistent_workers=True`` (workers would keep a copy with the old epoch).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from disdepth_core.data.dataset_config import DATASET_DEFAULTS, DatasetConfig, scaled_size
from disdepth_core.data.io import read_depth_png, read_rgb
from disdepth_core.data.splits import SplitEntry, read_split_file
from disdepth_core.data.transforms import (
    KB_CROP_HEIGHT,
    KB_CROP_WIDTH,
    Box,
    color_augment,
    crop,
    kb_crop,
    kb_crop_box,
    nyu_border_box,
    nyu_border_crop,
    random_crop,
    random_flip,
    random_rotate,
    resize_pair,
    to_float_image,
    to_tensor,
)
from disdepth_core.runtime.normalization import normalize

MODES = ("train", "eval")


class DatasetBehaviour:
    """Generic behaviour (image folders): no pre-crop, full image (or centred crop) at eval."""

    brightness: tuple[float, float] = (0.9, 1.1)

    def train_precrop(self, img: np.ndarray, depth: np.ndarray, cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
        """Crop applied to every training frame before rotation and the random crop."""
        return img, depth

    def train_region(self, cfg: DatasetConfig) -> tuple[int, int] | None:
        """Size of the pre-cropped training region if it is known without reading images."""
        return None

    def eval_box(self, height: int, width: int, cfg: DatasetConfig) -> Box:
        """Network-input box inside a (resized) full frame of ``height x width``."""
        if cfg.eval_height == 0:
            return (0, 0, height, width)
        if cfg.eval_height > height or cfg.eval_width > width:
            raise ValueError(f"eval size {cfg.eval_height}x{cfg.eval_width} is larger than the image {height}x{width}")
        top = (height - cfg.eval_height) // 2
        left = (width - cfg.eval_width) // 2
        return (top, left, cfg.eval_height, cfg.eval_width)


class KittiBehaviour(DatasetBehaviour):
    """KITTI: KB crop (bottom 352 rows, centred 1216 columns) for training and evaluation.

    With ``resize_scale`` != 1 the KB crop size is scaled too (352*s x 1216*s, rounded half
    up); ``eval_height``/``eval_width``, when set, replace the evaluation KB-crop size (useful
    when the scaled size is not a multiple of the network stride).
    """

    @staticmethod
    def _kb_size(cfg: DatasetConfig) -> tuple[int, int]:
        return scaled_size(KB_CROP_HEIGHT, cfg.resize_scale), scaled_size(KB_CROP_WIDTH, cfg.resize_scale)

    def train_precrop(self, img: np.ndarray, depth: np.ndarray, cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
        if not cfg.kb_crop:
            return img, depth
        img, depth = kb_crop(img, depth, *self._kb_size(cfg))
        return img, depth

    def train_region(self, cfg: DatasetConfig) -> tuple[int, int] | None:
        return self._kb_size(cfg) if cfg.kb_crop else None

    def eval_box(self, height: int, width: int, cfg: DatasetConfig) -> Box:
        if not cfg.kb_crop:
            return super().eval_box(height, width, cfg)
        size = (cfg.eval_height, cfg.eval_width) if cfg.eval_height else self._kb_size(cfg)
        return kb_crop_box(height, width, *size)


class NyuBehaviour(DatasetBehaviour):
    """NYU Depth V2: white border removed for training; full 480x640 frame at evaluation."""

    brightness = (0.75, 1.25)

    def train_precrop(self, img: np.ndarray, depth: np.ndarray, cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
        img, depth = nyu_border_crop(img, depth, cfg.resize_scale)
        return img, depth

    def train_region(self, cfg: DatasetConfig) -> tuple[int, int] | None:
        _, _, height, width = nyu_border_box(cfg.resize_scale)
        return height, width


DATASET_BEHAVIOURS: dict[str, DatasetBehaviour] = {
    "kitti": KittiBehaviour(),
    "nyu": NyuBehaviour(),
    "folder": DatasetBehaviour(),
}


def register_dataset(name: str, behaviour: DatasetBehaviour, defaults: dict[str, Any]) -> None:
    """Add a dataset: its behaviour here and its config defaults (see ``DATASET_DEFAULTS``)."""
    missing = set(DATASET_DEFAULTS["folder"]) - set(defaults)
    if missing:
        raise ValueError(f"defaults for dataset {name!r} lack: {', '.join(sorted(missing))}")
    DATASET_BEHAVIOURS[name] = behaviour
    DATASET_DEFAULTS[name] = dict(defaults)


class DepthDataset(Dataset):
    """Samples of one split file, read and augmented according to a :class:`DatasetConfig`."""

    def __init__(self, cfg: DatasetConfig, mode: str = "train", seed: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if cfg.name not in DATASET_BEHAVIOURS:
            raise ValueError(f"no dataset behaviour registered for {cfg.name!r}; known: {', '.join(sorted(DATASET_BEHAVIOURS))}")
        self.cfg = cfg
        self.mode = mode
        self.seed = int(seed)
        self.epoch = 0
        self.behaviour = DATASET_BEHAVIOURS[cfg.name]
        self.split_file = cfg.split_path(mode)
        self.image_root = cfg.image_root(mode)
        self.depth_root = cfg.depth_root(mode)
        entries = read_split_file(self.split_file, default_focal=cfg.focal if cfg.focal > 0 else None)
        self.num_without_gt = sum(entry.depth is None for entry in entries)
        if mode == "train":
            if self.num_without_gt:
                warnings.warn(
                    f"{self.num_without_gt} of {len(entries)} lines of split file {self.split_file} have no depth "
                    "('None') and are skipped for training",
                    stacklevel=2,
                )
            entries = [entry for entry in entries if entry.depth is not None]
            self._check_train_size()
        if not entries:
            raise ValueError(f"split file {self.split_file} has no usable samples for {mode}")
        self.entries: list[SplitEntry] = entries

    def _check_train_size(self) -> None:
        region = self.behaviour.train_region(self.cfg)
        if region is None or self.cfg.train_height == 0:
            return
        if self.cfg.train_height > region[0] or self.cfg.train_width > region[1]:
            raise ValueError(
                f"train crop {self.cfg.train_height}x{self.cfg.train_width} does not fit the {self.cfg.name} "
                f"training region {region[0]}x{region[1]} (resize_scale {self.cfg.resize_scale})"
            )

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def reference_focal(self) -> float:
        """Median focal length (pixels, after ``resize_scale``) of this split's frames.

        Metric depth from one image is only defined relative to the focal length the model
        was trained with; checkpoints record this so the node can rescale for other cameras.
        """
        return float(np.median([entry.focal for entry in self.entries])) * self.cfg.resize_scale

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (reproducible, different per epoch)."""
        self.epoch = int(epoch)

    def rng_for(self, index: int) -> np.random.Generator:
        """The generator of one item in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def image_path(self, entry: SplitEntry) -> str:
        return os.path.join(self.image_root, entry.image)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self.entries)
        entry = self.entries[index]
        where = f"(split file {self.split_file} line {entry.line_no})"
        try:
            img, depth = self._load(entry)
            if self.mode == "train":
                return self._train_item(index, entry, img, depth)
            return self._eval_item(index, entry, img, depth)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{exc} {where}") from exc
        except ValueError as exc:
            raise ValueError(f"{exc} {where}") from exc

    def _load(self, entry: SplitEntry) -> tuple[np.ndarray, np.ndarray | None]:
        img = read_rgb(self.image_path(entry))
        if entry.depth is None:
            return img, None
        depth_path = os.path.join(self.depth_root, entry.depth)
        depth = read_depth_png(depth_path, self.cfg.depth_scale)
        if depth.shape != img.shape[:2]:
            raise ValueError(
                f"depth {depth_path} is {depth.shape[0]}x{depth.shape[1]} but image "
                f"{self.image_path(entry)} is {img.shape[0]}x{img.shape[1]}"
            )
        return img, depth

    def _train_item(self, index: int, entry: SplitEntry, img: np.ndarray, depth: np.ndarray) -> dict[str, Any]:
        cfg = self.cfg
        rng = self.rng_for(index)
        img, depth = resize_pair(img, depth, cfg.resize_scale)
        img = to_float_image(img)
        img, depth = self.behaviour.train_precrop(img, depth, cfg)
        # Rotate before cropping (as BTS does) so most of the zero-filled corners fall outside the crop.
        if cfg.do_random_rotate and cfg.rotate_degree > 0:
            img, depth = random_rotate(img, depth, cfg.rotate_degree, rng)
        if cfg.train_height:
            img, depth = random_crop(img, depth, cfg.train_height, cfg.train_width, rng)
        if cfg.do_flip:
            img, depth = random_flip(img, depth, rng)
        if cfg.color_aug:
            img = color_augment(img, rng, brightness=self.behaviour.brightness)
        return {
            "image": to_tensor(normalize(img)),
            "depth": to_tensor(np.asarray(depth, dtype=np.float32)),
            "focal": float(entry.focal * cfg.resize_scale),
            "has_gt": True,
            "path": self.image_path(entry),
            "index": index,
        }

    def _eval_item(self, index: int, entry: SplitEntry, img: np.ndarray, depth: np.ndarray | None) -> dict[str, Any]:
        cfg = self.cfg
        img, depth = resize_pair(img, depth, cfg.resize_scale)
        height, width = img.shape[:2]
        box = self.behaviour.eval_box(height, width, cfg)
        has_gt = depth is not None
        if depth is None:
            depth = np.zeros((height, width), dtype=np.float32)
        return {
            "image": to_tensor(normalize(crop(img, box))),
            "depth": to_tensor(np.asarray(depth, dtype=np.float32)),
            "focal": float(entry.focal * cfg.resize_scale),
            "has_gt": has_gt,
            "path": self.image_path(entry),
            "crop_box": torch.tensor(box, dtype=torch.long),
            "index": index,
        }

    def eval_frame(self, index: int) -> dict[str, Any]:
        """Numpy view of an evaluation item for :mod:`disdepth_core.evaluation` (no normalisation).

        ``rgb``: uint8 RGB of the network-input box; ``depth``: the full GT frame (metres, 0 =
        invalid); ``crop_box``: the box inside ``depth``; ``K``: pinhole intrinsics of ``rgb``
        (split-file focal, centred principal point); ``has_gt``; ``path``.
        """
        if index < 0:
            index += len(self.entries)
        entry = self.entries[index]
        try:
            img, depth = self._load(entry)
            img, depth = resize_pair(img, depth, self.cfg.resize_scale)
            box = self.behaviour.eval_box(img.shape[0], img.shape[1], self.cfg)
        except (FileNotFoundError, ValueError) as exc:
            raise type(exc)(f"{exc} (split file {self.split_file} line {entry.line_no})") from exc
        rgb = np.ascontiguousarray(crop(img, box))
        focal = float(entry.focal * self.cfg.resize_scale)
        K = np.array([[focal, 0.0, rgb.shape[1] / 2.0], [0.0, focal, rgb.shape[0] / 2.0], [0.0, 0.0, 1.0]])
        return {"rgb": rgb, "depth": None if depth is None else np.asarray(depth, dtype=np.float32), "has_gt": depth is not None,
                "crop_box": tuple(int(v) for v in box), "K": K, "path": self.image_path(entry), "index": index}


def build_dataset(cfg: DatasetConfig, mode: str, seed: int = 0, progress: bool = True) -> Dataset:
    """The one public way to make a dataset (trainer, evaluator and CLI all call this); ``progress``:
    bars while a recording's frame cache or synthetic pool is built on first use."""
    if cfg.name == "bag":  # recordings through a frame cache (disdepth_core/data/bag_dataset.py)
        from disdepth_core.data.bag_dataset import BagDataset

        return BagDataset(cfg, mode, seed, progress)
    return DepthDataset(cfg, mode, seed)
