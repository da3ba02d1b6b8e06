"""Feature acclimation modules (FAM, paper section 3.3): teacher features -> student-shaped features.

The paper: "we inject a feature acclimation module (FAM, a transformer block) into the teacher
backbone after each output layer"; the acclimated features feed the ghost decoder (the
*student's* decoder, frozen for this branch), so each FAM must output exactly what the student's decoder reads at
that level: the student's channel width at the same stride. Per stage ``i``::

    X_i = Conv1x1(T_i)                                  Ct_i -> Cs_i      (width of the student)
    X_i = X_i + SRA(LN(X_i))                            spatial-reduction multi-head attention
    A_i = X_i + MLP(LN(X_i))                            GELU MLP, hidden = mlp_ratio * Cs_i

Choices and why:

- **Projection first, block at the student's width.** The block then works in the space the
  ghost decoder reads, and its cost scales with the (small) student width, not Swin-L's 1536.
- **Pre-norm residual transformer block** (ViT/Swin style): the paper calls FAM "a transformer
  block"; pre-norm keeps it trainable from scratch at any depth of the schedule.
- **Spatial-reduction attention** (PVT/SegFormer's efficient self-attention): queries at full
  resolution, keys/values average-pooled by ``sr`` (8, 4, 2, 1 for strides 4-32). Full global
  attention at stride 4 of a 352x1216 crop is 26,752^2 scores per head (GBs); pooling keeps a
  global receptive field at ~N * N/sr^2 cost. Windowed (Swin) attention would also be cheap but
  only local, and acclimation is about re-expressing global transformer features the way a CNN
  decoder expects them.
- **No output activation**: CNN stage outputs (residual sums) are signed, and the decoder's
  first layers expect that distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def pick_num_heads(channels: int, head_dim: int = 32, *, max_heads: int | None = None) -> int:
    """Largest head count that divides ``channels`` (at least 1), capped at ``max_heads`` when
    given (LG-Conv's configured head count) and otherwise at ``channels // head_dim`` (FAM and
    LAM: heads of about ``head_dim`` channels).

    The one head-count rule of the model: attention splits ``channels`` evenly over the heads, so
    the count must divide it; FAM, LAM and LG-Conv all use this function.
    """
    cap = max_heads if max_heads is not None else channels // head_dim
    heads = max(1, min(cap, channels))
    while channels % heads:
        heads -= 1
    return heads


class SpatialReductionAttention(nn.Module):
    """Multi-head self-attention whose keys/values come from an ``sr`` x ``sr`` average-pooled map."""

    def __init__(self, channels: int, num_heads: int, sr: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.sr = sr
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
        batch, n, channels = tokens.shape
        heads, dim = self.num_heads, channels // self.num_heads
        q = self.q(tokens).reshape(batch, n, heads, dim).transpose(1, 2)
        context = tokens
        if self.sr > 1:
            grid = tokens.transpose(1, 2).reshape(batch, channels, height, width)
            # ceil_mode: maps smaller than sr still give one key instead of an empty pool.
            grid = F.avg_pool2d(grid, self.sr, self.sr, ceil_mode=True)
            context = grid.flatten(2).transpose(1, 2)
        k, v = self.kv(context).reshape(batch, -1, 2, heads, dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, n, channels))


class AcclimationBlock(nn.Module):
    """One FAM: 1x1 projection to the student's width, then a pre-norm transformer block."""

    def __init__(self, in_channels: int, out_channels: int, sr: int, mlp_ratio: float = 4.0, head_dim: int = 32) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, 1)
        self.norm1 = nn.LayerNorm(out_channels)
        self.attn = SpatialReductionAttention(out_channels, pick_num_heads(out_channels, head_dim), sr)
        self.norm2 = nn.LayerNorm(out_channels)
        hidden = max(1, int(out_channels * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(out_channels, hidden), nn.GELU(), nn.Linear(hidden, out_channels))

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = self.proj(feature)
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        tokens = tokens + self.attn(self.norm1(tokens), height, width)
        tokens = tokens + self.mlp(self.norm2(tokens))
        return tokens.transpose(1, 2).reshape(batch, channels, height, width)


class FeatureAcclimation(nn.Module):
    """One :class:`AcclimationBlock` per teacher output stage (four, strides 4-32).

    ``forward(teacher_features, sizes)`` returns the acclimated features, resized to ``sizes``
    (the student's feature sizes) when a backbone rounds odd sizes differently; with the
    Swin teacher's ceil cropping they already agree and nothing is resized.
    """

    def __init__(self, teacher_channels: Sequence[int], student_channels: Sequence[int],
                 reductions: Sequence[int] = (8, 4, 2, 1), mlp_ratio: float = 4.0, head_dim: int = 32) -> None:
        super().__init__()
        if not len(teacher_channels) == len(student_channels) == len(reductions):
            raise ValueError(f"FAM needs one teacher stage per student stage: {list(teacher_channels)} vs {list(student_channels)}")
        self.blocks = nn.ModuleList(AcclimationBlock(t, s, r, mlp_ratio, head_dim)
                                    for t, s, r in zip(teacher_channels, student_channels, reductions))

    def forward(self, teacher_features: Sequence[torch.Tensor], sizes: Sequence[Sequence[int]] | None = None) -> list[torch.Tensor]:
        out = []
        for index, (block, feature) in enumerate(zip(self.blocks, teacher_features)):
            acclimated = block(feature)
            if sizes is not None:
                acclimated = resize_to(acclimated, sizes[index])
            out.append(acclimated)
        return out


def resize_to(feature: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize to ``size`` (H, W) only when it differs (a no-op in the usual case)."""
    if tuple(feature.shape[-2:]) == (int(size[0]), int(size[1])):
        return feature
    return F.interpolate(feature, size=(int(size[0]), int(size[1])), mode="bilinear", align_corners=False)
