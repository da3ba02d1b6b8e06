"""Supervised student training. Reads top to bottom, like monodepth2's trainer:

``train -> run_epoch -> step -> compute_losses -> validate -> log -> save``.

Extension points for distillation (a later issue) without editing this file:
``loss_terms`` (a list of weighted :class:`LossTerm`) and ``extra_modules`` (an
``nn.ModuleDict`` whose parameters are optimised and checkpointed with the student).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from disdepth_core.data.depth_dataset import build_dataset
from disdepth_core.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from disdepth_core.models import build_student_from_config
from disdepth_core.models.checkpoint import read_checkpoint, save_checkpoint, load_state_dict_checked
from disdepth_core.visualize import colorize_depth

from .config import TrainConfig
from .distributed import DistInfo, all_reduce_sum, barrier, init_distributed
from .evaluate import evaluate_model
from .losses import LossTerm, supervised_terms

MAX_CONSECUTIVE_BAD_STEPS = 20


class TrainingDiverged(RuntimeError):
    """Raised after too many consecutive non-finite losses (the last checkpoint is kept)."""


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: str | None = None, device: str = "auto", progress: bool = True) -> None:
        self.cfg = cfg
        self.dist: DistInfo = init_distributed(device)
        self.progress = progress and self.dist.is_main
        self.out_dir = Path(cfg.log.out_dir)
        torch.manual_seed(cfg.seed + self.dist.rank)

        self.model = build_student_from_config(cfg.model).to(self.dist.device)
        self.extra_modules = nn.ModuleDict()
        self.loss_terms: list[LossTerm] = supervised_terms(
            cfg.loss.silog_variance_focus, cfg.loss.silog_scale, cfg.loss.bins_weight, cfg.data.min_depth, cfg.data.max_depth
        )
        self.train_set = build_dataset(cfg.data, "train", seed=cfg.seed)
        if len(self.train_set) == 0:
            raise ValueError(f"training split {cfg.data.train_split} has no samples with ground truth")
        if self.dist.enabled:
            self.sampler = DistributedSampler(self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True, seed=cfg.seed, drop_last=True)
        else:
            self.sampler = RandomSampler(self.train_set, generator=torch.Generator().manual_seed(cfg.seed))
        self.loader = DataLoader(self.train_set, batch_size=cfg.optim.batch_size, sampler=self.sampler, drop_last=True,
                                 num_workers=cfg.optim.num_workers, pin_memory=self.dist.device.type == "cuda",
                                 persistent_workers=False)  # workers must see set_epoch()
        if len(self.loader) == 0:
            raise ValueError(f"batch size {cfg.optim.batch_size} x {self.dist.world_size} process(es) exceeds the {len(self.train_set)} training samples")
        self.iters_per_epoch = len(self.loader) if not cfg.optim.max_iters_per_epoch else min(len(self.loader), cfg.optim.max_iters_per_epoch)
        self.total_iters = self.iters_per_epoch * cfg.optim.epochs

        self.ddp_model: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.ddp_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = self.build_optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)
        self.use_amp = cfg.optim.amp and self.dist.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

        self.epoch = 0
        self.global_step = 0
        self.best_abs_rel = math.inf
        self.bad_steps = 0
        if resume:
            self.load(resume)
        self.writer = self.make_writer()

    # ---------------------------------------------------------------- set-up helpers
    def build_optimizer(self) -> torch.optim.Optimizer:
        """Adam with decoupled weight decay (AdamW), as BTS/NeWCRFs train these models."""
        params = list(self.model.parameters()) + list(self.extra_modules.parameters())
        return torch.optim.AdamW(params, lr=self.cfg.optim.lr, weight_decay=self.cfg.optim.weight_decay)

    def add_module_to_optimize(self, name: str, module: nn.Module) -> None:
        """Register an extra trainable module (e.g. distillation adapters) after construction."""
        self.extra_modules[name] = module.to(self.dist.device)
        self.optimizer.add_param_group({"params": list(module.parameters())})

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
        """Train for the configured epochs; returns the last validation metrics."""
        metrics: dict[str, float] = {}
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            print(f"[train] {self.cfg.name}: {self.cfg.model.backbone} (LG-Conv {'on' if self.cfg.model.lg_conv else 'off'}), "
                  f"{len(self.train_set)} samples, {self.iters_per_epoch} it/epoch x {self.cfg.optim.epochs} epochs, "
                  f"{self.dist.world_size} process(es) on {self.dist.device}", flush=True)
        try:
            for epoch in range(self.epoch, self.cfg.optim.epochs):
                self.run_epoch(epoch)
                self.epoch = epoch + 1
                if self.cfg.log.val_every and (self.epoch % self.cfg.log.val_every == 0 or self.epoch == self.cfg.optim.epochs):
                    metrics = self.validate()
                self.save(metrics, epoch_complete=True)
        except KeyboardInterrupt:
            # Keep what was learned: the epoch restarts on --resume, the LR schedule continues.
            self.save({}, epoch_complete=False)
            if self.dist.is_main:
                print(f"\n[train] interrupted; saved {self.out_dir / 'last.pt'} (resume with --resume)", flush=True)
            raise
        finally:
            if self.writer is not None:
                self.writer.close()
        return metrics

    def run_epoch(self, epoch: int) -> None:
        self.ddp_model.train()
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(epoch)
        bar = tqdm(total=self.iters_per_epoch, desc=f"epoch {epoch + 1}/{self.cfg.optim.epochs}", disable=not self.progress, unit="it", dynamic_ncols=True)
        start, seen = time.perf_counter(), 0
        for index, batch in enumerate(self.loader):
            if index >= self.iters_per_epoch:
                break
            losses = self.step(batch, epoch)
            seen += batch["image"].shape[0] * self.dist.world_size
            speed = seen / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{losses.get('total', float('nan')):.3f}", img_s=f"{speed:.1f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
            bar.update(1)
            if self.global_step % self.cfg.log.log_every == 0:
                self.log_scalars({f"train/{k}": v for k, v in losses.items()} | {"train/lr": self.scheduler.get_last_lr()[0], "train/images_per_s": speed})
            if self.cfg.log.image_every and self.global_step % self.cfg.log.image_every == 0:
                self.log_images(batch)
        bar.close()

    def step(self, batch: dict[str, Any], epoch: int) -> dict[str, float]:
        """One optimisation step; a non-finite loss skips the update instead of poisoning weights."""
        batch = {k: (v.to(self.dist.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        with torch.autocast(device_type=self.dist.device.type, enabled=self.use_amp):
            outputs = self.ddp_model(batch["image"])
            losses = self.compute_losses(batch, outputs, epoch)
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
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.global_step += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    def compute_losses(self, batch: dict[str, Any], outputs: dict[str, Any], epoch: int) -> dict[str, torch.Tensor]:
        """Weighted sum of the active loss terms (fp32, outside autocast precision issues)."""
        losses: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=self.dist.device)
        for term in self.loss_terms:
            if epoch < term.start_epoch:
                continue
            value = term.fn(batch, outputs).float()
            losses[term.name] = value
            total = total + term.weight * value
        losses["total"] = total
        return losses

    def validate(self) -> dict[str, float]:
        """Standard protocol on the test split (sharded across processes)."""
        metrics = evaluate_model(self.model, self.cfg.data, flip_tta=self.cfg.log.val_flip_tta, dist_info=self.dist,
                                 max_images=self.cfg.log.val_max_images, progress=self.progress)
        if self.dist.is_main:
            from disdepth_core.metrics import format_metrics_table

            print(f"[val] epoch {self.epoch}\n{format_metrics_table(metrics)}", flush=True)
            self.log_scalars({f"val/{k}": v for k, v in metrics.items()})
        return metrics

    # ---------------------------------------------------------------- logging
    def log_scalars(self, values: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, self.global_step)

    def log_images(self, batch: dict[str, Any]) -> None:
        """RGB, prediction and GT of the first sample of the batch, colourised."""
        if self.writer is None:
            return
        self.model.eval()
        with torch.no_grad():
            pred = self.model(batch["image"][:1].to(self.dist.device))[0, 0].float().cpu().numpy()
        self.model.train()
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
                "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "config_name": self.cfg.name}

    def inference_size(self) -> tuple[int, int]:
        """The network input size at evaluation (e.g. the KB crop), the size runtimes should use."""
        if not hasattr(self, "_inference_size"):
            from disdepth_core.data.depth_dataset import build_dataset

            box = build_dataset(self.cfg.data, "eval")[0]["crop_box"]
            self._inference_size = (int(box[2]), int(box[3]))
        return self._inference_size

    def save(self, metrics: dict[str, float], epoch_complete: bool) -> None:
        """Atomically write ``last.pt`` (and ``best.pt`` when abs_rel improves); rank 0 only."""
        if self.dist.is_main:
            state = {"epoch": self.epoch, "global_step": self.global_step, "best_abs_rel": self.best_abs_rel,
                     "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                     "scaler": self.scaler.state_dict(), "extra_modules": self.extra_modules.state_dict(),
                     "epoch_complete": epoch_complete, "train_config": self.cfg.to_dict(), "metrics": dict(metrics)}
            meta = self.checkpoint_meta() | {"epoch": self.epoch, "metrics": dict(metrics)}
            save_checkpoint(self.out_dir / "last.pt", self.model, self.cfg.model, meta, training_state=state)
            abs_rel = metrics.get("abs_rel", math.inf)
            if abs_rel < self.best_abs_rel:
                self.best_abs_rel = abs_rel
                save_checkpoint(self.out_dir / "best.pt", self.model, self.cfg.model, meta)
        barrier(self.dist)

    def load(self, path: str) -> None:
        """Resume model, optimizer, schedule and counters from a ``last.pt``."""
        payload = read_checkpoint(path)
        load_state_dict_checked(self.model, payload["state_dict"], str(path))
        state = payload.get("training_state")
        if not state:
            raise ValueError(f"{path} has no training state (it is a weights-only file); start a new run from it with model.pretrained_backbone or fine-tune instead")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if state.get("extra_modules"):
            self.extra_modules.load_state_dict(state["extra_modules"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.best_abs_rel = float(state.get("best_abs_rel", math.inf))
        if self.dist.is_main:
            print(f"[train] resumed from {path}: epoch {self.epoch}, step {self.global_step}", flush=True)
