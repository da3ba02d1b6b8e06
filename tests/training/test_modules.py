"""The composite training module: parts, parameter groups, the distillation extension point.

Uses a test-only composite (tests/training/extra_part.py: student + trainable adapter + frozen
part) loaded through ``distill.method`` exactly as the distillation method will be.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import tiny_train_config
from tests.training.extra_part import METHOD, AdapterModule
from training.train_config import train_config_from_dict
from disdepth_core.config_parsing import ConfigError
from training.modules import TrainingModule, build_training_module, register_distill_method
from training.trainer import Trainer


def _cfg(root, out, **distill):
    data = tiny_train_config(root, out)
    data["log"].update({"tensorboard": False, "val_every": 0})
    if distill:
        data["distill"] = {"enabled": True, "method": METHOD, **distill}
    return train_config_from_dict(data)


def test_supervised_default_is_the_student_alone(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path)
    module = build_training_module(cfg)
    assert type(module) is TrainingModule and list(module.parts) == ["student"]
    assert [t.name for t in module.loss_terms()] == ["silog", "bins_chamfer"]
    outputs = module.train()({"image": torch.rand(2, 3, 64, 96)})
    assert set(outputs) == {"depth", "bin_centers", "features", "decoder_feature"}
    assert outputs["depth"].shape == (2, 1, 64, 96) and outputs["bin_centers"].shape == (2, 32)
    groups = module.param_groups(cfg.optim)
    assert [g["part"] for g in groups] == ["student"] and groups[0]["lr"] == cfg.optim.lr
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in module.student.parameters())


def test_extension_parts_groups_modes_and_structure_lock(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path, kd_start_epoch=0)
    module = build_training_module(cfg)
    assert isinstance(module, AdapterModule) and list(module.parts) == ["student", "adapter", "frozen"]
    groups = {g["part"]: g for g in module.param_groups(cfg.optim)}
    assert set(groups) == {"student", "adapter"}  # the frozen part is not optimised
    assert groups["adapter"]["lr"] == pytest.approx(10 * cfg.optim.lr)
    assert not any(p.requires_grad for p in module.parts["frozen"].parameters())
    module.train()
    assert module.student.training and module.parts["adapter"].training and not module.parts["frozen"].training
    trainable = list(module.trainable_parameters())
    assert len(trainable) == sum(len(g["params"]) for g in groups.values())
    with pytest.raises(RuntimeError, match="optimiser already exists"):
        module.add_part("late", nn.Linear(2, 2))
    assert set(module.trainable_state()) == {"student", "adapter"}  # frozen part: in_checkpoint=False


def test_unknown_or_broken_methods_are_config_errors(synthetic_root, tmp_path):
    register_distill_method("disdepth_test_only", lambda cfg: AdapterModule(cfg, nn.Identity()))
    with pytest.raises(ConfigError, match="did you mean 'disdepth_test_only'"):
        build_training_module(_cfg(synthetic_root, tmp_path, method="disdepth_test_onyl"))
    with pytest.raises(ConfigError, match="cannot import"):
        build_training_module(_cfg(synthetic_root, tmp_path, method="tests.training.extra_part:nope"))
    register_distill_method("not_a_module", lambda cfg: nn.Linear(1, 1))
    with pytest.raises(TypeError, match="not a TrainingModule"):
        build_training_module(_cfg(synthetic_root, tmp_path, method="not_a_module"))


def test_trainer_optimises_clips_and_checkpoints_every_part(synthetic_root, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path / "run", kd_start_epoch=1)
    cfg.optim.grad_clip = 1e-3
    cfg.optim.epochs = 2
    trainer = Trainer(cfg, progress=False)
    module = trainer.module
    adapter0 = module.parts["adapter"].weight.detach().clone()
    frozen0 = module.parts["frozen"][0].weight.detach().clone()
    batch = next(iter(trainer.loader))
    # Epoch 0: the adapter term is gated off (KD-style warm-up): no loss, no gradient.
    assert "adapter" not in trainer.step(batch, epoch=0)
    assert module.parts["adapter"].weight.grad is None
    losses = trainer.step(batch, epoch=1)
    assert "adapter" in losses and module.after_step_calls == 2
    assert not torch.equal(module.parts["adapter"].weight, adapter0)
    assert torch.equal(module.parts["frozen"][0].weight, frozen0)
    # Clipping covers the adapter too: the global norm of all trainable gradients is the clip value.
    norm = torch.norm(torch.stack([p.grad.norm() for p in module.trainable_parameters() if p.grad is not None]))
    assert float(norm) <= 1e-3 * 1.01

    trainer.train()
    resumed = Trainer(cfg, resume=str(tmp_path / "run" / "last.pt"), progress=False)
    for name in ("student", "adapter"):
        for a, b in zip(trainer.module.parts[name].state_dict().values(), resumed.module.parts[name].state_dict().values()):
            assert torch.equal(a, b), name
    # A supervised run cannot silently resume a checkpoint that has extra parts.
    plain = _cfg(synthetic_root, tmp_path / "run")
    with pytest.raises(ValueError, match=r"unexpected \['adapter'\]"):
        Trainer(plain, resume=str(tmp_path / "run" / "last.pt"), progress=False)
