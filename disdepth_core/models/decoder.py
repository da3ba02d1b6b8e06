"""DenseDepth-style decoder (Alhashim & Wonka 2018) over the last four backbone stages.

The paper's point is that a plain upsample-concat-conv decoder is enough when the encoder is
strong, so this stays deliberately simple. Skip widths come from the backbone's
``feature_info`` and are never hard-coded.

Layout: the deepest feature (stride 32) is mapped to F channels by a 1x1 conv; up-blocks
1-3 upsample to the next skip (strides 16, 8, 4) and fuse it; up-block 4 upsamples to
stride 2 with no skip (the last four stages stop at stride 4). Output: stride 2, F/16 channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .model_config import DecoderConfig


class UpBlock(nn.Module):
    """Bilinear upsample to a target size, optional skip concat, two conv3x3 + LeakyReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, slope: float) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(slope, inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.LeakyReLU(slope, inplace=True),
        )

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        # No int(): under ONNX tracing the sizes are tensors and must stay symbolic so a
        # dynamic-shape export works at any input size.
        x = F.interpolate(x, size=(size[0], size[1]), mode="bilinear", align_corners=False)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.convs(x)


class DenseDepthDecoder(nn.Module):
    """Fuses a four-level feature pyramid (strides 4, 8, 16, 32) into a stride-2 feature map."""

    def __init__(self, feature_channels: Sequence[int], cfg: DecoderConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or DecoderConfig()
        if len(feature_channels) != 4:
            raise ValueError(f"decoder expects 4 feature levels, got {len(feature_channels)}")
        width = max(cfg.min_channels, int(round(feature_channels[-1] * cfg.width_ratio)))
        widths = [max(cfg.min_channels, width // 2**i) for i in range(1, 5)]
        self.entry = nn.Conv2d(feature_channels[-1], width, 1)
        skips = [feature_channels[2], feature_channels[1], feature_channels[0], 0]
        ins = [width] + widths[:3]
        self.blocks = nn.ModuleList(UpBlock(i, s, o, cfg.leaky_slope) for i, s, o in zip(ins, skips, widths))
        self.out_channels = widths[-1]

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        c4, c8, c16, c32 = features
        x = self.entry(c32)
        x = self.blocks[0](x, c16.shape[-2:], c16)
        x = self.blocks[1](x, c8.shape[-2:], c8)
        x = self.blocks[2](x, c4.shape[-2:], c4)
        return self.blocks[3](x, (c4.shape[-2] * 2, c4.shape[-1] * 2))
