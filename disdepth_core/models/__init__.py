"""DisDepth models: students (CNN + LG-Conv + decoder + bins heads), Swin teachers, distillation parts.

Import cost matters: this package imports torch, but not timm until a model is built.
"""

from .config import BinsHeadConfig, DecoderConfig, LGConvConfig, StudentConfig
from .registry import BackboneInfo, backbone_info, build_student, build_student_from_config, list_students, list_teachers, register_backbone

__all__ = [
    "BackboneInfo",
    "BinsHeadConfig",
    "DecoderConfig",
    "LGConvConfig",
    "StudentConfig",
    "backbone_info",
    "build_student",
    "build_student_from_config",
    "list_students",
    "list_teachers",
    "register_backbone",
]
