"""Feature distillation losses: the attentive KD loss (paper eq. 1) and a plain feature-KD baseline.

**Attentive KD** (section 3.4; the equation was lost from the text, this is it re-derived).
With acclimated teacher features ``A_i`` and student backbone features ``S_i`` of the same
shape ``[B, C_i, H_i, W_i]`` for the used stages ``i`` (strides 4, 8, 16, 32), and LAM importance
maps ``M_i`` ``[B, 1, H_i, W_i]``::

    L_kd = sum_i  1/(B C_i H_i W_i) * sum_{b,c,h,w} ( M_i * A_i  -  M_i * S_i )^2
         = sum_i  mean( M_i^2 * (A_i - S_i)^2 )

- "these attentions ... are multiplied onto the teacher and student features to guide the
  student focus on imitating the important regions of teacher features": the map multiplies
  *both* features, then they are compared; squared error is the standard feature-imitation
  distance (FitNets and the masked/decoupled feature KD the paper cites).
- **Per-stage mean, summed over stages**: each stage counts equally whatever its resolution
  and width (a sum over pixels would let stride 4 dominate), and summing over the "last
  stages" index is how the paper writes multi-stage losses. Lambda (0.05) is applied outside.
- **A_i and M_i are targets (detached)**: the gradient of L_kd reaches only the student. If it
  reached M, the cheapest way to lower L_kd would be to set M -> 0 everywhere; if it reached A,
  KD would drag the acclimated features towards the student's instead of the other way round.
  FAMs and LAMs learn from the ghost-teacher task loss only (section 3.3).
- **No channel adapter**: FAMs already output the student's width at the student's stride;
  that is the point of acclimation. Without LAM (Table 4 "FAM" row) ``M_i = 1``.

**Plain feature KD** (Tables 3/4 "KD" rows, "the traditional KD method without feature
acclimation"): FitNets-style hint regression from raw teacher features ``T_i``::

    L_kd = sum_i mean( (T_i - R_i(S_i))^2 ),    R_i = Conv1x1(C_s,i -> C_t,i)

The 1x1 regressor sits on the *student* side (trained by this loss, like FitNets): on the
teacher side it could shrink teacher features towards zero and make the loss trivial. ``T_i``
is detached (frozen teacher), and resized to the student's grid if the sizes differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .fam import resize_to


def attentive_kd_loss(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor],
                      scores: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """``sum_i mean(M_i^2 (A_i - S_i)^2)`` with A and M detached; ``scores=None`` means M = 1."""
    if len(teacher) != len(student):
        raise ValueError(f"KD needs as many teacher as student stages, got {len(teacher)} and {len(student)}")
    total = student[0].new_zeros((), dtype=torch.float32)
    for index, (target, feature) in enumerate(zip(teacher, student)):
        if target.shape != feature.shape:
            raise ValueError(f"stage {index}: acclimated teacher {tuple(target.shape)} vs student {tuple(feature.shape)}")
        diff = target.detach().float() - feature.float()
        if scores is not None:
            diff = scores[index].detach().float() * diff
        total = total + diff.pow(2).mean()
    return total


class FeatureKD(nn.Module):
    """Plain feature KD: student-side 1x1 regressors to the teacher's widths, MSE per stage."""

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int]) -> None:
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(f"plain KD needs one teacher stage per student stage: {list(student_channels)} vs {list(teacher_channels)}")
        self.regressors = nn.ModuleList(nn.Conv2d(s, t, 1) for s, t in zip(student_channels, teacher_channels))

    def forward(self, teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]) -> torch.Tensor:
        total = student[0].new_zeros((), dtype=torch.float32)
        for regressor, target, feature in zip(self.regressors, teacher, student):
            hint = regressor(feature)
            target = resize_to(target.detach(), hint.shape[-2:])
            total = total + (target.float() - hint.float()).pow(2).mean()
        return total
