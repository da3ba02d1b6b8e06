"""Apply the ``finetune:`` section to a composite training module (called by ``build_training_module``)."""

from __future__ import annotations

from torch import nn


def start_from_checkpoint(module: nn.Module, path: str) -> None:
    """Load the student weights of ``path`` into ``module.student`` (a :class:`training.modules.TrainingModule`;
    strict: a mismatch names the keys); before the optimiser exists."""
    from disdepth_core.models.checkpoint import load_state_dict_checked, read_checkpoint

    payload = read_checkpoint(path)
    # Released students may store float16 weights; training runs in float32.
    state = {key: value.float() if value.is_floating_point() else value for key, value in payload["state_dict"].items()}
    load_state_dict_checked(module.student, state, f"finetune.init_checkpoint {path}")


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm layer of ``module`` in eval mode (running statistics stay as trained)."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()
