"""DisDepth models: students (CNN + LG-Conv + decoder + bins heads), Swin teachers, distillation parts.

Import cost matters: this package imports torch, but not timm until a model is built.
"""

from .model_config import BinsHeadConfig, DecoderConfig, LGConvConfig, ModelConfig
from .registry import BackboneInfo, backbone_info, build_model, build_model_from_config, list_students, list_teachers, register_backbone

__all__ = [
    "BackboneInfo",
    "BinsHeadConfig",
    "DecoderConfig",
    "LGConvConfig",
    "ModelConfig",
    "backbone_info",
    "build_model",
    "build_model_from_config",
    "list_students",
    "list_teachers",
    "register_backbone",
]
