"""AdaBins-style output heads: per-image adaptive bin centres and per-pixel bin probabilities.

Depth is the probability-weighted sum of bin centres, which is smooth and metric, and the
bin centres are clamped to the dataset's depth range by construction (widths are a
normalised positive vector scaled to ``max - min``).
"""

from __future__ import annotations

import torch
from torch import nn

from .model_config import BinsHeadConfig


class BinCentersHead(nn.Module):
    """Global pooling + MLP -> normalised bin widths -> bin centres in metres.

    Widths follow AdaBins' "linear" norm: ``relu(y) + floor``, divided by their sum, so every
    bin keeps a minimum width and the centres always span ``[min_depth, max_depth]``.
    """

    def __init__(self, in_channels: int, cfg: BinsHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, cfg.mlp_hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(cfg.mlp_hidden, cfg.n_bins),
        )

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        pooled = feature.mean(dim=(2, 3))
        widths = torch.relu(self.mlp(pooled)) + self.cfg.width_floor
        widths = widths / widths.sum(dim=1, keepdim=True)
        widths = (self.cfg.max_depth - self.cfg.min_depth) * widths
        edges = torch.cumsum(widths, dim=1) + self.cfg.min_depth
        edges = torch.cat([torch.full_like(edges[:, :1], self.cfg.min_depth), edges], dim=1)
        return 0.5 * (edges[:, :-1] + edges[:, 1:])


class BinProbabilityHead(nn.Module):
    """1x1 conv to ``n_bins`` logits; :func:`logits_to_depth` applies the softmax."""

    def __init__(self, in_channels: int, cfg: BinsHeadConfig) -> None:
        super().__init__()
        self.logits = nn.Conv2d(in_channels, cfg.n_bins, 1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """Bin logits ``[B,N,H,W]`` (unnormalised; softmax over N gives the probabilities)."""
        return self.logits(feature)


def logits_to_depth(logits: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """``sum_i softmax(logits)_i c_i`` per pixel: ``[B,N,H,W]`` x ``[B,N]`` -> ``[B,1,H,W]``.

    Computed pixel-major (``[B,HW,N]``: softmax over the last, contiguous axis, then one
    batched matrix-vector product) rather than as a channel-axis softmax plus a broadcast
    multiply and reduction: identical maths, but ONNX Runtime and TensorRT run a last-axis
    softmax and a GEMV far faster than a softmax over NCHW channels (measured 2-3x on the
    whole model at 480x640 on CPU).
    """
    batch, bins, height, width = logits.shape
    probabilities = torch.softmax(logits.reshape(batch, bins, height * width).transpose(1, 2), dim=-1)
    depth = torch.matmul(probabilities, centers.unsqueeze(-1))  # [B, HW, 1]
    return depth.transpose(1, 2).reshape(batch, 1, height, width)
