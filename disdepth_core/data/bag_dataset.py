"""The ``bag`` dataset: RGB-D recordings (rosbag2 or image folders) for training and validation.

Any training config can name it (``data.name: bag``, see :mod:`.recording_config`), so
``python -m training.train`` (distillation included) trains on a robot's recordings like on
NYU or KITTI; ``disdepth finetune`` is this dataset plus a recipe. Frames come from the frame
cache (:mod:`.frame_cache`: decoded once, at training resolution, built on first use), split by
time: ``train`` items are the training frames, ``eval`` items the held-out ones.

Geometry: the *view* is what the deployed model sees, the whole frame resized to the model
input (``eval_height x eval_width``; the training size when not set). A training item is a
``train_height x train_width`` window of the view zoomed by ``s`` (focal-consistent scale
augmentation, :mod:`.scale_augment`: depth divided by ``s``), then optionally rotated, flipped
and colour-jittered with the same functions as the other datasets. With
``recording.synthetic_mix`` a share of the items are synthetic frames rendered at the
recording's focal length (:mod:`disdepth_core.synthetic.training_pool`). Each item's randomness is a function of
(seed, epoch, index), as in :class:`~disdepth_core.data.depth_dataset.DepthDataset`, so a
resumed run sees exactly the samples of an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from disdepth_core.rgbd_recording import scaled_K
from disdepth_core.runtime.normalization import normalize

from .dataset_config import DatasetConfig
from .frame_cache import HELDOUT, TRAIN, FrameCache, build_frame_cache, cache_is_current, cache_key, default_cache_size, resize_frame
from .recordings import RecordingOptions, open_recording
from .scale_augment import draw_zoom, zoom_crop
from .transforms import color_augment, random_flip, random_rotate, to_float_image, to_tensor

INDOOR_BRIGHTNESS = (0.75, 1.25)  # indoor exposure varies more (BTS uses this range for NYU)


def recording_options(cfg: DatasetConfig) -> RecordingOptions:
    rec = cfg.recording
    return RecordingOptions(rec.image_topic, rec.depth_topic, rec.camera_info_topic, float(rec.max_dt),
                            rec.intrinsics_tuple(), float(rec.depth_scale) or None)


def view_size(cfg: DatasetConfig) -> tuple[int, int]:
    """The deployed model's input: eval size, else the training size."""
    if cfg.eval_height:
        return cfg.eval_height, cfg.eval_width
    if cfg.train_height:
        return cfg.train_height, cfg.train_width
    raise ValueError("a 'bag' dataset needs train_height/train_width (the network input in training) and "
                     "eval_height/eval_width (the deployed model input)")


def ensure_frame_cache(cfg: DatasetConfig, progress: bool = True, log: Callable[[str], None] = print,
                       describe: bool = True) -> FrameCache:
    """The frame cache of ``cfg`` in ``cfg.data_root``, decoded from the recordings if missing or stale
    (``describe``: print what each recording is before decoding it)."""
    rec = cfg.recording
    view = view_size(cfg)
    requested = (rec.cache_height, rec.cache_width)
    key = cache_key(list(rec.sources), asdict(recording_options(cfg)), requested if requested[0] else (0, 0),
                    rec.val_fraction, rec.max_frames) | {"view": list(view)}
    if cache_is_current(cfg.data_root, key):
        return FrameCache.open(cfg.data_root)
    recordings = []
    try:
        for source in rec.sources:
            recordings.append(open_recording(source, recording_options(cfg)))
        for recording in recordings if describe else []:
            log(f"[data] {recording.info.describe()}")
        size = requested if requested[0] else default_cache_size(view, recordings[0].info.size_hw)
        return build_frame_cache(cfg.data_root, recordings, size, key, rec.val_fraction, rec.max_frames, progress, log)
    finally:
        for recording in recordings:
            recording.close()


class BagDataset(Dataset):
    """Items of the ``train`` (training frames, augmented) or ``eval`` (held-out frames) split."""

    def __init__(self, cfg: DatasetConfig, mode: str = "train", seed: int = 0, progress: bool = True) -> None:
        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be train or eval, got {mode!r}")
        self.cfg, self.mode, self.seed, self.epoch = cfg, mode, int(seed), 0
        self.rec = cfg.recording
        self.view_hw = view_size(cfg)
        self.train_hw = (cfg.train_height, cfg.train_width) if cfg.train_height else self.view_hw
        self.cache = ensure_frame_cache(cfg, progress)
        cache_hw = self.cache.size_hw
        self.view_scale = (self.view_hw[0] / cache_hw[0], self.view_hw[1] / cache_hw[1])
        self.frames = self.cache.indices(TRAIN if mode == "train" else HELDOUT)
        if not self.frames:
            raise ValueError(f"the bag dataset in {cfg.data_root} has no {'training' if mode == 'train' else 'held-out'} frames"
                             + (" (recording.val_fraction is 0)" if mode == "eval" else ""))
        self.synthetic_rgb = self.synthetic_depth = None
        self.synthetic_count = 0
        if mode == "train" and self.rec.synthetic_mix > 0:
            from disdepth_core.synthetic.training_pool import ensure_synthetic_pool

            kind = "nyu" if cfg.max_depth <= 20.0 else "kitti"
            self.synthetic_rgb, self.synthetic_depth = ensure_synthetic_pool(
                Path(cfg.data_root) / "synthetic", self.rec.synthetic_frames, cache_hw, float(self.cache.K[0, 0]), kind,
                seed, progress)
            self.synthetic_count = int(round(self.rec.synthetic_mix * len(self)))

    # ---------------------------------------------------------------- what checkpoints record
    @property
    def inference_size(self) -> tuple[int, int]:
        """The deployed model's input (the view), known without a held-out split."""
        return self.view_hw

    @property
    def reference_focal(self) -> float:
        """fx in network pixels at zoom 1 (the node's view): the model's ``train_focal``."""
        return float(self.cache.K[0, 0] * self.view_scale[1])

    @property
    def camera_meta(self) -> dict[str, Any]:
        """The recording's camera (full-size intrinsics and image size), recorded in checkpoints."""
        K, (height, width) = np.asarray(self.cache.manifest["source_K"]), self.cache.manifest["source_hw"]
        return {"camera": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
                           "width": int(width), "height": int(height)},
                "recordings": [Path(p).name for p in self.cache.manifest["sources"]]}

    # ---------------------------------------------------------------- Dataset
    def __len__(self) -> int:
        if self.mode == "train" and self.rec.samples_per_epoch:
            return int(self.rec.samples_per_epoch)
        return len(self.frames)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _train_source(self, index: int) -> tuple[np.ndarray, np.ndarray, str]:
        """Item ``index`` of this epoch: the first ``synthetic_count`` items are synthetic frames, the
        rest cycle through the training frames (a different stretch of them every epoch)."""
        if index < self.synthetic_count:
            slot = (index + self.epoch * self.synthetic_count) % len(self.synthetic_rgb)
            return self.synthetic_rgb[slot], self.synthetic_depth[slot], f"synthetic#{slot}"
        real_per_epoch = len(self) - self.synthetic_count
        real = self.frames[(index - self.synthetic_count + self.epoch * real_per_epoch) % len(self.frames)]
        return self.cache.rgb[real], self.cache.depth[real], self._name(real)

    def _name(self, cache_index: int) -> str:
        frame = self.cache.frames[cache_index]
        return f"{self.cache.manifest['sources'][frame['source']]}#{frame['index']}"

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if self.mode == "eval":
            frame = self.eval_frame(index)
            return {"image": to_tensor(normalize(frame["rgb"])), "depth": to_tensor(frame["depth"]),
                    "focal": self.reference_focal, "has_gt": True, "path": frame["path"],
                    "crop_box": torch.tensor(frame["crop_box"], dtype=torch.long), "index": index}
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, self.epoch, index])
        rgb, depth, name = self._train_source(index)
        img = to_float_image(np.asarray(rgb))
        depth = np.asarray(depth, dtype=np.float32)
        if cfg.do_random_rotate and cfg.rotate_degree > 0:
            img, depth = random_rotate(img, depth, cfg.rotate_degree, rng)
        img, depth, _ = zoom_crop(img, depth, self.train_hw, self.view_scale, draw_zoom(rng, self.rec.zoom_min, self.rec.zoom_max), rng)
        if cfg.do_flip:
            img, depth = random_flip(img, depth, rng)
        if cfg.color_aug:
            img = color_augment(img, rng, brightness=INDOOR_BRIGHTNESS)
        return {"image": to_tensor(normalize(img)), "depth": to_tensor(np.ascontiguousarray(depth, dtype=np.float32)),
                "focal": self.reference_focal, "has_gt": True, "path": name, "index": index}

    def eval_frame(self, index: int) -> dict[str, Any]:
        """A held-out frame as the node sees it (resized to the view) with its depth at that size."""
        cache_index = self.frames[index]
        rgb, depth = resize_frame(np.asarray(self.cache.rgb[cache_index]), np.asarray(self.cache.depth[cache_index], dtype=np.float32),
                                  self.view_hw)
        K = scaled_K(self.cache.K, self.cache.size_hw, self.view_hw)
        return {"rgb": np.ascontiguousarray(rgb), "depth": depth, "has_gt": True, "crop_box": (0, 0, *self.view_hw), "K": K,
                "path": self._name(cache_index), "index": index}
