"""The DisDepth student: CNN backbone (+ LG-Conv) -> DenseDepth decoder -> bins heads.

In eval mode ``model(images)`` returns metric depth ``[B,1,H,W]`` at the input resolution,
which is the contract every runtime, exporter and the ROS node relies on. In training mode
it returns a dict that also carries the stage features, bin centres and decoder feature,
which the distillation losses (attentive KD against an acclimated teacher) consume.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import StudentConfig
from .decoder import DenseDepthDecoder
from .heads import BinCentersHead, BinProbabilityHead, logits_to_depth
from .lgconv import insert_lgconv
from .pretrained import load_pretrained_backbone

# The student always uses the last four stages of a five-stage timm backbone (strides 4-32).
_ALL_STAGES = (0, 1, 2, 3, 4)
_USED_STAGES = slice(1, 5)


class DisDepthStudent(nn.Module):
    """Backbone features of the last four stages, fused by the decoder, read out as bins."""

    def __init__(self, cfg: StudentConfig) -> None:
        super().__init__()
        import timm  # heavy import kept local: the runtime package must not need timm

        self.cfg = cfg
        try:
            self.backbone = timm.create_model(cfg.backbone, pretrained=False, features_only=True, out_indices=_ALL_STAGES)
        except RuntimeError as err:  # timm raises RuntimeError for unknown names
            raise ValueError(f"unknown backbone {cfg.backbone!r}: {err}") from err
        if cfg.pretrained_backbone:
            load_pretrained_backbone(self.backbone, cfg.backbone, cfg.pretrained_backbone)
        info = self.backbone.feature_info
        self.feature_channels: list[int] = list(info.channels())[_USED_STAGES]
        self.feature_reductions: list[int] = list(info.reduction())[_USED_STAGES]
        self.num_lgconv = insert_lgconv(self.backbone, list(info.module_name()), cfg.lg) if cfg.lg_conv else 0
        self.decoder = DenseDepthDecoder(self.feature_channels, cfg.decoder)
        self.bin_centers = BinCentersHead(self.decoder.out_channels, cfg.head)
        self.bin_probabilities = BinProbabilityHead(self.decoder.out_channels, cfg.head)

    def forward_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The four stage features (strides 4, 8, 16, 32) the decoder and distillation use."""
        return list(self.backbone(images))[_USED_STAGES]

    def forward(self, images: torch.Tensor) -> torch.Tensor | dict[str, Any]:
        features = self.forward_features(images)
        decoded = self.decoder(features)
        centers = self.bin_centers(decoded)
        depth = logits_to_depth(self.bin_probabilities(decoded), centers)
        depth = F.interpolate(depth, size=images.shape[-2:], mode="bilinear", align_corners=False)
        if not self.training:
            return depth
        return {"depth": depth, "bin_centers": centers, "features": features, "decoder_feature": decoded}
