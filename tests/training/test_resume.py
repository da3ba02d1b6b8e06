"""Exact resume: an interrupted run trains on the same samples, in the same order, to the same weights.

The interruption is a real SIGINT delivered to this process in the middle of an epoch; the
trainer's handler finishes the step, saves ``last.pt`` at that step and re-raises.
"""

from __future__ import annotations

import os
import signal

import pytest
import torch

from disdepth_core.models.checkpoint import read_checkpoint
from tests.conftest import tiny_train_config
from training.train_config import train_config_from_dict
from training.sampler import ResumableEpochSampler
from training.trainer import Trainer


def _cfg(root, out):
    data = tiny_train_config(root, out, epochs=2, max_iters_per_epoch=2)
    data["log"].update({"tensorboard": False, "val_every": 0, "image_every": 0})
    return train_config_from_dict(data)


def _record_batches(trainer: Trainer, seen: list[float], interrupt_at: int | None = None, sig: int = signal.SIGINT) -> None:
    """Log a fingerprint of every trained batch; optionally send ourselves ``sig`` after a step."""
    original = trainer.step

    def step(batch, epoch):
        seen.append(round(float(batch["depth"].double().sum()), 3))
        losses = original(batch, epoch)
        if trainer.global_step == interrupt_at:
            os.kill(os.getpid(), sig)
        return losses

    trainer.step = step


def _adam_steps(trainer: Trainer) -> set[int]:
    return {int(state["step"]) for state in trainer.optimizer.state.values()}


def test_sampler_skips_exactly_the_trained_batches():
    sampler = ResumableEpochSampler(25, batch_size=4, seed=7, rank=1, world_size=2)
    full = sampler.epoch_order(3)
    assert len(full) == 12 and sampler.batches_per_epoch == 3
    assert full == ResumableEpochSampler(25, 4, seed=7, rank=1, world_size=2).epoch_order(3)  # pure function of (seed, epoch)
    assert full != sampler.epoch_order(4)
    other = ResumableEpochSampler(25, 4, seed=7, rank=0, world_size=2).epoch_order(3)
    assert not set(full) & set(other)  # ranks see disjoint shards
    sampler.set_epoch(3, start_batch=2)
    assert list(sampler) == full[8:] and len(sampler) == 4
    with pytest.raises(ValueError):
        sampler.set_epoch(3, start_batch=4)


def test_interrupted_run_resumes_at_the_exact_step(synthetic_root, tmp_path):
    straight = Trainer(_cfg(synthetic_root, tmp_path / "a"), progress=False)
    seen_straight: list[float] = []
    _record_batches(straight, seen_straight)
    straight.train()
    assert len(seen_straight) == 4

    cfg = _cfg(synthetic_root, tmp_path / "b")
    first = Trainer(cfg, progress=False)
    handler_before = signal.getsignal(signal.SIGINT)
    seen: list[float] = []
    _record_batches(first, seen, interrupt_at=3)  # epoch 2, after its first step
    with pytest.raises(KeyboardInterrupt):
        first.train()
    state = read_checkpoint(tmp_path / "b" / "last.pt")["training_state"]
    assert (state["epoch"], state["step_in_epoch"], state["global_step"], state["epoch_complete"]) == (1, 1, 3, False)
    assert signal.getsignal(signal.SIGINT) == handler_before and seen == seen_straight[:3]

    resumed = Trainer(cfg, resume=str(tmp_path / "b" / "last.pt"), progress=False)
    _record_batches(resumed, seen)
    resumed.train()
    assert seen == seen_straight  # the same 4 batches in the same order: none replayed, none skipped
    assert resumed.global_step == 4 and resumed.scheduler.last_epoch == 4 and _adam_steps(resumed) == {4}
    for (name, a), b in zip(straight.module.state_dict().items(), resumed.module.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.scheduler.get_last_lr() == straight.scheduler.get_last_lr()


def test_resume_never_replaces_best_with_a_worse_epoch(synthetic_root, tmp_path, monkeypatch):
    cfg = _cfg(synthetic_root, tmp_path / "best")
    cfg.optim.epochs, cfg.log.val_every = 1, 1
    monkeypatch.setattr(Trainer, "validate", lambda self: {"abs_rel": 0.5})
    Trainer(cfg, progress=False).train()
    best = tmp_path / "best" / "best.pt"
    before = best.read_bytes()

    cfg.optim.epochs = 2
    monkeypatch.setattr(Trainer, "validate", lambda self: {"abs_rel": 0.9})  # a worse epoch
    resumed = Trainer(cfg, resume=str(tmp_path / "best" / "last.pt"), progress=False)
    assert resumed.best_abs_rel == 0.5  # restored before anything could be saved
    resumed.train()
    assert best.read_bytes() == before
    assert read_checkpoint(tmp_path / "best" / "last.pt")["training_state"]["best_abs_rel"] == 0.5


def test_sigterm_also_saves_at_the_step_and_handlers_are_restored(synthetic_root, tmp_path):
    """Schedulers and torchrun send SIGTERM before killing a job: same save-at-this-step path."""
    cfg = _cfg(synthetic_root, tmp_path / "term")
    cfg.optim.epochs = 1
    trainer = Trainer(cfg, progress=False)
    before = signal.getsignal(signal.SIGTERM)
    _record_batches(trainer, [], interrupt_at=1, sig=signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    state = read_checkpoint(tmp_path / "term" / "last.pt")["training_state"]
    assert (state["epoch"], state["step_in_epoch"], state["epoch_complete"]) == (0, 1, False)
    assert signal.getsignal(signal.SIGTERM) == before
