"""A test-only distillation-style composite: the student plus a trainable adapter and a frozen part.

Named in configs as ``distill.method: tests.training.extra_part:build_with_adapter`` (the
"module:function" form), so subprocess runs (DDP, kill tests) load it like a real method.
The adapter reads the student's deepest feature and adds a small loss, so its gradients
differ between ranks unless DDP synchronises them; after every step each rank writes its
adapter weights to ``<out_dir>/adapter_rank<R>.pt`` for the test to compare.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from disdepth_core.models import build_model_from_config
from training.loss_terms import LossTerm
from training.modules import TrainingModule


class AdapterModule(TrainingModule):
    def __init__(self, cfg: Any, student: nn.Module) -> None:
        super().__init__(cfg, student)
        self.add_part("adapter", nn.Conv2d(self._deepest_channels(student), 4, 1), lr_mult=10.0)
        self.add_part("frozen", nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), trainable=False, keep_eval=True,
                      in_checkpoint=False)
        self.after_step_calls = 0

    @staticmethod
    def _deepest_channels(student: nn.Module) -> int:
        with torch.no_grad():
            return int(student.forward_features(torch.zeros(1, 3, 64, 96))[-1].shape[1])

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        outputs = super().forward(batch)
        outputs["adapter/out"] = self.parts["adapter"](outputs["features"][-1])
        outputs["frozen/out"] = self.parts["frozen"](batch["image"])
        return outputs

    def loss_terms(self) -> list[LossTerm]:
        def adapter_term(outputs: dict[str, Any], batch: dict[str, Any], epoch: int) -> torch.Tensor:
            # Depends on the data, so each rank's local gradient differs.
            target = batch["depth"].mean()
            return ((outputs["adapter/out"].mean() - target) ** 2) + 0.0 * outputs["frozen/out"].mean()

        return super().loss_terms() + [LossTerm("adapter", self.cfg.distill.kd_weight, adapter_term,
                                                start_epoch=self.cfg.distill.kd_start_epoch)]

    def after_step(self) -> None:
        self.after_step_calls += 1
        out_dir = Path(self.cfg.log.out_dir)
        if out_dir.is_dir():
            rank = int(os.environ.get("RANK", "0"))
            torch.save({k: v.detach().cpu() for k, v in self.parts["adapter"].state_dict().items()}, out_dir / f"adapter_rank{rank}.pt")


def build_with_adapter(cfg: Any) -> AdapterModule:
    return AdapterModule(cfg, build_model_from_config(cfg.model))


METHOD = "tests.training.extra_part:build_with_adapter"
