"""What a distillation run logs at the logging interval to show whether its mechanism works.

A final metric after a small budget cannot tell "KD did not help" from "KD never reached the
student" or "the acclimated teacher is useless". These figures can, step by step:

- ``kd_task_grad_ratio``: ``||grad_backbone(lambda L_kd)|| / ||grad_backbone(L_task)||`` on the
  student's backbone, and both norms (``grad_norm/kd``, ``grad_norm/task``); ``L_task`` is the
  student's own weighted task terms (the ghost-teacher terms never reach the student). A ratio
  far above 1 means imitation drives the backbone and the task barely does; near 0, KD is inert.
  For ``fam``/``disdepth`` it is also computed during the warm-up (what KD *would* do if it were
  on), for ``kd`` only once the teacher runs.
- ``residual``: the imitation residual ``||S - A||^2 / ||A||^2`` (``||R(S) - T||^2 / ||T||^2`` for
  plain KD), mean over the four stages, and per stage (``residual/s0``..): is the student
  getting closer to its target?
- the ghost-teacher task loss (``ghost/silog``) is logged beside the student's (``silog``) by the
  trainer already; the ``[diag]`` text line carries both;
- LAM score statistics per stage and averaged: ``lam/mean`` (1 by construction), ``lam/max``
  (the largest weight of an image, up to N), ``lam/std``, ``lam/zero_frac`` (share of pixels
  weighted below 0.1: regions LAM "removes").

Cost: the gradient ratio needs one extra backward of each term through the student (two
``torch.autograd.grad`` calls that keep the graph) on logging steps only; everything else reads
tensors the forward made. Under DDP the ratio is skipped (a second backward would re-enter the
reducer's hooks); the other figures are logged as usual.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from disdepth_core.models.kd import attentive_kd_loss, relative_residuals


class DiagnosedModule(Protocol):
    """What these figures read from :class:`training.distill.module.DistillationModule`.

    A protocol rather than an import: the module calls into this file, so importing it back (even
    for type checking only) would make the two files a cycle.
    """

    method: str
    cfg: Any
    student: torch.nn.Module
    parts: Any

    def loss_terms(self) -> Any: ...

LAM_ZERO = 0.1  # a pixel weighted below this counts as "removed" in lam/zero_frac


def distillation_diagnostics(module: DiagnosedModule, outputs: dict[str, Any], losses: dict[str, torch.Tensor],
                             gradients: bool = True) -> dict[str, float]:
    """The figures above for one training step's outputs and (graph-carrying) loss values."""
    values: dict[str, float] = {}
    kd = losses.get("kd")  # the step's own KD term once it counts; computed here only during the warm-up
    if kd is None:
        kd = kd_loss(module, outputs)
    if gradients and kd is not None:
        task = student_task_loss(module, losses)
        values |= gradient_ratio(module.student.backbone, task, module.cfg.distill.kd_weight * kd)
    residuals = imitation_residuals(module, outputs)
    if residuals:
        values["residual"] = sum(residuals) / len(residuals)
        values |= {f"residual/s{i}": r for i, r in enumerate(residuals)}
    if "lam/scores" in outputs:
        values |= lam_statistics(outputs["lam/scores"])
    return values


def kd_loss(module: DiagnosedModule, outputs: dict[str, Any]) -> torch.Tensor | None:
    """This step's (unweighted) KD loss whether or not it counts yet; None when it cannot be had."""
    if module.method == "kd":
        return outputs.get("kd/loss")  # absent during the warm-up: the teacher did not run
    return attentive_kd_loss(outputs["fam/features"], outputs["features"], outputs.get("lam/scores"))


def student_task_loss(module: DiagnosedModule, losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """The weighted sum of the student's own task terms (not the ghost's, not KD)."""
    weights = {term.name: term.weight for term in module.loss_terms()}
    return sum(weights[name] * value for name, value in losses.items()
               if name in weights and name != "kd" and not name.startswith("ghost/"))


def gradient_ratio(backbone: torch.nn.Module, task: torch.Tensor, kd: torch.Tensor) -> dict[str, float]:
    """Norms of the two terms' gradients on ``backbone`` and their ratio (graph kept for the step)."""
    params = [p for p in backbone.parameters() if p.requires_grad]
    norms = {}
    for name, loss in (("task", task), ("kd", kd)):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        norms[name] = float(torch.sqrt(sum(g.float().pow(2).sum() for g in grads if g is not None)))
    ratio = norms["kd"] / norms["task"] if norms["task"] > 0 else float("inf")
    return {"kd_task_grad_ratio": ratio, "grad_norm/task": norms["task"], "grad_norm/kd": norms["kd"]}


def imitation_residuals(module: DiagnosedModule, outputs: dict[str, Any]) -> list[float]:
    """Per stage ``||S - A||^2/||A||^2`` (fam, disdepth) or ``||R(S) - T||^2/||T||^2`` (kd)."""
    if module.method == "kd":
        if "teacher/features" not in outputs:
            return []
        values = module.parts["kd"].residuals(outputs["teacher/features"], outputs["features"])
    else:
        values = relative_residuals(outputs["fam/features"], outputs["features"])
    return [float(v) for v in values]


def lam_statistics(scores: list[torch.Tensor]) -> dict[str, float]:
    """Mean, per-image max, spread and near-zero share of the LAM weights, per stage and averaged."""
    values: dict[str, float] = {}
    per_stage: dict[str, list[float]] = {"mean": [], "max": [], "std": [], "zero_frac": []}
    with torch.no_grad():
        for index, score in enumerate(scores):
            flat = score.detach().float().flatten(1)  # [B, N]
            stats = {"mean": flat.mean(), "max": flat.amax(dim=1).mean(), "std": flat.std(dim=1).mean(),
                     "zero_frac": (flat < LAM_ZERO).float().mean()}
            for key, value in stats.items():
                per_stage[key].append(float(value))
                values[f"lam/{key}_s{index}"] = float(value)
    values |= {f"lam/{key}": sum(v) / len(v) for key, v in per_stage.items()}
    return values
