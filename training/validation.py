"""Validation during training and ``evaluate_model``: the core evaluator over an in-memory model.

The protocol itself lives in :mod:`disdepth_core.evaluation` (one predictor backed by the node's
frame pipeline, one numpy protocol); this module only adapts a training ``nn.Module`` to it
(:class:`ModuleRuntime`) and shards the split across processes, all-reducing the sums.
Validation runs at **full resolution** (each evaluation box at its own size: NYU 480x640, KITTI
352x1216 KB crop), the papers' protocol; ``disdepth eval`` defaults to the deployed model-input
size and names which one it used.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from disdepth_core.data.dataset_config import DatasetConfig
from disdepth_core.evaluation import EvalProtocol, Predictor, dataset_frames, evaluate_frames
from disdepth_core.metrics import DepthMetricsAccumulator
from disdepth_core.runtime.base import DepthRuntime, InputSpec
from disdepth_core.runtime.artifact import ModelMetadata

from .distributed import DistInfo, all_reduce_sum


class ModuleRuntime(DepthRuntime):
    """A training ``nn.Module`` behind the runtime interface (batch on the module's device, eval mode)."""

    backend = "torch-module"

    def __init__(self, model: nn.Module, device: torch.device, min_depth: float, max_depth: float) -> None:
        self.model = model
        self.device = device
        metadata = ModelMetadata(min_depth=float(min_depth), max_depth=float(max_depth), dynamic_shape=True)
        super().__init__("<training model>", metadata, InputSpec(0, 0))

    def _run(self, images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
            return self.model(batch).float().cpu().numpy()


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

    if max_images < 0:
        raise ValueError(f"max_images must be >= 0 (0 = all), got {max_images}")
    dist_info = dist_info or DistInfo()
    dataset = build_dataset(data_cfg, "eval")
    indices = list(range(len(dataset)))
    if max_images:
        indices = indices[:max_images]
    shard = indices[dist_info.rank::dist_info.world_size]
    protocol = EvalProtocol(min_depth=data_cfg.min_depth, max_depth=data_cfg.max_depth, crop=data_cfg.eval_crop)
    runtime = ModuleRuntime(model, dist_info.device, data_cfg.min_depth, data_cfg.max_depth)
    predictor = Predictor(runtime, full_resolution=True, flip_tta=flip_tta)
    was_training = model.training
    model.eval()
    try:
        shown = tqdm(shard, desc="eval", disable=not (progress and dist_info.is_main), unit="img")
        acc = evaluate_frames(predictor, dataset_frames(dataset, shown), protocol)
    finally:
        model.train(was_training)
    if dist_info.enabled:
        totals = torch.from_numpy(acc.to_array()).double()
        all_reduce_sum(totals, dist_info)
        acc = DepthMetricsAccumulator.from_array(totals.numpy(), min_depth=data_cfg.min_depth,
                                                 max_depth=data_cfg.max_depth, crop=data_cfg.eval_crop)
    return acc.compute()
