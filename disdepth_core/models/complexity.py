"""Parameter and compute counts for ``disdepth info`` and the parameter table.

GFLOPs are counted with PyTorch's own ``FlopCounterMode`` (no extra dependency). Papers
in this field report multiply-accumulates as "FLOPs" (fvcore/mmcv convention), so we report
GMACs = counted FLOPs / 2 and say so in every table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .lgconv import count_global_branch_parameters


@dataclass(frozen=True)
class ModelComplexity:
    params_m: float
    lgconv_params_m: float
    gmacs: float
    input_hw: tuple[int, int]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def measure_complexity(model: nn.Module, height: int, width: int) -> ModelComplexity:
    """Count parameters and multiply-accumulates of one eval forward at ``height x width``."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.zeros(1, 3, height, width))
    finally:
        model.train(was_training)
    return ModelComplexity(
        params_m=count_parameters(model) / 1e6,
        lgconv_params_m=count_global_branch_parameters(model) / 1e6,
        gmacs=counter.get_total_flops() / 2e9,
        input_hw=(height, width),
    )
