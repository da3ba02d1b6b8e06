"""Training of one composite module. Reads top to bottom, like monodepth2's trainer:

``train -> run_epoch -> step -> compute_losses -> validate -> log -> save``.

Every network of a run (the student; for distillation also the teacher, FAMs, LAMs;
the ghost decoder is the student's own decoder called with detached weights) lives in one :class:`~training.modules.TrainingModule` built from the config by
:func:`~training.modules.build_training_module` *before* the optimiser and LR schedule: the
optimiser gets its parameter groups, DDP wraps all of it, gradient clipping covers all its
trainable parameters, checkpoints hold all its parts, and the loss terms read its outputs. To
add a method, extend the module (see :mod:`training.modules`), not this file.

Durability: checkpoints are written atomically (temp file in the same folder, fsync, rename);
stale temp files from a killed write are removed at start; a run resumes at the exact step it
stopped (model, every part, optimiser, scheduler, AMP scaler, RNG states, sampler position);
Ctrl-C finishes the current step and saves a mid-epoch checkpoint. Failures a user can fix
(unwritable ``out_dir``, full disk, unreadable data) raise :class:`TrainingError` with one
line, after which the last good checkpoint is still on disk.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from disdepth_core.data.depth_dataset import build_dataset
from disdepth_core.entry_point import UserError
from disdepth_core.errors_text import last_line
from disdepth_core.models.checkpoint import read_checkpoint, save_checkpoint, write_stopped_error
from disdepth_core.models.pretrained import check_obtainable
from disdepth_core.runtime.normalization import IMAGENET_MEAN, IMAGENET_STD
from disdepth_core.visualize import colorize_depth

from .train_config import TrainConfig
from .distributed import DistInfo, all_reduce_sum, init_distributed
from .validation import evaluate_model
from .loss_terms import LossTerm
from .modules import STUDENT, TrainingModule, build_training_module
from .run_folder import RUN_CHECKPOINTS
from .sampler import ResumableEpochSampler

MAX_CONSECUTIVE_BAD_STEPS = 20
CHECKPOINT_NAMES = RUN_CHECKPOINTS  # one list: the train command checks them before torch loads


class TrainingError(UserError):
    """A failure the user can fix; its message is one line and the last checkpoint is intact."""


class TrainingDiverged(TrainingError):
    """Raised after too many consecutive non-finite losses (the last checkpoint is kept)."""


class CheckpointWriteError(TrainingError):
    """A checkpoint could not be written (full disk, permissions); the previous file is intact."""


class DataLoadingError(TrainingError):
    """Reading or augmenting a training sample failed (in the main process or a worker)."""


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: str | None = None, device: str = "auto", progress: bool = True) -> None:
        self.cfg = cfg
        check_obtainable(cfg.model.pretrained_backbone, cfg.model.backbone)  # one line before any work
        self.dist: DistInfo = init_distributed(device)
        self.progress = progress and self.dist.is_main
        self.out_dir = Path(cfg.log.out_dir)
        if self.dist.is_main:
            prepare_out_dir(self.out_dir)
        torch.manual_seed(cfg.seed + self.dist.rank)

        # The composite first: the optimiser, the schedule and DDP are built over all of it.
        self.module: TrainingModule = build_training_module(cfg).to(self.dist.device)
        self.model: nn.Module = self.module.student  # what validation, logging and best.pt use
        self.loss_terms: list[LossTerm] = self.module.loss_terms()

        self.train_set = build_dataset(cfg.data, "train", seed=cfg.seed, progress=self.progress)
        if len(self.train_set) == 0:
            raise ValueError(f"training split {cfg.data.train_split} has no samples with ground truth")
        check_first_sample(self.train_set)
        self.inference_size()  # every checkpoint records it: a data problem here must stop the run now, not at its first save
        self.sampler = ResumableEpochSampler(len(self.train_set), cfg.optim.batch_size, seed=cfg.seed,
                                             rank=self.dist.rank, world_size=self.dist.world_size)
        if self.sampler.batches_per_epoch == 0:
            raise ValueError(f"batch size {cfg.optim.batch_size} x {self.dist.world_size} process(es) exceeds the {len(self.train_set)} training samples")
        self.loader = DataLoader(self.train_set, batch_size=cfg.optim.batch_size, sampler=self.sampler, drop_last=True,
                                 num_workers=cfg.optim.num_workers, pin_memory=self.dist.device.type == "cuda",
                                 persistent_workers=False,  # workers must see set_epoch()
                                 generator=torch.Generator().manual_seed(cfg.seed))  # leaves the global RNG alone
        batches = self.sampler.batches_per_epoch
        self.iters_per_epoch = min(batches, cfg.optim.max_iters_per_epoch) if cfg.optim.max_iters_per_epoch else batches
        self.total_iters = self.iters_per_epoch * cfg.optim.epochs

        self.ddp_module: nn.Module = self.module
        if self.dist.enabled:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.ddp_module = nn.parallel.DistributedDataParallel(self.module, device_ids=ids,
                                                                  find_unused_parameters=self.module.find_unused_parameters)
        self.optimizer = torch.optim.AdamW(self.module.param_groups(cfg.optim))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.use_amp = cfg.optim.amp and self.dist.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0  # completed steps of epoch ``self.epoch``
        self.global_step = 0
        self.best_abs_rel = math.inf
        self.bad_steps = 0
        self.diagnostics: dict[str, float] = {}  # the module's figures of the current logging step
        self.stop_requested = False
        self.data_error: DataLoadingError | None = None
        # Restored before anything is saved, so best.pt is only ever replaced by a better score.
        if resume:
            self.load(resume)
        self.writer = self.make_writer()

    # ---------------------------------------------------------------- set-up helpers
    def lr_factor(self, step: int) -> float:
        """Linear decay from 1 to ``end_lr_ratio`` across all iterations (paper section 4)."""
        progress = min(step / max(self.total_iters, 1), 1.0)
        return 1.0 - (1.0 - self.cfg.optim.end_lr_ratio) * progress

    def make_writer(self) -> Any:
        if not (self.dist.is_main and self.cfg.log.tensorboard):
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.out_dir / "tensorboard"))

    # ---------------------------------------------------------------- the loop
    def train(self) -> dict[str, float]:
        """Train for the configured epochs; returns the last validation metrics.

        Ctrl-C (SIGINT) or SIGTERM stops after the current step, saves ``last.pt`` at that exact
        step and raises ``KeyboardInterrupt``; a second one aborts at once (last checkpoint kept).
        """
        metrics: dict[str, float] = {}
        if self.dist.is_main:
            print(f"[train] {self.cfg.name}: {self.cfg.model.backbone} (LG-Conv {'on' if self.cfg.model.lg_conv else 'off'}), "
                  f"parts: {', '.join(self.module.parts)}; {len(self.train_set)} samples, {self.iters_per_epoch} it/epoch x "
                  f"{self.cfg.optim.epochs} epochs, {self.dist.world_size} process(es) on {self.dist.device}", flush=True)
        restore_handler = self.install_interrupt_handler()
        try:
            for epoch in range(self.epoch, self.cfg.optim.epochs):
                self.run_epoch(epoch)
                if self.stop_requested:
                    self.save({}, epoch_complete=False)
                    if self.dist.is_main:
                        print(f"\n[train] interrupted at epoch {epoch + 1} step {self.step_in_epoch}; saved "
                              f"{self.out_dir / 'last.pt'} (continue with --resume)", flush=True)
                    raise KeyboardInterrupt
                self.epoch, self.step_in_epoch = epoch + 1, 0
                if self.cfg.log.val_every and (self.epoch % self.cfg.log.val_every == 0 or self.epoch == self.cfg.optim.epochs):
                    metrics = self.validate_or_save()
                self.save(metrics, epoch_complete=True)
        except DataLoadingError:
            # The model is consistent at the failed step: keep it, so fixing the data loses nothing.
            self.save({}, epoch_complete=False)
            raise
        finally:
            restore_handler()
            if self.writer is not None:
                self.writer.close()
        return metrics

    def run_epoch(self, epoch: int) -> None:
        """Steps ``step_in_epoch .. iters_per_epoch`` of ``epoch`` (all of them unless resuming)."""
        self.ddp_module.train()
        self.module.set_epoch(epoch)  # also on resume mid-epoch: forward may skip what no active term reads
        start_step = min(self.step_in_epoch, self.iters_per_epoch)
        self.sampler.set_epoch(epoch, start_step)
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        bar = tqdm(total=self.iters_per_epoch, initial=start_step, desc=f"epoch {epoch + 1}/{self.cfg.optim.epochs}",
                   disable=not self.progress, unit="it", dynamic_ncols=True)
        start, seen = time.perf_counter(), 0
        batches = itertools.islice(self.batches(), self.iters_per_epoch - start_step)
        for index, batch in enumerate(batches, start=start_step):
            if self.should_stop():
                break
            losses = self.step(batch, epoch)
            self.step_in_epoch = index + 1
            seen += batch["image"].shape[0] * self.dist.world_size
            speed = seen / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{losses.get('total', float('nan')):.3f}", img_s=f"{speed:.1f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
            bar.update(1)
            if self.global_step % self.cfg.log.log_every == 0:
                self.log_scalars({f"train/{k}": v for k, v in losses.items()} | {"train/lr": self.scheduler.get_last_lr()[0], "train/images_per_s": speed})
                self.log_diagnostics(epoch, losses)
            if self.cfg.log.image_every and self.global_step % self.cfg.log.image_every == 0:
                self.log_images(batch)
        bar.close()

    def batches(self) -> Iterator[dict[str, Any] | None]:
        """The loader's batches. A batch that fails to load records a one-line
        :class:`DataLoadingError` and yields ``None``; :meth:`should_stop` then raises it on
        every rank at the same step, so all ranks save and exit together."""
        iterator = iter(self.loader)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - worker errors arrive re-raised with a traceback text
                if not self.stop_requested:  # Ctrl-C also reaches the workers: not a data error
                    self.data_error = DataLoadingError(f"loading training data failed at epoch {self.epoch + 1} "
                                                       f"step {self.step_in_epoch}: {last_line(err)}")
                yield None
                return
            yield batch

    def step(self, batch: dict[str, Any], epoch: int) -> dict[str, float]:
        """One optimisation step; a non-finite loss skips the update instead of poisoning weights."""
        batch = {k: (v.to(self.dist.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        with torch.autocast(device_type=self.dist.device.type, enabled=self.use_amp):
            outputs = self.ddp_module(batch)
            losses = self.compute_losses(outputs, batch, epoch)
        if (self.global_step + 1) % self.cfg.log.log_every == 0:  # a logging step: the graph is still whole
            self.diagnostics = self.module.diagnostics(outputs, losses, gradients=not self.dist.enabled)
        total = losses["total"]
        self.optimizer.zero_grad(set_to_none=True)
        finite = torch.isfinite(total.detach()).to(torch.float32)
        all_reduce_sum(finite, self.dist)
        if finite.item() < self.dist.world_size:
            self.bad_steps += 1
            if self.bad_steps >= MAX_CONSECUTIVE_BAD_STEPS:
                raise TrainingDiverged(f"{self.bad_steps} consecutive non-finite losses at step {self.global_step}; "
                                       f"last good checkpoint kept in {self.out_dir}; lower optim.lr or enable optim.grad_clip")
            self.global_step += 1
            self.scheduler.step()
            return {k: float("nan") for k in losses}
        self.bad_steps = 0
        self.scaler.scale(total).backward()
        if self.cfg.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(list(self.module.trainable_parameters()), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.module.after_step()
        self.global_step += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    def compute_losses(self, outputs: dict[str, Any], batch: dict[str, Any], epoch: int) -> dict[str, torch.Tensor]:
        """Weighted sum of the terms active at ``epoch`` (each in fp32)."""
        losses: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=self.dist.device)
        for term in self.loss_terms:
            if not term.active(epoch):
                continue
            value = term.fn(outputs, batch, epoch).float()
            losses[term.name] = value
            total = total + term.weight * value
        losses["total"] = total
        return losses

    def validate(self) -> dict[str, float]:
        """Standard protocol on the test split (sharded across processes); the one evaluation call."""
        metrics = evaluate_model(self.model, self.cfg.data, flip_tta=self.cfg.log.val_flip_tta, dist_info=self.dist,
                                 max_images=self.cfg.log.val_max_images, progress=self.progress)
        if self.dist.is_main:
            from disdepth_core.metrics import format_metrics_table

            print(f"[val] epoch {self.epoch}\n{format_metrics_table(metrics)}", flush=True)
            self.log_scalars({f"val/{k}": v for k, v in metrics.items()})
        return metrics

    def validate_or_save(self) -> dict[str, float]:
        """:meth:`validate` after a finished epoch; if it fails, the epoch's weights are saved first.

        With one process the finished epoch is written to ``last.pt`` before the error goes on, so
        fixing the evaluation data loses no training. With several, a rank that fails alone cannot
        take part in the collective save, so the previous checkpoint stays the last one.
        """
        try:
            return self.validate()
        except Exception:
            if not self.dist.enabled:
                self.save({}, epoch_complete=True)
            raise

    # ---------------------------------------------------------------- interruption
    def install_interrupt_handler(self) -> Callable[[], None]:
        """First SIGINT/SIGTERM: finish this step, then save and stop. A second one: abort at once.

        SIGTERM is what torchrun and cluster schedulers send before killing a job, so it gets the
        same "save at this step" treatment as Ctrl-C. Returns the function that restores the
        previous handlers.
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # signals only reach the main thread
        owner = os.getpid()

        def request_stop(signum: int, frame: Any) -> None:
            if os.getpid() != owner:
                # A forked DataLoader worker inherited this handler: Ctrl-C is the main process's
                # business (the worker keeps serving it batches); SIGTERM must still end the worker.
                if signum == signal.SIGTERM:
                    signal.signal(signum, signal.SIG_DFL)
                    os.kill(os.getpid(), signum)
                return
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            if self.dist.is_main:
                print(f"\n[train] {signal.Signals(signum).name}: saving after this step (again to abort without saving)", flush=True)

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

        return restore

    def should_stop(self) -> bool:
        """Whether to stop before this step: an interrupt on any rank (all ranks stop at the same
        step), or a data error on any rank (raised on every rank, so none waits in a collective).

        Under DDP this is one 2-float all-reduce before the forward; it cannot ride on the
        finite-loss all-reduce after it: a rank without a batch cannot run the forward, whose DDP
        buffer broadcast the other ranks would wait in. Single process: no tensor, no sync."""
        if not self.dist.enabled:
            if self.data_error is not None:
                raise self.data_error
            return self.stop_requested
        flags = torch.tensor([float(self.stop_requested), float(self.data_error is not None)], device=self.dist.device)
        stop, data_error = all_reduce_sum(flags, self.dist).tolist()  # one device->host copy
        if data_error > 0:
            raise self.data_error or DataLoadingError("another process could not load its training data (see its error)")
        self.stop_requested = stop > 0
        return self.stop_requested

    # ---------------------------------------------------------------- logging
    def log_scalars(self, values: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, self.global_step)

    def log_diagnostics(self, epoch: int, losses: dict[str, float]) -> None:
        """The module's diagnostics of this logging step: TensorBoard ``diag/*`` and one ``[diag]`` line."""
        values, self.diagnostics = self.diagnostics, {}
        if not values or not self.dist.is_main:
            return
        self.log_scalars({f"diag/{k}": v for k, v in values.items()})
        text = " ".join(f"{k}={v:.4g}" for k, v in (losses | values).items())
        tqdm.write(f"[diag] epoch {epoch + 1} step {self.global_step}: {text}")
        sys.stdout.flush()

    def log_images(self, batch: dict[str, Any]) -> None:
        """RGB, prediction and GT of the first sample of the batch, colourised."""
        if self.writer is None:
            return
        self.model.eval()
        with torch.no_grad():
            pred = self.model(batch["image"][:1].to(self.dist.device))[0, 0].float().cpu().numpy()
        self.module.train()  # through the module: it re-applies frozen BatchNorm (fine-tuning), the student's own train() would not
        mean, std = np.asarray(IMAGENET_MEAN).reshape(3, 1, 1), np.asarray(IMAGENET_STD).reshape(3, 1, 1)
        rgb = np.clip(batch["image"][0].cpu().numpy() * std + mean, 0, 1)
        gt = batch["depth"][0, 0].cpu().numpy()
        lo, hi = self.cfg.data.min_depth, self.cfg.data.max_depth
        self.writer.add_image("images/rgb", rgb, self.global_step)
        self.writer.add_image("images/pred", colorize_depth(pred, lo, hi), self.global_step, dataformats="HWC")
        self.writer.add_image("images/gt", colorize_depth(gt, lo, hi), self.global_step, dataformats="HWC")

    # ---------------------------------------------------------------- checkpoints
    def checkpoint_meta(self) -> dict[str, Any]:
        """What runtimes and exporters need to use the model correctly."""
        data = self.cfg.data
        return {"dataset": data.name, "min_depth": data.min_depth, "max_depth": data.max_depth,
                "train_focal": getattr(self.train_set, "reference_focal", None),
                "train_input_size": [data.train_height, data.train_width],
                "input_size": list(self.inference_size()),
                "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "config_name": self.cfg.name,
                **(getattr(self.train_set, "camera_meta", None) or {})}  # recordings: their camera

    def inference_size(self) -> tuple[int, int]:
        """The network input size at evaluation (e.g. the KB crop), the size runtimes should use."""
        if not hasattr(self, "_inference_size"):
            declared = getattr(self.train_set, "inference_size", None)  # recordings know their view without a held-out split
            if declared is None:
                declared = tuple(build_dataset(self.cfg.data, "eval")[0]["crop_box"][2:4])
            self._inference_size = (int(declared[0]), int(declared[1]))
        return self._inference_size

    def training_state(self, metrics: dict[str, float], epoch_complete: bool, rng: list[dict[str, Any]]) -> dict[str, Any]:
        """Everything besides the student's weights that an exact resume needs."""
        parts = self.module.trainable_state()
        parts.pop(STUDENT)  # stored as the checkpoint's state_dict, where every reader expects it
        return {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "iters_per_epoch": self.iters_per_epoch, "best_abs_rel": self.best_abs_rel,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "parts": parts, "rng": rng,
                "epoch_complete": epoch_complete, "train_config": self.cfg.to_dict(), "metrics": dict(metrics)}

    def save(self, metrics: dict[str, float], epoch_complete: bool) -> None:
        """Atomically write ``last.pt`` (and ``best.pt`` when abs_rel improves); rank 0 writes.

        A failed write (e.g. a full disk) leaves the previous file untouched and raises
        :class:`CheckpointWriteError` on every rank, so no rank waits forever at a barrier.
        """
        rng = gather_rng_states(self.dist)  # a collective: every rank takes part
        abs_rel = metrics.get("abs_rel", math.inf)
        improved = abs_rel < self.best_abs_rel
        best_before, self.best_abs_rel = self.best_abs_rel, min(self.best_abs_rel, abs_rel)
        failure = ""
        if self.dist.is_main:
            meta = self.checkpoint_meta() | {"epoch": self.epoch, "metrics": dict(metrics)}
            try:
                # best.pt first: last.pt then records a best score that best.pt really holds.
                if improved:
                    save_checkpoint(self.out_dir / "best.pt", self.model, self.cfg.model, meta)
                save_checkpoint(self.out_dir / "last.pt", self.model, self.cfg.model, meta,
                                training_state=self.training_state(metrics, epoch_complete, rng))
            except (OSError, RuntimeError) as raised:
                err = write_stopped_error(raised, self.out_dir)  # torch's "unexpected pos": a full disk
                if not isinstance(err, OSError):
                    raise
                failure = (f"cannot write a checkpoint in {self.out_dir}: {err.strerror or err}; "
                           f"the previous checkpoint there is intact (free space or change log.out_dir, then --resume)")
        failed = torch.tensor([float(bool(failure))], device=self.dist.device)
        all_reduce_sum(failed, self.dist)  # also keeps the ranks together, like a barrier
        if failed.item() > 0:
            self.best_abs_rel = best_before
            raise CheckpointWriteError(failure or "rank 0 could not write a checkpoint; see its error")

    def load(self, path: str) -> None:
        """Resume every part, optimiser, schedule, scaler, counters, RNG and sampler position."""
        payload = read_checkpoint(path)
        state = payload.get("training_state")
        if not state:
            raise ValueError(f"{path} has no training state (it is a weights-only file); start a new run from it with model.pretrained_backbone or fine-tune instead")
        self.module.load_trainable_state({STUDENT: payload["state_dict"], **state.get("parts", {})}, str(path))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state.get("step_in_epoch", 0))
        self.global_step = int(state["global_step"])
        self.best_abs_rel = float(state.get("best_abs_rel", math.inf))
        saved_iters = int(state.get("iters_per_epoch", self.iters_per_epoch))
        if self.step_in_epoch and saved_iters != self.iters_per_epoch and self.dist.is_main:
            print(f"[train] warning: {path} was saved with {saved_iters} it/epoch, this run has {self.iters_per_epoch}; "
                  "the interrupted epoch continues at the same step", flush=True)
        if state.get("rng"):
            restore_rng_states(state["rng"], self.dist)
        if self.dist.is_main:
            where = f"epoch {self.epoch + 1} step {self.step_in_epoch}" if self.step_in_epoch else f"the start of epoch {self.epoch + 1}"
            print(f"[train] resumed from {path} at {where} (global step {self.global_step})", flush=True)


# ---------------------------------------------------------------- helpers (no trainer state)
def prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir``, prove it is writable, and remove temp files of killed checkpoint writes.

    Checked before any work so a bad path is one line at start, not a traceback after an epoch.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as err:
        raise TrainingError(f"log.out_dir {str(out_dir)!r} is not a writable folder: {err.strerror or err}") from None
    for name in CHECKPOINT_NAMES:
        for stale in out_dir.glob(f".{name}.*.tmp"):  # atomic_torch_save's temp names
            stale.unlink(missing_ok=True)
            print(f"[train] removed {stale.name}, left by an interrupted checkpoint write", flush=True)


def check_first_sample(dataset: Any) -> None:
    """Read one sample in this process, so a data/config mismatch fails before training starts."""
    try:
        dataset[0]
    except Exception as err:  # noqa: BLE001 - any reader/augmentation failure is reported as one line
        raise DataLoadingError(f"cannot read the first training sample: {last_line(err)}") from None


def gather_rng_states(info: DistInfo) -> list[dict[str, Any]]:
    """Python, NumPy, torch (and CUDA) RNG states of every rank, as plain checkpoint-safe values."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    own = {"python": [py_state[0], list(py_state[1]), py_state[2]],
           "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]), float(np_state[4])],
           "torch": torch.get_rng_state(),
           "cuda": torch.cuda.get_rng_state(info.device) if info.device.type == "cuda" else None}
    if not info.enabled:
        return [own]
    import torch.distributed as dist

    states: list[Any] = [None] * info.world_size
    dist.all_gather_object(states, own)
    return states


def restore_rng_states(states: list[dict[str, Any]], info: DistInfo) -> None:
    """Restore this rank's RNG states (a different world size keeps the fresh seeds)."""
    if len(states) != info.world_size:
        return
    own = states[info.rank]
    version, internal, gauss = own["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = own["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(own["torch"])
    if own.get("cuda") is not None and info.device.type == "cuda":
        torch.cuda.set_rng_state(own["cuda"], info.device)
