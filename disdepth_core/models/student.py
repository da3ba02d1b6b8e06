"""The DisDepth student: CNN backbone (+ LG-Conv) -> DenseDepth decoder -> bins heads.

In eval mode ``model(images)`` returns metric depth ``[B,1,H,W]`` at the input resolution,
which is the contract every runtime, exporter and the ROS node relies on. In training mode
it returns a dict that also carries the stage features, bin centres and decoder feature,
which the distillation losses (attentive KD against an acclimated teacher) consume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .model_config import ModelConfig
from .decoder import DenseDepthDecoder
from .heads import BinCentersHead, BinProbabilityHead, depth_confidence, logits_to_depth
from .lgconv import insert_lgconv
from .pretrained import load_pretrained_backbone

# The student always uses the last four stages of a five-stage timm backbone (strides 4-32).
_ALL_STAGES = (0, 1, 2, 3, 4)
_USED_STAGES = slice(1, 5)


class DisDepthStudent(nn.Module):
    """Backbone features of the last four stages, fused by the decoder, read out as bins."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone, self.feature_channels, self.feature_reductions, self.num_lgconv = self.build_backbone(cfg)
        self.decoder = DenseDepthDecoder(self.feature_channels, cfg.decoder)
        self.bin_centers = BinCentersHead(self.decoder.out_channels, cfg.head)
        self.bin_probabilities = BinProbabilityHead(self.decoder.out_channels, cfg.head)

    def build_backbone(self, cfg: ModelConfig) -> tuple[nn.Module, list[int], list[int], int]:
        """``(backbone, channels, strides, LG-Conv count)`` of the four used stages.

        The one place a subclass changes to put a different encoder (the Swin teacher) in
        front of exactly the same decoder and heads.
        """
        import timm  # heavy import kept local: the runtime package must not need timm

        try:
            backbone = timm.create_model(cfg.backbone, pretrained=False, features_only=True, out_indices=_ALL_STAGES)
        except RuntimeError as err:  # timm raises RuntimeError for unknown names
            raise ValueError(f"unknown backbone {cfg.backbone!r}: {err}") from err
        if cfg.pretrained_backbone:
            load_pretrained_backbone(backbone, cfg.backbone, cfg.pretrained_backbone)
        info = backbone.feature_info
        channels = list(info.channels())[_USED_STAGES]
        reductions = list(info.reduction())[_USED_STAGES]
        num_lgconv = insert_lgconv(backbone, list(info.module_name()), cfg.lg) if cfg.lg_conv else 0
        return backbone, channels, reductions, num_lgconv

    def forward_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The four stage features (strides 4, 8, 16, 32) the decoder and distillation use."""
        return list(self.backbone(images))[_USED_STAGES]

    def forward_head(self, features: Sequence[torch.Tensor], output_size: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
        """Decoder + bins heads on stage features (timm's ``forward_head``): what the ghost decoder reuses."""
        return decode_depth(self.decoder, self.bin_centers, self.bin_probabilities, features, output_size)

    def forward_with_confidence(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode depth and per-pixel confidence (:func:`~.heads.depth_confidence`), both ``[B,1,H,W]``.

        What the exporter traces as the graph's two outputs (``depth``, ``confidence``) and the
        torch backend runs, so every runtime returns both from one forward pass.
        """
        outputs = decode_depth(self.decoder, self.bin_centers, self.bin_probabilities, self.forward_features(images),
                               images.shape[-2:], with_confidence=True)
        return outputs["depth"], outputs["confidence"]

    def forward(self, images: torch.Tensor) -> torch.Tensor | dict[str, Any]:
        features = self.forward_features(images)
        outputs = self.forward_head(features, images.shape[-2:])
        if not self.training:
            return outputs["depth"]
        return outputs | {"features": features}


def decode_depth(decoder: nn.Module, centers_head: nn.Module, probabilities_head: nn.Module,
                 features: Sequence[torch.Tensor], output_size: Sequence[int] | None = None,
                 with_confidence: bool = False) -> dict[str, torch.Tensor]:
    """Stage features -> metric depth at ``output_size`` (default: 4x the stride-4 feature).

    A free function over the three modules (or callables), not a method, so the ghost decoder
    (these very modules called with detached weights, :mod:`disdepth_core.models.ghost`) runs
    literally the same code as the student it shadows.
    Returns ``depth [B,1,H,W]``, ``bin_centers [B,N]`` and ``decoder_feature`` (stride 2); with
    ``with_confidence`` also ``confidence [B,1,H,W]`` (computed at the bins resolution, then resized).
    """
    if output_size is None:
        output_size = (features[0].shape[-2] * 4, features[0].shape[-1] * 4)
    decoded = decoder(features)
    centers = centers_head(decoded)
    depth = logits_to_depth(probabilities_head(decoded), centers)
    size = (output_size[0], output_size[1])
    outputs = {"depth": F.interpolate(depth, size=size, mode="bilinear", align_corners=False), "bin_centers": centers,
               "decoder_feature": decoded}
    if with_confidence:
        outputs["confidence"] = F.interpolate(depth_confidence(depth), size=size, mode="bilinear", align_corners=False)
    return outputs
