"""Weighted loss terms the trainer sums; distillation adds its own terms to the same list.

A term is a name, a weight and a function of ``(outputs, batch, epoch)``: ``outputs`` is the
dict returned by the composite :class:`training.modules.TrainingModule` (the student's keys
unprefixed, other parts' keys as ``"<part>/<key>"``), ``batch`` the collated sample dict, and
``epoch`` the 0-based epoch, so a term can ramp or gate itself. ``start_epoch`` is the common
case of gating (the KD warm-up): the trainer skips the term before that epoch, so it neither
costs compute nor appears in the logs. The trainer does not know which terms exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from disdepth_core.losses import BinsChamferLoss, SILogLoss

LossFn = Callable[[dict[str, Any], dict[str, Any], int], torch.Tensor]


@dataclass
class LossTerm:
    name: str
    weight: float
    fn: LossFn
    # First epoch (0-based) at which the term is active; KD starts after a warm-up.
    start_epoch: int = 0

    def active(self, epoch: int) -> bool:
        return epoch >= self.start_epoch


def supervised_terms(silog_variance_focus: float, silog_scale: float, bins_weight: float, min_depth: float, max_depth: float,
                     prefix: str = "") -> list[LossTerm]:
    """SILog on valid GT pixels, plus the chamfer bins loss when its weight is non-zero.

    ``prefix`` selects whose outputs are supervised: ``""`` the student, ``"ghost/"`` a part that
    returns the same keys (depth, bin_centers) under its name; term names get the same prefix.
    """
    silog = SILogLoss(variance_focus=silog_variance_focus, scale=silog_scale)

    def silog_term(outputs: dict[str, Any], batch: dict[str, Any], epoch: int) -> torch.Tensor:
        gt = batch["depth"]
        mask = (gt > min_depth) & (gt < max_depth)
        return silog(outputs[f"{prefix}depth"], gt, mask)

    terms = [LossTerm(f"{prefix}silog", 1.0, silog_term)]
    if bins_weight > 0:
        chamfer = BinsChamferLoss()

        def bins_term(outputs: dict[str, Any], batch: dict[str, Any], epoch: int) -> torch.Tensor:
            gt = batch["depth"]
            # Same valid range as SILog (AdaBins masks by the dataset range too).
            return chamfer(outputs[f"{prefix}bin_centers"], gt, (gt > min_depth) & (gt < max_depth))

        terms.append(LossTerm(f"{prefix}bins_chamfer", bins_weight, bins_term))
    return terms
