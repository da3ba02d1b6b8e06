"""The named Swin teacher encoders, without torch: the registry lists them at import time.

Kept apart from :mod:`.teacher` (which needs torch and timm) so that importing the model
registry, configs and CLI help stays torch-free on robots and in the numpy-1 test pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SwinVariant:
    """A named Swin encoder: the timm architecture plus keyword overrides (depths, widths)."""

    timm_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    paper_params_m: float | None = None


SWIN_VARIANTS: dict[str, SwinVariant] = {
    # The paper's teacher (Tables 1-3, 5): ImageNet-22k Swin-L, window 12 (why: teacher.py's module docstring).
    "swin_large_patch4_window12_384": SwinVariant("swin_large_patch4_window12_384", paper_params_m=237.0),
    "swin_base_patch4_window12_384": SwinVariant("swin_base_patch4_window12_384"),
    # A GPU-friendly teacher for quick experiments.
    "swin_tiny_patch4_window7_224": SwinVariant("swin_tiny_patch4_window7_224"),
    # CPU-sized Swin for tests and the synthetic ablation: the Swin-T architecture with one block
    # per stage except two in stage 3, width 32 -> 256 (1.4 M encoder parameters).
    "swin_nano_patch4_window7": SwinVariant(
        "swin_tiny_patch4_window7_224", {"depths": (1, 1, 2, 1), "embed_dim": 32, "num_heads": (1, 2, 4, 8)}),
}


def is_swin(backbone: str) -> bool:
    return backbone in SWIN_VARIANTS
