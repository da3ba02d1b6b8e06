"""Real training runs on synthetic files: single process, resume, divergence guard, DDP with gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from disdepth_core.models.checkpoint import read_checkpoint
from tests.conftest import tiny_train_config
from training.config import train_config_from_dict
from training.trainer import Trainer, TrainingDiverged

REPO = Path(__file__).resolve().parents[2]


def test_train_saves_checkpoints_logs_and_resumes(synthetic_root, tmp_path):
    cfg = train_config_from_dict(tiny_train_config(synthetic_root, tmp_path / "run"))
    trainer = Trainer(cfg, progress=False)
    metrics = trainer.train()
    assert metrics["n_images"] == 6 and 0 < metrics["abs_rel"] < 10
    last = read_checkpoint(tmp_path / "run" / "last.pt")
    assert last["training_state"]["epoch"] == 1 and last["training_state"]["global_step"] == 2
    assert last["meta"]["max_depth"] == 10.0 and last["meta"]["train_focal"] > 0
    assert last["meta"]["input_size"] == [120, 160]  # full synthetic frame: folder datasets evaluate uncropped
    assert (tmp_path / "run" / "best.pt").is_file()
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    # LR decays linearly over all iterations.
    assert trainer.scheduler.get_last_lr()[0] == pytest.approx(1e-3 * (1 - 0.99 * 2 / 2))

    cfg.optim.epochs = 2
    resumed = Trainer(cfg, resume=str(tmp_path / "run" / "last.pt"), progress=False)
    assert (resumed.epoch, resumed.global_step) == (1, 2)
    assert torch.equal(next(resumed.model.parameters()), next(trainer.model.parameters()))
    resumed.train()
    assert read_checkpoint(tmp_path / "run" / "last.pt")["training_state"]["global_step"] == 4


def test_overfitting_one_batch_reduces_the_loss(synthetic_root, tmp_path):
    cfg = train_config_from_dict(tiny_train_config(synthetic_root, tmp_path / "fit", lr=3e-3))
    cfg.log.tensorboard = False
    trainer = Trainer(cfg, progress=False)
    batch = next(iter(trainer.loader))
    first = trainer.step(batch, epoch=0)["silog"]
    for _ in range(50):
        last = trainer.step(batch, epoch=0)["silog"]
    assert last < 0.85 * first, (first, last)


def test_non_finite_losses_skip_updates_then_stop_with_checkpoint_kept(synthetic_root, tmp_path, monkeypatch):
    cfg = train_config_from_dict(tiny_train_config(synthetic_root, tmp_path / "nan"))
    cfg.log.tensorboard = False
    trainer = Trainer(cfg, progress=False)
    batch = next(iter(trainer.loader))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.loss_terms[0].fn = lambda outputs, batch, epoch: outputs["depth"].sum() * float("nan")
    with pytest.raises(TrainingDiverged, match="consecutive non-finite"):
        for _ in range(30):
            trainer.step(batch, epoch=0)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_cli_user_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr: 1}\n")
    for argv, expected in ((["--config", str(tmp_path / "missing.yaml")], "config file not found"),
                           (["--config", str(bad)], "no 'data' section")):
        out = subprocess.run([sys.executable, "-m", "training.train", *argv], capture_output=True, text=True, cwd=REPO, timeout=120)
        assert out.returncode == 2
        assert expected in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_ddp_two_processes_gloo(synthetic_root, tmp_path):
    """Two CPU processes through torchrun with the gloo backend, as multi-GPU runs use NCCL."""
    config = tmp_path / "ddp.yaml"
    data = tiny_train_config(synthetic_root, tmp_path / "ddp")
    data["optim"]["batch_size"] = 2
    config.write_text(yaml.safe_dump(data))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "training.train", "--config", str(config), "--device", "cpu", "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "2 process(es)" in out.stdout
    state = read_checkpoint(tmp_path / "ddp" / "last.pt")["training_state"]
    assert state["global_step"] == 2 and state["metrics"]["n_images"] == 6


def test_eval_cli_writes_json(synthetic_root, tmp_path):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_train_config(synthetic_root, tmp_path / "e")))
    Trainer(train_config_from_dict(yaml.safe_load(cfg_path.read_text())), progress=False).train()
    out_json = tmp_path / "m.json"
    cmd = [sys.executable, "-m", "disdepth_core.cli", "eval", "--config", str(cfg_path), "--checkpoint", str(tmp_path / "e" / "last.pt"),
           "--flip-tta", "--save-json", str(out_json), "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "abs_rel" in out.stdout and "d1" in out.stdout
    result = json.loads(out_json.read_text())
    assert result["flip_tta"] is True and result["metrics"]["n_images"] == 6
    assert set(result["metrics"]) >= {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "d1", "d2", "d3"}
