"""Apply the ``finetune:`` section to a composite training module (called by ``build_training_module``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

if TYPE_CHECKING:
    from training.modules import TrainingModule

    from .section import FinetuneConfig

ENCODER_PREFIX = "backbone."  # the student's encoder (timm backbone with LG-Conv)


def apply_finetune(module: "TrainingModule", cfg: "FinetuneConfig") -> None:
    """Load the student weights of ``cfg.init_checkpoint`` (strict: a mismatch names the keys) and
    freeze the backbone when ``encoder_lr_mult`` is 0. Runs before the optimiser exists."""
    if cfg.init_checkpoint:
        from disdepth_core.models.checkpoint import load_state_dict_checked, read_checkpoint

        payload = read_checkpoint(cfg.init_checkpoint)
        # Released students may store float16 weights; training runs in float32.
        state = {key: value.float() if value.is_floating_point() else value for key, value in payload["state_dict"].items()}
        load_state_dict_checked(module.student, state, f"finetune.init_checkpoint {cfg.init_checkpoint}")
    if cfg.encoder_lr_mult == 0:
        for parameter in encoder_parameters(module.student, True):
            parameter.requires_grad_(False)


def encoder_parameters(student: nn.Module, encoder: bool) -> list[nn.Parameter]:
    """The student's trainable parameters in (``encoder=True``) or outside its backbone."""
    return [p for name, p in student.named_parameters() if p.requires_grad and name.startswith(ENCODER_PREFIX) == encoder]


def student_param_groups(student: nn.Module, base: dict[str, Any], encoder_lr_mult: float) -> list[dict[str, Any]]:
    """The student's one AdamW group split in two: the backbone at ``lr x encoder_lr_mult``, the rest at ``lr``."""
    groups = [dict(base, params=encoder_parameters(student, False), part="student")]
    encoder = encoder_parameters(student, True)
    if encoder and encoder_lr_mult > 0:
        groups.append(dict(base, params=encoder, lr=base["lr"] * encoder_lr_mult, part="student/encoder"))
    return [group for group in groups if group["params"]]


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm layer of ``module`` in eval mode (running statistics stay as trained)."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()
