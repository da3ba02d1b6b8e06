"""The ``finetune:`` section and the fine-tuning schedule: start weights, encoder LR, frozen BatchNorm, warm-up + cosine."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from tests.conftest import tiny_train_config
from training.config import OptimConfig, train_config_from_dict
from training.modules import build_training_module
from training.trainer import Trainer


def _cfg(root, out, **finetune):
    data = tiny_train_config(root, out)
    data["finetune"] = finetune
    return train_config_from_dict(data)


def test_warmup_then_cosine_and_the_paper_schedule_unchanged():
    def factor(step, **optim):
        return Trainer.lr_factor(SimpleNamespace(cfg=SimpleNamespace(optim=OptimConfig(**optim)), total_iters=110), step)

    assert [factor(s, end_lr_ratio=0.01) for s in (0, 55, 110)] == pytest.approx([1.0, 0.505, 0.01])  # linear, as before
    cosine = dict(warmup_iters=10, schedule="cosine", end_lr_ratio=0.05)
    assert [factor(s, **cosine) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert factor(60, **cosine) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factor(110, **cosine) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="optim.schedule must be linear or cosine"):
        OptimConfig(schedule="step")


def test_start_weights_encoder_rate_and_frozen_batchnorm(synthetic_root, tiny_checkpoint, tmp_path):
    cfg = _cfg(synthetic_root, tmp_path, init_checkpoint=str(tiny_checkpoint), encoder_lr_mult=0.1, freeze_batchnorm=True)
    module = build_training_module(cfg)
    start = torch.load(tiny_checkpoint, weights_only=True)["state_dict"]
    assert all(torch.equal(module.student.state_dict()[k], v) for k, v in start.items())
    groups = module.param_groups(cfg.optim)
    assert [(g["part"], g["lr"]) for g in groups] == [("student", pytest.approx(1e-3)), ("student/encoder", pytest.approx(1e-4))]
    encoder = {id(p) for p in groups[1]["params"]}
    assert encoder == {id(p) for n, p in module.student.named_parameters() if n.startswith("backbone.")}
    module.train()
    norms = [m for m in module.student.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(m.training for m in norms) and module.student.decoder.training


def test_encoder_rate_zero_freezes_the_backbone(synthetic_root, tmp_path):
    module = build_training_module(_cfg(synthetic_root, tmp_path, encoder_lr_mult=0.0))
    assert not any(p.requires_grad for n, p in module.student.named_parameters() if n.startswith("backbone."))
    assert [g["part"] for g in module.param_groups(_cfg(synthetic_root, tmp_path).optim)] == ["student"]


def test_wrong_architecture_names_the_keys(synthetic_root, tiny_checkpoint, tmp_path):
    data = tiny_train_config(synthetic_root, tmp_path)
    data["model"]["head"]["n_bins"] = 16
    data["finetune"] = {"init_checkpoint": str(tiny_checkpoint)}
    with pytest.raises(ValueError, match="does not match the model architecture; shape mismatch"):
        build_training_module(train_config_from_dict(data))
