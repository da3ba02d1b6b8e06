"""Test-only DisDepth composite that records, after every optimiser step, each rank's parts.

Named in configs as ``distill.method: tests.training.distill_ranks:build`` so the 2-process
torchrun test loads it like the real method; it is the real :class:`DistillationModule` with
only an ``after_step`` that also writes each rank's parameters to ``<out_dir>/parts_rank<R>.pt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from training.distill.module import DistillationModule, build_distillation


class RecordingDistillation(DistillationModule):
    def after_step(self) -> None:
        super().after_step()
        out_dir = Path(self.cfg.log.out_dir)
        if out_dir.is_dir():
            rank = int(os.environ.get("RANK", "0"))
            # Parameters only: BatchNorm running statistics are per rank by design (DDP broadcasts
            # rank 0's buffers at the start of each forward, not after it).
            state = {name: {k: v.detach().cpu().clone() for k, v in self.parts[name].named_parameters()}
                     for name in ("student", "fam", "lam")}
            torch.save(state, out_dir / f"parts_rank{rank}.pt")


def build(cfg: Any) -> DistillationModule:
    return build_distillation(cfg, "disdepth", RecordingDistillation)
