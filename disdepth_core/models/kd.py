"""Feature distillation losses: the attentive KD loss (paper eq. 1) and a plain feature-KD baseline.

**Attentive KD** (section 3.4; the equation was lost from the text, this is it re-derived).
With acclimated teacher features ``A_i`` and student backbone features ``S_i`` of the same
shape ``[B, C_i, H_i, W_i]`` for the used stages ``i`` (strides 4, 8, 16, 32), and LAM importance
maps ``M_i`` ``[B, 1, H_i, W_i]``::

    L_kd = sum_i  1/(B C_i H_i W_i) * sum_{b,c,h,w} ( M'_i * A_i  -  M'_i * S_i )^2
         = sum_i  mean( M'_i^2 * (A_i - S_i)^2 ),      M'_i = M_i / sqrt(mean_{h,w} M_i^2)  (per image)

- "these attentions ... are multiplied onto the teacher and student features to guide the
  student focus on imitating the important regions of teacher features": the map multiplies
  *both* features, then they are compared; squared error is the standard feature-imitation
  distance (FitNets and the masked/decoupled feature KD the paper cites).
- **Scores rescaled to unit root-mean-square per image** (``M'``; the LAM scale review). LAM's
  scores average 1 and can reach N (the pixel count), and the loss squares them, so unnormalised
  the KD term would be scaled by ``mean(M^2)``: 1 while LAM is uniform (its initial state), up to
  N once it picks one pixel. The text supports *where* the student imitates ("guide the student
  focus on imitating the important regions"; "useless" regions get weight zero), not *how much*:
  how much is lambda, tuned once (Table 7) and the same in every experiment, which only means
  something if the KD term's scale does not drift with LAM's sharpness. With ``M'`` the weighted
  loss is a weighted average of the per-pixel errors: equal to the unweighted MSE (the ``fam``
  row) when M is uniform, never above the largest per-pixel error, and its total gradient on the
  student keeps the unweighted loss's size while LAM moves it between pixels. The ghost decoder
  still reads ``A * M`` (mean 1, the feature's magnitude kept; :mod:`.lam`).
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
    """``sum_i mean((M'_i A_i - M'_i S_i)^2)``, ``M' = M / rms_x(M)`` per image; A, M detached; None: M = 1."""
    if len(teacher) != len(student):
        raise ValueError(f"KD needs as many teacher as student stages, got {len(teacher)} and {len(student)}")
    total = student[0].new_zeros((), dtype=torch.float32)
    for index, (target, feature) in enumerate(zip(teacher, student)):
        if target.shape != feature.shape:
            raise ValueError(f"stage {index}: acclimated teacher {tuple(target.shape)} vs student {tuple(feature.shape)}")
        squared = (target.detach().float() - feature.float()).pow(2)
        if scores is not None:
            squared = kd_pixel_weights(scores[index]) * squared
        total = total + squared.mean()
    return total


def kd_pixel_weights(scores: torch.Tensor) -> torch.Tensor:
    """``M'^2 = M^2 / mean_x(M^2)`` per image (``[B,1,H,W]``, detached): mean 1, the KD budget kept.

    Why (the LAM scale review, see the module docstring): LAM's scores average 1 but can reach
    N; squared in the loss, an unnormalised M would scale the KD term by ``mean(M^2)``, between 1
    (uniform) and N (one pixel), so the same lambda would mean a different KD strength as LAM
    sharpens. Normalised, the weights only move the imitation budget between pixels.
    """
    weights = scores.detach().float().pow(2)
    return weights / weights.mean(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)


def relative_residuals(targets: Sequence[torch.Tensor], features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Per stage ``||S - A||^2 / ||A||^2`` over the batch, without gradients (a diagnostic).

    How far the student is from imitating its target: 1 when it has learnt nothing of it (S = 0),
    0 when it imitates it exactly, above 1 when it is further away than zero would be.
    """
    with torch.no_grad():
        return [(feature.float() - target.float()).pow(2).sum() / target.float().pow(2).sum().clamp_min(1e-12)
                for target, feature in zip(targets, features)]


class FeatureKD(nn.Module):
    """Plain feature KD: student-side 1x1 regressors to the teacher's widths, MSE per stage."""

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int]) -> None:
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError(f"plain KD needs one teacher stage per student stage: {list(student_channels)} vs {list(teacher_channels)}")
        self.regressors = nn.ModuleList(nn.Conv2d(s, t, 1) for s, t in zip(student_channels, teacher_channels))

    def pairs(self, teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(T_i, R_i(S_i))`` per stage, ``T_i`` detached and on the hint's grid."""
        out = []
        for regressor, target, feature in zip(self.regressors, teacher, student):
            hint = regressor(feature)
            out.append((resize_to(target.detach(), hint.shape[-2:]), hint))
        return out

    def forward(self, teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]) -> torch.Tensor:
        total = student[0].new_zeros((), dtype=torch.float32)
        for target, hint in self.pairs(teacher, student):
            total = total + (target.float() - hint.float()).pow(2).mean()
        return total

    def residuals(self, teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per stage ``||R(S) - T||^2 / ||T||^2`` (:func:`relative_residuals` through the regressors)."""
        with torch.no_grad():
            targets, hints = zip(*self.pairs(teacher, student))
            return relative_residuals(targets, hints)
