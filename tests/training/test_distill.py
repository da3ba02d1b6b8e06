"""Contract tests of DisDepth distillation on the real trainer and real synthetic files.

Teacher: the tiny Swin (random weights are enough for routing/shape contracts); student: the
small GhostNet of the other trainer tests. What is checked: output shapes per method, which
parameters each loss reaches (teacher none, FAM/LAM only from the ghost-teacher task loss,
student only from its own task loss and KD), the ghost reading the student's current decoder
after every step and never stored in checkpoints, warm-up gating and loss weights, exact resume mid-distillation, clear
teacher-checkpoint errors, and 2-process gloo DDP keeping every part identical across ranks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from disdepth_core.models import build_model
from disdepth_core.models.checkpoint import save_checkpoint
from tests.conftest import tiny_train_config
from training.train_config import train_config_from_dict
from training.modules import build_training_module
from training.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
TEACHER = "swin_nano_patch4_window7"


@pytest.fixture(scope="module")
def teacher_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    teacher = build_model(TEACHER, lg_conv=False, head={"n_bins": 32, "max_depth": 10.0})
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    save_checkpoint(path, teacher, teacher.cfg, {"dataset": "folder", "max_depth": 10.0})
    return path


def distill_mapping(root: Path, out: Path, teacher: Path, method: str = "disdepth", **distill) -> dict:
    data = tiny_train_config(root, out)
    data["log"]["tensorboard"] = False
    data["distill"] = {"enabled": True, "method": method, "teacher_checkpoint": str(teacher), "kd_start_epoch": 0,
                       "teacher_backbone": TEACHER, **distill}
    return data


def distill_config(root, out, teacher, method="disdepth", **distill):
    return train_config_from_dict(distill_mapping(root, out, teacher, method, **distill))


def images_batch(n: int = 2) -> dict:
    torch.manual_seed(1)
    return {"image": torch.randn(n, 3, 64, 96), "depth": torch.rand(n, 1, 64, 96) * 8 + 1}


def train_until_interrupted(trainer, stop_after_step: int) -> None:
    """Train until Ctrl-C's path (``stop_requested``) stops the run right after global step ``stop_after_step``."""
    original_step = trainer.step

    def step_then_interrupt(batch, epoch):
        result = original_step(batch, epoch)
        if trainer.global_step == stop_after_step:
            trainer.stop_requested = True
        return result

    trainer.step = step_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        trainer.train()


@pytest.mark.parametrize("method, parts", [("disdepth", ["student", "teacher", "fam", "lam"]),
                                           ("fam", ["student", "teacher", "fam"]),
                                           ("kd", ["student", "teacher", "kd"])])
def test_parts_outputs_and_optimised_groups(synthetic_root, tmp_path, teacher_checkpoint, method, parts):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint, method)
    module = build_training_module(cfg).train()
    assert list(module.parts) == parts
    assert not module.teacher.training  # frozen teacher stays in eval mode
    outputs = module(images_batch())
    assert outputs["depth"].shape == (2, 1, 64, 96)
    if method == "kd":
        assert outputs["kd/loss"].ndim == 0
    else:
        assert outputs["ghost/depth"].shape == (2, 1, 64, 96)
        assert [f.shape for f in outputs["fam/features"]] == [f.shape for f in outputs["features"]]
    if method == "disdepth":
        assert [s.shape for s in outputs["lam/scores"]] == [(2, 1, *f.shape[-2:]) for f in outputs["features"]]
    groups = {g["part"] for g in module.param_groups(cfg.optim)}
    assert groups == set(parts) - {"teacher"}
    state = module.trainable_state()
    assert set(state) == set(parts) - {"teacher"}  # the teacher comes from its own file
    # The ghost has no state of its own: the decoder/head weights are stored once, the student's.
    assert not any(key.split(".")[0] in ("decoder", "bin_centers", "bin_probabilities")
                   for name, part in state.items() if name != "student" for key in part)


def _grads(module) -> dict[str, bool]:
    """Per part: does any parameter hold a non-zero gradient?"""
    return {name: any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
            for name, part in module.parts.items()}


def test_each_loss_reaches_only_the_parts_it_should(synthetic_root, tmp_path, teacher_checkpoint):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint)
    module = build_training_module(cfg).train()
    terms = {t.name: t for t in module.loss_terms()}
    assert set(terms) == {"silog", "bins_chamfer", "ghost/silog", "ghost/bins_chamfer", "kd"}
    batch = images_batch()
    expected = {
        # The ghost-teacher task loss trains FAM and LAM only: not the student (its decoder runs
        # the ghost with detached weights), not the teacher.
        "ghost/silog": {"student": False, "teacher": False, "fam": True, "lam": True},
        "ghost/bins_chamfer": {"student": False, "teacher": False, "fam": True, "lam": True},
        # KD moves the student only: acclimated features and LAM scores are targets.
        "kd": {"student": True, "teacher": False, "fam": False, "lam": False},
        "silog": {"student": True, "teacher": False, "fam": False, "lam": False},
    }
    for name, want in expected.items():
        module.zero_grad(set_to_none=True)
        terms[name].fn(module(batch), batch, 0).backward()
        assert _grads(module) == want, name
    module.zero_grad(set_to_none=True)
    terms["kd"].fn(module(batch), batch, 0).backward()
    assert all(p.grad is None for p in module.student.decoder.parameters())  # KD is on backbone features


def test_ghost_decodes_with_the_students_decoder_after_every_step_and_teacher_never_moves(synthetic_root, tmp_path, teacher_checkpoint):
    cfg = distill_config(synthetic_root, tmp_path / "run", teacher_checkpoint)
    trainer = Trainer(cfg, progress=False)
    module = trainer.module
    teacher_before = [p.detach().clone() for p in module.teacher.parameters()]
    decoder_before = [p.detach().clone() for p in module.student.decoder.parameters()]
    batch = next(iter(trainer.loader))
    probe = images_batch()
    for _ in range(2):
        losses = trainer.step(batch, epoch=0)
        # The ghost's depth is the updated student decoder + heads on the acclimated features.
        torch.manual_seed(2)
        outputs = module.train()(probe)
        with torch.no_grad():
            teacher_features = module.teacher.forward_features(probe["image"])
            _, ghost_input, _ = module.acclimate(teacher_features, [f.shape[-2:] for f in outputs["features"]])
            reference = module.student.forward_head(ghost_input, probe["image"].shape[-2:])
        assert torch.equal(outputs["ghost/depth"], reference["depth"])
        assert torch.equal(outputs["ghost/bin_centers"], reference["bin_centers"])
    assert {"ghost/silog", "kd"} <= set(losses)
    assert not all(torch.equal(a, b) for a, b in zip(decoder_before, module.student.decoder.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, module.teacher.parameters()))
    assert not module.teacher.training


def test_warmup_gates_kd_and_the_total_uses_the_weights(synthetic_root, tmp_path, teacher_checkpoint):
    cfg = distill_config(synthetic_root, tmp_path, teacher_checkpoint, kd_start_epoch=3, kd_weight=0.05)
    cfg.loss.bins_weight = 0.1
    trainer = Trainer(cfg, progress=False)
    batch = {k: v for k, v in next(iter(trainer.loader)).items()}
    outputs = trainer.module.train()(batch)
    before = trainer.compute_losses(outputs, batch, epoch=2)
    after = trainer.compute_losses(outputs, batch, epoch=3)
    assert "kd" not in before and "kd" in after
    expected = (after["silog"] + 0.1 * after["bins_chamfer"] + after["ghost/silog"] + 0.1 * after["ghost/bins_chamfer"]
                + 0.05 * after["kd"])
    assert torch.allclose(after["total"], expected)
    assert torch.allclose(before["total"], expected - 0.05 * after["kd"])


def _run_states(module) -> dict[str, dict[str, torch.Tensor]]:
    return {name: {k: v.clone() for k, v in part.state_dict().items()} for name, part in module.parts.items()
            if name != "teacher"}


def test_resume_mid_distillation_restores_every_part_exactly(synthetic_root, tmp_path, teacher_checkpoint):
    """Interrupted after 1 of 3 steps and resumed == uninterrupted: student, FAM, LAM, optimiser."""
    mapping = distill_mapping(synthetic_root, tmp_path / "full", teacher_checkpoint, kd_start_epoch=1)
    mapping["optim"].update(epochs=2, max_iters_per_epoch=2)
    mapping["log"]["val_every"] = 0
    full = Trainer(train_config_from_dict(mapping), progress=False)
    full.train()

    mapping["log"]["out_dir"] = str(tmp_path / "cut")
    cut = Trainer(train_config_from_dict(mapping), progress=False)
    train_until_interrupted(cut, stop_after_step=3)  # mid second epoch, KD active
    resumed = Trainer(train_config_from_dict(mapping), resume=str(tmp_path / "cut" / "last.pt"), progress=False)
    assert (resumed.epoch, resumed.step_in_epoch, resumed.global_step) == (1, 1, 3)
    resumed.train()
    want, got = _run_states(full.module), _run_states(resumed.module)
    assert set(got) == {"student", "fam", "lam"}
    for part in want:
        for key in want[part]:
            assert torch.allclose(want[part][key], got[part][key], atol=1e-6), f"{part}.{key}"
    assert resumed.optimizer.state_dict()["state"][0]["step"] == full.optimizer.state_dict()["state"][0]["step"]


def test_teacher_checkpoint_errors_are_one_clear_line(synthetic_root, tmp_path, teacher_checkpoint):
    cases = [({"teacher_checkpoint": ""}, "distill.teacher_checkpoint is empty"),
             ({"teacher_checkpoint": str(tmp_path / "nope.pt")}, "does not exist"),
             ({"teacher_backbone": "swin_large_patch4_window12_384"}, "holds a swin_nano_patch4_window7 model"),
             ({"method": "dis_depth"}, "did you mean 'disdepth'")]
    for overrides, message in cases:
        mapping = distill_mapping(synthetic_root, tmp_path, teacher_checkpoint)
        mapping["distill"].update(overrides)
        with pytest.raises(ValueError, match=message):
            build_training_module(train_config_from_dict(mapping))
    kitti_teacher = build_model(TEACHER, lg_conv=False, head={"n_bins": 32, "max_depth": 80.0})
    save_checkpoint(tmp_path / "kitti.pt", kitti_teacher, kitti_teacher.cfg, {"dataset": "kitti"})
    with pytest.raises(ValueError, match="depths up to 80 m"):
        build_training_module(distill_config(synthetic_root, tmp_path, tmp_path / "kitti.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        build_training_module(distill_config(synthetic_root, tmp_path, tmp_path / "junk.pt"))


@pytest.mark.slow
def test_ddp_two_gloo_processes_keep_every_part_identical(synthetic_root, tmp_path, teacher_checkpoint):
    """torchrun, 2 CPU processes: each rank's student, FAM and LAM parameters equal after the steps."""
    mapping = distill_mapping(synthetic_root, tmp_path / "ddp", teacher_checkpoint, method="tests.training.distill_ranks:build")
    mapping["optim"]["batch_size"] = 2
    mapping["log"]["val_every"] = 0
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(mapping))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
           "-m", "training.train", "--config", str(config), "--device", "cpu", "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "2 process(es)" in out.stdout and "parts: student, teacher, fam, lam;" in out.stdout
    rank0 = torch.load(tmp_path / "ddp" / "parts_rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "ddp" / "parts_rank1.pt", weights_only=True)
    for part in ("student", "fam", "lam"):
        for key, value in rank0[part].items():
            assert torch.equal(value, rank1[part][key]), f"{part}.{key} differs between ranks"


def test_kd_warmup_skips_the_teacher_and_regressors(synthetic_root, tmp_path, teacher_checkpoint):
    """``kd`` with kd_start_epoch=1: epoch-0 steps run neither the teacher nor the regressors and the
    loss is the student's task loss; epoch-1 steps run both and add KD; a run resumed mid-warm-up
    still skips them (the trainer calls set_epoch for the epoch it continues)."""
    mapping = distill_mapping(synthetic_root, tmp_path / "kd", teacher_checkpoint, method="kd", kd_start_epoch=1)
    mapping["optim"].update(epochs=2, max_iters_per_epoch=2)
    mapping["log"]["val_every"] = 0
    trainer = Trainer(train_config_from_dict(mapping), progress=False)
    calls = {"teacher": 0, "kd": 0}
    trainer.module.teacher.forward_features = _counting(trainer.module.teacher.forward_features, calls, "teacher")
    hook = trainer.module.parts["kd"].register_forward_pre_hook(lambda *_: calls.__setitem__("kd", calls["kd"] + 1))
    seen: list[tuple[int, dict, dict]] = []
    original_losses = trainer.compute_losses

    def recording_losses(outputs, batch, epoch):  # called once per step, after the forward
        losses = original_losses(outputs, batch, epoch)
        seen.append((epoch, dict(calls), {k: v.detach().clone() for k, v in losses.items()}))
        calls.update(teacher=0, kd=0)
        return losses

    trainer.compute_losses = recording_losses
    trainer.train()
    hook.remove()
    bins = trainer.cfg.loss.bins_weight
    assert [epoch for epoch, *_ in seen] == [0, 0, 1, 1]
    for epoch, counts, losses in seen:
        task = losses["silog"] + bins * losses.get("bins_chamfer", torch.zeros(()))
        if epoch == 0:
            assert counts == {"teacher": 0, "kd": 0} and "kd" not in losses
            assert torch.allclose(losses["total"], task)
        else:
            assert counts == {"teacher": 1, "kd": 1} and "kd" in losses
            assert torch.allclose(losses["total"], task + trainer.cfg.distill.kd_weight * losses["kd"])

    # Resume into the middle of the warm-up: the continued epoch-0 step skips the teacher too.
    cut_mapping = dict(mapping, log=dict(mapping["log"], out_dir=str(tmp_path / "cut")))
    cut = Trainer(train_config_from_dict(cut_mapping), progress=False)
    train_until_interrupted(cut, stop_after_step=1)
    resumed = Trainer(train_config_from_dict(cut_mapping), resume=str(tmp_path / "cut" / "last.pt"), progress=False)
    assert (resumed.epoch, resumed.step_in_epoch) == (0, 1)
    teacher_calls = {"teacher": 0}
    resumed.module.teacher.forward_features = _counting(resumed.module.teacher.forward_features, teacher_calls, "teacher")
    epochs_run: list[tuple[int, int]] = []
    original_resumed_step = resumed.step

    def counting_step(batch, epoch):
        before = teacher_calls["teacher"]
        result = original_resumed_step(batch, epoch)
        epochs_run.append((epoch, teacher_calls["teacher"] - before))
        return result

    resumed.step = counting_step
    resumed.train()
    assert epochs_run == [(0, 0), (1, 1), (1, 1)]


def _counting(fn, calls: dict, key: str):
    def wrapper(*args, **kwargs):
        calls[key] += 1
        return fn(*args, **kwargs)
    return wrapper
