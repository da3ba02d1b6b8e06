"""The standard evaluation protocol, shared by validation during training and ``disdepth eval``.

Per image: predict at the network input (KB-cropped for KITTI), optionally average with the
flipped prediction of the flipped image, paste the prediction into a zero map of the full GT
size at the crop box, then compute the metrics with the dataset's evaluation crop (Garg for
KITTI, Eigen/NYU crop for NYU). Metrics are per image, then averaged; with several processes
each evaluates a shard and the sums are all-reduced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from disdepth_core.data.config import DatasetConfig
from disdepth_core.metrics import DepthMetricsAccumulator

from .distributed import DistInfo, all_reduce_sum


@torch.no_grad()
def predict_depth(model: nn.Module, images: torch.Tensor, flip_tta: bool = False) -> torch.Tensor:
    """Eval-mode depth ``[B,1,H,W]``; with ``flip_tta`` the mean with the un-flipped flip pass."""
    depth = model(images)
    if flip_tta:
        depth = 0.5 * (depth + torch.flip(model(torch.flip(images, dims=[3])), dims=[3]))
    return depth


def paste_prediction(pred: np.ndarray, full_shape: tuple[int, int], crop_box: Any) -> np.ndarray:
    """Place a prediction of the crop box's size into a zero map of the full GT size."""
    top, left, height, width = (int(v) for v in crop_box)
    if pred.shape != (height, width):
        import cv2

        pred = cv2.resize(pred, (width, height), interpolation=cv2.INTER_LINEAR)
    full = np.zeros(full_shape, dtype=np.float32)
    full[top:top + height, left:left + width] = pred
    return full


def evaluate_model(
    model: nn.Module,
    data_cfg: DatasetConfig,
    flip_tta: bool = False,
    dist_info: DistInfo | None = None,
    max_images: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """Run the protocol over the test split and return averaged metrics (same on every rank)."""
    from disdepth_core.data.depth_dataset import build_dataset

    dist_info = dist_info or DistInfo()
    dataset = build_dataset(data_cfg, "eval")
    indices = list(range(len(dataset)))
    if max_images:
        indices = indices[:max_images]
    shard = indices[dist_info.rank::dist_info.world_size]
    acc = DepthMetricsAccumulator(min_depth=data_cfg.min_depth, max_depth=data_cfg.max_depth, crop=data_cfg.eval_crop)
    was_training = model.training
    model.eval()
    try:
        for index in tqdm(shard, desc="eval", disable=not (progress and dist_info.is_main), unit="img"):
            sample = dataset[index]
            if not sample["has_gt"]:
                continue
            image = sample["image"].unsqueeze(0).to(dist_info.device)
            pred = predict_depth(model, image, flip_tta)[0, 0].float().cpu().numpy()
            gt = sample["depth"][0].numpy()
            acc.update(paste_prediction(pred, gt.shape, sample["crop_box"]), gt)
    finally:
        model.train(was_training)
    if dist_info.enabled:
        totals = torch.from_numpy(acc.to_array()).double()
        all_reduce_sum(totals, dist_info)
        acc = DepthMetricsAccumulator.from_array(totals.numpy(), min_depth=data_cfg.min_depth,
                                                 max_depth=data_cfg.max_depth, crop=data_cfg.eval_crop)
    return acc.compute()
