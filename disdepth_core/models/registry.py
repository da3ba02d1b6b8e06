"""The one public way to make a DisDepth model: a registry of supported backbones (CNN students, Swin teachers).

Like timm, every backbone is a name; tests iterate over the registry so each supported
student gets the same checks. ``PAPER_PARAMS_M`` holds the paper's reported parameter
counts (Tables 1 and 8) so the parameter table can put ours beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model_config import BinsHeadConfig, DecoderConfig, LGConvConfig, ModelConfig


@dataclass(frozen=True)
class BackboneInfo:
    """A supported backbone and the paper's figures for it (None where not reported)."""

    name: str
    paper_params_m: float | None = None
    paper_params_no_lg_m: float | None = None
    # "student": a CNN (LG-Conv applies); "teacher": a Swin encoder (disdepth_core.models.teacher).
    kind: str = "student"


_BACKBONES: dict[str, BackboneInfo] = {}


def register_backbone(info: BackboneInfo) -> None:
    """Add a backbone name (a CNN student, or a Swin teacher with ``kind="teacher"``) to the registry."""
    _BACKBONES[info.name] = info


for _info in (
    BackboneInfo("efficientnet_b0", 8.0, 5.9),
    BackboneInfo("efficientnet_b3", 23.1),
    BackboneInfo("efficientnet_b5", 61.9),
    BackboneInfo("resnet18", 18.0),
    BackboneInfo("resnet50", 98.6),
    BackboneInfo("ghostnet_100"),
    BackboneInfo("mobilenetv3_large_100"),
    # Edge-friendly EfficientNets (no squeeze-excite, ReLU6) with packaged ImageNet weights.
    BackboneInfo("tf_efficientnet_lite0"),
    BackboneInfo("tf_efficientnet_lite1"),
    BackboneInfo("tf_efficientnet_lite2"),
):
    register_backbone(_info)


def _register_swin_teachers() -> None:
    from .swin_variants import SWIN_VARIANTS

    for name, variant in SWIN_VARIANTS.items():
        register_backbone(BackboneInfo(name, variant.paper_params_m, kind="teacher"))


_register_swin_teachers()


def list_students() -> list[str]:
    """CNN backbones accepted by :func:`build_model` (any CNN can also serve as a teacher)."""
    return sorted(name for name, info in _BACKBONES.items() if info.kind == "student")


def list_teachers() -> list[str]:
    """Transformer (Swin) backbones: the same model framework, built by :class:`DisDepthSwin`."""
    return sorted(name for name, info in _BACKBONES.items() if info.kind == "teacher")


def backbone_info(name: str) -> BackboneInfo:
    if name not in _BACKBONES:
        raise ValueError(f"unsupported backbone {name!r}; supported: {', '.join(list_students() + list_teachers())}")
    return _BACKBONES[name]


def build_model(backbone: str = "efficientnet_b0", lg_conv: bool = True, **cfg: Any):
    """Build a student. Extra keywords are ModelConfig fields (nested ones as dicts).

    ``build_model("resnet18", head={"max_depth": 10.0})`` is equivalent to building from
    ``ModelConfig(backbone="resnet18", head=BinsHeadConfig(max_depth=10.0))``.
    """
    backbone_info(backbone)
    data: dict[str, Any] = {"backbone": backbone, "lg_conv": lg_conv}
    for key, value in cfg.items():
        if isinstance(value, (LGConvConfig, DecoderConfig, BinsHeadConfig)):
            from dataclasses import asdict

            value = asdict(value)
        data[key] = value
    return build_model_from_config(ModelConfig.from_dict(data))


def build_model_from_config(cfg: ModelConfig):
    """Build from a full :class:`ModelConfig` (what checkpoints store); Swin names give the teacher."""
    if backbone_info(cfg.backbone).kind == "teacher":
        from .teacher import DisDepthSwin

        return DisDepthSwin(cfg)
    from .student import DisDepthStudent

    return DisDepthStudent(cfg)
