"""Weighted loss terms the trainer sums; distillation adds its own terms to the same list.

A term is a name, a weight and a function of ``(batch, outputs)``; the trainer does not know
which terms exist, so the attentive KD loss (a later issue) plugs in without editing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from disdepth_core.losses import BinsChamferLoss, SILogLoss

LossFn = Callable[[dict[str, Any], dict[str, Any]], torch.Tensor]


@dataclass
class LossTerm:
    name: str
    weight: float
    fn: LossFn
    # First epoch (0-based) at which the term is active; KD starts after a warm-up.
    start_epoch: int = 0


def supervised_terms(silog_variance_focus: float, silog_scale: float, bins_weight: float, min_depth: float, max_depth: float) -> list[LossTerm]:
    """SILog on valid GT pixels, plus the chamfer bins loss when its weight is non-zero."""
    silog = SILogLoss(variance_focus=silog_variance_focus, scale=silog_scale)

    def silog_term(batch: dict[str, Any], outputs: dict[str, Any]) -> torch.Tensor:
        gt = batch["depth"]
        mask = (gt > min_depth) & (gt < max_depth)
        return silog(outputs["depth"], gt, mask)

    terms = [LossTerm("silog", 1.0, silog_term)]
    if bins_weight > 0:
        chamfer = BinsChamferLoss()

        def bins_term(batch: dict[str, Any], outputs: dict[str, Any]) -> torch.Tensor:
            gt = batch["depth"]
            # Same valid range as SILog (AdaBins masks by the dataset range too).
            return chamfer(outputs["bin_centers"], gt, (gt > min_depth) & (gt < max_depth))

        terms.append(LossTerm("bins_chamfer", bins_weight, bins_term))
    return terms
