"""Durability: kill -9 during a checkpoint write, Ctrl-C mid-epoch, and one-line user errors.

SIGKILL and SIGINT go to real ``python -m training.train`` subprocesses. The full disk is
simulated by making the checkpoint write raise ``OSError(ENOSPC)`` (a real full filesystem
cannot be made here without root mounts); the other errors are real.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from disdepth_core.models.checkpoint import read_checkpoint
from tests.conftest import tiny_train_config
from tests.training.extra_part import METHOD
from training.train import main

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def _config(root: Path, tmp: Path, name: str = "run", **optim) -> tuple[Path, Path]:
    data = tiny_train_config(root, tmp / name, **{"max_iters_per_epoch": 1, **optim})
    data["log"].update({"tensorboard": False, "val_every": 0, "image_every": 0})
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, tmp / name


def _temps(out_dir: Path) -> list[Path]:
    return sorted(out_dir.glob(".*.tmp"))


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.stdout.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the training subprocess")
        time.sleep(0.1)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ") and "Traceback" not in "\n".join(err)
    return err[-1]


# A training run whose second torch.save writes a few bytes and then hangs: SIGKILL lands mid-write.
HANGING_SAVE = """
import sys, time, torch
real_save, calls = torch.save, []
def save(obj, f, *args, **kwargs):
    calls.append(1)
    if len(calls) >= 2:
        f.write(b"partial"); f.flush()
        print("WRITING", flush=True)
        time.sleep(600)
    return real_save(obj, f, *args, **kwargs)
torch.save = save
from training.train import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_during_checkpoint_write_keeps_last_and_cleans_the_temp(synthetic_root, tmp_path):
    config, out_dir = _config(synthetic_root, tmp_path, epochs=2)
    proc = subprocess.Popen([sys.executable, "-c", HANGING_SAVE, "--config", str(config), "--no-progress"], cwd=REPO,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: bool(_temps(out_dir)) and (out_dir / "last.pt").is_file(), proc)
    line = ""
    while "WRITING" not in line:
        line = proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert [p.stat().st_size for p in _temps(out_dir)] == [7]  # the killed write's partial file ...
    assert read_checkpoint(out_dir / "last.pt")["training_state"]["epoch"] == 1  # ... never replaced last.pt

    assert main(["--config", str(config), "--resume", "--no-progress"]) == 0
    assert _temps(out_dir) == []  # removed at start
    state = read_checkpoint(out_dir / "last.pt")["training_state"]
    assert (state["epoch"], state["global_step"]) == (2, 2)


@pytest.mark.slow
def test_ctrl_c_mid_epoch_saves_and_resumes_every_part_at_the_exact_step(synthetic_root, tmp_path):
    data = tiny_train_config(synthetic_root, tmp_path / "int", epochs=50, max_iters_per_epoch=3, num_workers=1)
    data["log"].update({"tensorboard": False, "val_every": 0, "image_every": 0})
    data["distill"] = {"enabled": True, "method": METHOD, "kd_start_epoch": 0}  # a composite with an extra part
    config = tmp_path / "int.yaml"
    config.write_text(yaml.safe_dump(data))
    out_dir = tmp_path / "int"
    proc = subprocess.Popen([sys.executable, "-m", "training.train", "--config", str(config), "--no-progress"], cwd=REPO,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: (out_dir / "adapter_rank0.pt").is_file(), proc)  # written after every step
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output[-2000:]
    assert "Traceback" not in output and "interrupted at epoch" in output
    payload = read_checkpoint(out_dir / "last.pt")
    state = payload["training_state"]
    assert state["epoch_complete"] is False and state["global_step"] >= 1
    assert state["global_step"] == 3 * state["epoch"] + state["step_in_epoch"]
    # The adapter in the checkpoint is the one trained up to that step (written by the same step).
    assert torch.equal(state["parts"]["adapter"]["weight"], torch.load(out_dir / "adapter_rank0.pt")["weight"])

    finish = state["epoch"] + 1  # resume and finish the interrupted epoch only
    assert main(["--config", str(config), "--resume", "--no-progress", "--set", f"optim.epochs={finish}"]) == 0
    final = read_checkpoint(out_dir / "last.pt")["training_state"]
    assert (final["epoch"], final["step_in_epoch"], final["global_step"]) == (finish, 0, 3 * finish)


def test_full_disk_is_one_line_and_keeps_the_last_checkpoint(synthetic_root, tmp_path, monkeypatch, capsys):
    config, out_dir = _config(synthetic_root, tmp_path, epochs=2)
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) >= 2:
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    assert main(["--config", str(config), "--no-progress"]) == 2
    line = _error_line(capsys)
    assert "No space left on device" in line and "previous checkpoint there is intact" in line
    assert read_checkpoint(out_dir / "last.pt")["training_state"]["epoch"] == 1 and _temps(out_dir) == []


@pytest.mark.parametrize("case", ["under_a_file", "is_a_file"])
def test_unusable_out_dir_is_one_line_before_any_work(synthetic_root, tmp_path, capsys, case):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    target = blocker / "run" if case == "under_a_file" else blocker
    config, _ = _config(synthetic_root, tmp_path)
    assert main(["--config", str(config), "--out-dir", str(target), "--no-progress"]) == 2
    assert "is not a writable folder" in _error_line(capsys)


def test_bad_data_is_one_line_at_start(synthetic_root, tmp_path, capsys):
    """The NYU border crop needs 480x640 frames; the synthetic set is 120x160."""
    config, _ = _config(synthetic_root, tmp_path)
    data = yaml.safe_load(config.read_text())
    data["data"]["name"] = "nyu"
    config.write_text(yaml.safe_dump(data))
    assert main(["--config", str(config), "--no-progress"]) == 2
    assert "too small for the NYU border crop" in _error_line(capsys)


def test_worker_error_mid_run_saves_the_exact_step_and_is_one_line(synthetic_root, tmp_path, monkeypatch, capsys):
    from disdepth_core.data.depth_dataset import DepthDataset

    config, out_dir = _config(synthetic_root, tmp_path, epochs=2, num_workers=1)
    original = DepthDataset.__getitem__

    def getitem(self, index):
        if self.mode == "train" and self.epoch == 1:  # a file that breaks in the second epoch
            raise OSError(f"corrupt file frame_{index:04d}.png")
        return original(self, index)

    monkeypatch.setattr(DepthDataset, "__getitem__", getitem)  # forked workers inherit it
    assert main(["--config", str(config), "--no-progress"]) == 2
    line = _error_line(capsys)
    assert "loading training data failed at epoch 2 step 0" in line and "corrupt file frame_" in line
    state = read_checkpoint(out_dir / "last.pt")["training_state"]
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 0, 1)


@pytest.mark.parametrize("argv,expected", [
    (["--set", "optim.lr=abc"], "optim.lr must be a number, got 'abc' (text) (from --set optim.lr=abc)"),
    (["--device", "tpu"], "--device 'tpu' is not supported"),
    pytest.param(["--device", "cuda"], "CUDA is not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")),
])
def test_train_user_errors_are_one_line(synthetic_root, tmp_path, capsys, argv, expected):
    config, out_dir = _config(synthetic_root, tmp_path)
    assert main(["--config", str(config), "--no-progress", *argv]) == 2
    assert expected in _error_line(capsys)
    assert not (out_dir / "last.pt").exists()


@pytest.mark.parametrize("device,expected", [("tpu", "is not supported"),
                                             pytest.param("cuda", "CUDA is not available", marks=pytest.mark.skipif(
                                                 torch.cuda.is_available(), reason="needs a machine without CUDA"))])
def test_eval_device_errors_are_one_line(synthetic_root, tmp_path, tiny_checkpoint, capsys, device, expected):
    from disdepth_cli import main as disdepth

    config, _ = _config(synthetic_root, tmp_path)
    assert disdepth(["eval", "--config", str(config), "--checkpoint", str(tiny_checkpoint), "--device", device]) == 2
    assert expected in _error_line(capsys)
