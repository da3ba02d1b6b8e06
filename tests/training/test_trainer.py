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
from training.train_config import train_config_from_dict
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
    """Two CPU processes through torchrun with the gloo backend, as multi-GPU runs use NCCL.

    DDP wraps the whole composite: a test-only trainable part besides the student (an adapter
    with its own data-dependent loss, tests/training/extra_part.py) must end identical on both
    ranks although each rank saw different samples, i.e. its gradients were all-reduced.
    """
    from tests.training.extra_part import METHOD, build_with_adapter

    config = tmp_path / "ddp.yaml"
    data = tiny_train_config(synthetic_root, tmp_path / "ddp")
    data["optim"]["batch_size"] = 2
    data["distill"] = {"enabled": True, "method": METHOD, "kd_start_epoch": 0}
    config.write_text(yaml.safe_dump(data))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "training.train", "--config", str(config), "--device", "cpu", "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "2 process(es)" in out.stdout and "parts: student, adapter, frozen" in out.stdout
    state = read_checkpoint(tmp_path / "ddp" / "last.pt")["training_state"]
    assert state["global_step"] == 2 and state["metrics"]["n_images"] == 6
    rank0, rank1 = (torch.load(tmp_path / "ddp" / f"adapter_rank{r}.pt")["weight"] for r in (0, 1))
    assert torch.equal(rank0, rank1) and torch.equal(rank0, state["parts"]["adapter"]["weight"])
    torch.manual_seed(0)  # rank 0's initial weights (seed + rank), broadcast by DDP at start
    initial = build_with_adapter(train_config_from_dict(data)).parts["adapter"].weight
    assert not torch.allclose(rank0, initial)  # it did train
    assert len(state["rng"]) == 2  # each rank's RNG state is kept for an exact resume


def test_eval_cli_writes_json(synthetic_root, tmp_path):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_train_config(synthetic_root, tmp_path / "e")))
    Trainer(train_config_from_dict(yaml.safe_load(cfg_path.read_text())), progress=False).train()
    out_json = tmp_path / "m.json"
    cmd = [sys.executable, "-m", "disdepth_cli", "eval", "--config", str(cfg_path), "--checkpoint", str(tmp_path / "e" / "last.pt"),
           "--flip-tta", "--save-json", str(out_json), "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "abs_rel" in out.stdout and "d1" in out.stdout
    result = json.loads(out_json.read_text())
    assert result["flip_tta"] is True and result["metrics"]["n_images"] == 6
    assert set(result["metrics"]) >= {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "d1", "d2", "d3"}


# Rank 1's data breaks at its second batch; rank 0's is fine.
BREAK_RANK1 = """
import os, sys
from disdepth_core.data.depth_dataset import DepthDataset
original, calls = DepthDataset.__getitem__, []
def getitem(self, index):
    if self.mode == "train" and os.environ["RANK"] == "1":
        calls.append(index)
        if len(calls) > 3:  # one sample read at start + one batch of 2
            raise OSError("corrupt file on rank 1")
    return original(self, index)
DepthDataset.__getitem__ = getitem
from training.train import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_ddp_data_error_on_one_rank_stops_all_ranks_at_the_same_step(synthetic_root, tmp_path):
    """No rank may wait forever in a collective: the error is exchanged before each step."""
    config = tmp_path / "ddp.yaml"
    data = tiny_train_config(synthetic_root, tmp_path / "ddp", batch_size=2, max_iters_per_epoch=3)
    data["log"].update({"tensorboard": False, "val_every": 0})
    config.write_text(yaml.safe_dump(data))
    script = tmp_path / "break_rank1.py"
    script.write_text(BREAK_RANK1)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29534",
           str(script), "--config", str(config), "--device", "cpu", "--no-progress"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert out.returncode != 0
    assert "error: loading training data failed at epoch 1 step 1: OSError: corrupt file on rank 1" in out.stderr
    assert "error: another process could not load its training data" in out.stderr  # rank 0, same step
    state = read_checkpoint(tmp_path / "ddp" / "last.pt")["training_state"]
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (0, 1, 1)
