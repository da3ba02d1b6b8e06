"""Distillation diagnostics (training/distill/diagnostics.py): the right figures, at the logging interval only.

Each figure is checked against an independent computation on the real composite (GhostNet + LG
student, Swin-nano teacher file, tiny sizes): the KD/task gradient ratio against two separate
backward passes, the imitation residuals against their formula, LAM's mean against its claim (1).
"""

from __future__ import annotations

import re

import torch

from disdepth_core.models.kd import relative_residuals
from tests.training.test_distill import distill_config, teacher_checkpoint  # noqa: F401 (fixture)
from training.trainer import Trainer


def first_batch(trainer: Trainer) -> dict:
    return next(iter(trainer.loader))


def backbone_grad_norm(module, loss: torch.Tensor) -> float:
    module.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    grads = [p.grad for p in module.student.backbone.parameters() if p.grad is not None]
    module.zero_grad(set_to_none=True)
    return float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))


def test_gradient_ratio_and_residual_match_separate_computations(synthetic_root, tmp_path, teacher_checkpoint):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint, "disdepth", kd_weight=0.05)
    trainer = Trainer(cfg, device="cpu", progress=False)
    module, batch = trainer.module.train(), first_batch(trainer)
    outputs = module(batch)
    losses = trainer.compute_losses(outputs, batch, epoch=0)
    values = module.diagnostics(outputs, losses)
    task = losses["silog"] + cfg.loss.bins_weight * losses["bins_chamfer"]
    kd = cfg.distill.kd_weight * losses["kd"]
    task_norm, kd_norm = backbone_grad_norm(module, task), backbone_grad_norm(module, kd)
    assert abs(values["grad_norm/task"] - task_norm) <= 1e-4 * task_norm
    assert abs(values["grad_norm/kd"] - kd_norm) <= 1e-4 * kd_norm
    assert abs(values["kd_task_grad_ratio"] - kd_norm / task_norm) <= 1e-3 * kd_norm / task_norm
    acclimated, student = outputs["fam/features"], outputs["features"]
    expected = [float((s - a).pow(2).sum() / a.pow(2).sum()) for a, s in zip(acclimated, student)]
    assert [round(values[f"residual/s{i}"], 5) for i in range(4)] == [round(e, 5) for e in expected]
    assert abs(values["lam/mean"] - 1.0) < 1e-5  # LAM's weights average exactly 1 (its docstring's claim)
    assert values["lam/max"] > 1.0 and 0.0 <= values["lam/zero_frac"] <= 1.0


def test_plain_kd_residual_goes_through_the_regressors_and_needs_the_teacher(synthetic_root, tmp_path, teacher_checkpoint):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint, "kd", kd_start_epoch=1)
    trainer = Trainer(cfg, device="cpu", progress=False)
    module, batch = trainer.module.train(), first_batch(trainer)
    module.set_epoch(0)  # warm-up: the teacher does not run, so there is nothing to measure
    outputs = module(batch)
    assert module.diagnostics(outputs, trainer.compute_losses(outputs, batch, epoch=0)) == {}
    module.set_epoch(1)
    outputs = module(batch)
    values = module.diagnostics(outputs, trainer.compute_losses(outputs, batch, epoch=1))
    hints = [r(s) for r, s in zip(module.parts["kd"].regressors, outputs["features"])]
    expected = relative_residuals(outputs["teacher/features"], hints)
    assert [round(values[f"residual/s{i}"], 5) for i in range(4)] == [round(float(e), 5) for e in expected]
    assert values["kd_task_grad_ratio"] > 0 and "lam/mean" not in values


def test_lam_does_not_inflate_the_kd_gradient_at_initialisation(synthetic_root, tmp_path, teacher_checkpoint):
    """Same seed, same student and FAM: at initialisation LAM is near-uniform, so the disdepth row's
    KD/task ratio is the fam row's within a few percent (the normalised weights agree with M there)."""
    ratios = {}
    for method in ("fam", "disdepth"):
        trainer = Trainer(distill_config(synthetic_root, tmp_path / method, teacher_checkpoint, method), device="cpu", progress=False)
        module, batch = trainer.module.train(), first_batch(trainer)
        outputs = module(batch)
        ratios[method] = module.diagnostics(outputs, trainer.compute_losses(outputs, batch, epoch=0))["kd_task_grad_ratio"]
    assert 0.85 < ratios["disdepth"] / ratios["fam"] < 1.15, ratios


def test_trainer_logs_diagnostics_at_the_logging_interval_only(synthetic_root, tmp_path, teacher_checkpoint, capsys, monkeypatch):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint, "disdepth")
    cfg.optim.max_iters_per_epoch, cfg.log.log_every, cfg.log.image_every, cfg.log.tensorboard = 4, 2, 0, True
    trainer = Trainer(cfg, device="cpu", progress=False)
    calls = []
    original = trainer.module.diagnostics
    monkeypatch.setattr(trainer.module, "diagnostics", lambda *a, **k: calls.append(trainer.global_step) or original(*a, **k))
    trainer.train()
    assert calls == [1, 3]  # computed on the steps that end at global steps 2 and 4, before their backward
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[diag]")]
    assert [int(re.search(r" step (\d+):", line).group(1)) for line in lines] == [2, 4]
    for key in ("silog=", "ghost/silog=", "kd=", "kd_task_grad_ratio=", "residual=", "lam/max="):
        assert all(key in line for line in lines), key
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("diag/kd_task_grad_ratio")] == [2, 4]


def test_supervised_runs_log_no_diagnostics(synthetic_root, tmp_path, teacher_checkpoint, capsys):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint)
    cfg.distill.enabled = False
    cfg.log.image_every = 0
    Trainer(cfg, device="cpu", progress=False).train()
    assert "[diag]" not in capsys.readouterr().out
