"""The composite training module: every network of a run in one ``nn.Module``.

Like monodepth2's dict of networks, the trainer treats all parts alike: one optimiser over
their parameter groups, one DDP wrapper (so every trainable part's gradients are all-reduced),
one gradient-clipping call, one checkpoint. It is built completely *before* the optimiser and
the LR scheduler exist, which is what makes adding a part safe (a parameter group added after
``LambdaLR`` was created breaks its first ``step()``); :meth:`TrainingModule.add_part` refuses
once the parameter groups were handed out.

Supervised training uses :class:`TrainingModule` as is (one part, ``"student"``).

Extension point (distillation)
------------------------------
With ``distill.enabled: true`` in the config, :func:`build_training_module` looks up
``distill.method`` in :data:`DISTILL_METHODS` and calls the builder it finds with the whole
:class:`~training.train_config.TrainConfig`. A builder returns a :class:`TrainingModule` (usually a
subclass) with its extra parts added. Register one with a lazily imported ``"module:function"``
string (the heavy teacher code is only imported when used) or a callable; ``distill.method``
may also be such a ``"package.module:function"`` path itself (plugins, tests)::

    # training/modules.py
    DISTILL_METHODS = {"disdepth": "training.distill.module:build_disdepth_module"}
    # or, from anywhere (tests, plugins):
    register_distill_method("my_kd", build_my_kd_module)

    class DisDepthDistillation(TrainingModule):
        find_unused_parameters = False           # True only if some trainable part can skip a step

        def __init__(self, cfg, student, teacher):
            super().__init__(cfg, student)
            self.add_part("teacher", teacher, trainable=False, keep_eval=True, in_checkpoint=False)
            self.add_part("fam", fams)                        # lr_mult=k: k x optim.lr for this part
            self.add_part("lam", lam)
            # a frozen network of its own: add_part(name, net, trainable=False) (gradients still
            # flow through it); DisDepth's ghost decoder needs none: it calls the student's decoder
            # with detached weights (disdepth_core.models.ghost.ghost_decode)

        def forward(self, batch):                # -> dict; student keys unprefixed
            outputs = super().forward(batch)     # depth, bin_centers, features, decoder_feature
            outputs["ghost/depth"] = ...         # other branches as "<name>/<key>"
            return outputs

        def loss_terms(self):                    # the supervised terms + your own
            return super().loss_terms() + supervised_terms(..., prefix="ghost/") + [
                LossTerm("kd", self.cfg.distill.kd_weight, kd_fn, start_epoch=self.cfg.distill.kd_start_epoch)]

        def set_epoch(self, epoch):              # optional: told the epoch before its steps
            ...                                  # (e.g. skip a teacher while its KD is gated off)

        def after_step(self):                    # optional: called after every optimiser step
            ...

    def build_disdepth_module(cfg):              # the builder DISTILL_METHODS names
        return DisDepthDistillation(cfg, build_seeded_student(cfg), load_teacher(cfg))

Contract the trainer relies on:

* ``forward(batch) -> dict``: ``batch`` is the collated sample dict on the device (``image``
  ``[B,3,H,W]``, ``depth``, ...); the student's outputs keep their keys (``depth``,
  ``bin_centers``, ``features``, ``decoder_feature``), other parts use ``"<part>/<key>"``.
* ``loss_terms() -> list[LossTerm]``: each term reads ``(outputs, batch, epoch)``.
* ``param_groups(optim_cfg)``: one group per part with trainable parameters, ``lr = optim.lr *
  lr_mult``, tagged with ``"part"``; frozen parts and parameters with ``requires_grad=False``
  are left out. The LR schedule scales every group alike.
* ``set_epoch(epoch)``: called with the 0-based epoch before that epoch's first step (also for
  the epoch a resumed run continues mid-way), so ``forward`` may skip work that no active term
  reads (``kd`` skips its teacher and regressors during the KD warm-up). Default: no-op. A
  ``forward`` called without it (tests, tools) must produce every output.
* ``diagnostics(outputs, losses, gradients)``: on logging steps only, before the backward;
  returns figures the trainer logs as ``diag/<key>`` (TensorBoard) and on one ``[diag]`` text line.
* ``after_step()``: after each ``scaler.step(optimizer)`` (also when the AMP scaler skipped the
  update for an overflow); not after a step dropped for a non-finite loss (nothing changed).
* ``trainable_state()`` / ``load_trainable_state()``: the state of every part registered with
  ``in_checkpoint=True`` (default), keyed by part name; a frozen teacher rebuilt from its own
  file is registered with ``in_checkpoint=False`` to keep checkpoints small. Training
  checkpoints keep the student's weights where plain student checkpoints have them, so
  evaluation, export and release read a distillation checkpoint like a supervised one.
* DDP: with ``find_unused_parameters = False`` (the default, faster) every trainable part must
  receive a gradient in every step. A part whose only loss is gated off for some epochs (a KD
  term before its warm-up ends) needs ``find_unused_parameters = True`` on the subclass.
* ``train(mode)`` keeps parts registered with ``keep_eval=True`` (frozen teachers, their
  BatchNorm statistics) in eval mode.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import torch
from torch import nn

from disdepth_core.config_parsing import ConfigError, closest_key

from .loss_terms import LossTerm, supervised_terms

if TYPE_CHECKING:
    from .train_config import OptimConfig, TrainConfig

STUDENT = "student"


@dataclass(frozen=True)
class PartOptions:
    """How the trainer treats one part (see :meth:`TrainingModule.add_part`)."""

    lr_mult: float = 1.0
    trainable: bool = True
    keep_eval: bool = False
    in_checkpoint: bool = True


class TrainingModule(nn.Module):
    """Named parts in an ``nn.ModuleDict``; the student is always ``parts["student"]``."""

    # DDP's find_unused_parameters costs a graph traversal per step; a subclass sets it only
    # when a trainable part may receive no gradient in some step.
    find_unused_parameters: bool = False

    def __init__(self, cfg: TrainConfig, student: nn.Module) -> None:
        super().__init__()
        self.cfg = cfg
        self.parts = nn.ModuleDict()
        self.part_options: dict[str, PartOptions] = {}
        self._groups_handed_out = False
        self.add_part(STUDENT, student)

    # ---------------------------------------------------------------- structure
    def add_part(self, name: str, module: nn.Module, *, lr_mult: float = 1.0, trainable: bool = True,
                 keep_eval: bool = False, in_checkpoint: bool = True) -> nn.Module:
        """Register a network. ``trainable=False`` freezes its parameters (``requires_grad=False``;
        gradients still flow *through* it to earlier parts); ``keep_eval`` pins it in eval mode;
        ``lr_mult`` scales the base LR for its parameter group."""
        if self._groups_handed_out:
            raise RuntimeError(f"cannot add part {name!r}: the optimiser already exists; add every part "
                               "in the builder (build_training_module) before training starts")
        if name in self.parts:
            raise ValueError(f"part {name!r} is already registered")
        if "/" in name or "." in name:
            raise ValueError(f"part name {name!r} must not contain '/' or '.' (they separate output and state keys)")
        if not lr_mult > 0:
            raise ValueError(f"part {name!r}: lr_mult must be positive, got {lr_mult}")
        if not trainable:
            module.requires_grad_(False)
        self.parts[name] = module
        self.part_options[name] = PartOptions(float(lr_mult), bool(trainable), bool(keep_eval), bool(in_checkpoint))
        if keep_eval:
            module.eval()
        return module

    @property
    def student(self) -> nn.Module:
        return self.parts[STUDENT]

    def train(self, mode: bool = True) -> TrainingModule:
        super().train(mode)
        for name, options in self.part_options.items():
            if options.keep_eval:
                self.parts[name].eval()
        if mode and self.cfg.finetune.freeze_batchnorm:
            from .finetune.weights import freeze_batchnorm

            freeze_batchnorm(self.student)
        return self

    # ---------------------------------------------------------------- the step
    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The student's training outputs (depth, bin_centers, features, decoder_feature)."""
        outputs = self.student(batch["image"])
        if not isinstance(outputs, dict):
            raise TypeError("the student must return a dict of outputs in train mode")
        return dict(outputs)

    def loss_terms(self) -> list[LossTerm]:
        """The supervised task loss on the student's outputs (SILog + optional bins loss)."""
        cfg = self.cfg
        return supervised_terms(cfg.loss.silog_variance_focus, cfg.loss.silog_scale, cfg.loss.bins_weight,
                                cfg.data.min_depth, cfg.data.max_depth)

    def set_epoch(self, epoch: int) -> None:
        """Called by the trainer with the 0-based epoch before its steps (see the module docstring)."""

    def after_step(self) -> None:
        """Called after every optimiser step (e.g. to update a copy of the student; unused by DisDepth)."""

    def diagnostics(self, outputs: dict[str, Any], losses: dict[str, torch.Tensor], gradients: bool = True) -> dict[str, float]:
        """Figures to log at the logging interval, from this step's outputs and loss values.

        Called on logging steps only, after the losses and before the backward, so the graph is
        intact (``gradients=True`` allows extra ``torch.autograd.grad`` calls that keep it;
        ``False`` under DDP). Default: none (supervised training logs its losses only).
        """
        return {}

    # ---------------------------------------------------------------- optimiser
    def param_groups(self, optim_cfg: OptimConfig) -> list[dict[str, Any]]:
        """One AdamW group per part with trainable parameters; locks the structure."""
        groups = []
        for name, part in self.parts.items():
            options = self.part_options[name]
            params = [p for p in part.parameters() if p.requires_grad] if options.trainable else []
            if params:
                groups.append({"params": params, "lr": optim_cfg.lr * options.lr_mult,
                               "weight_decay": optim_cfg.weight_decay, "part": name})
        if not groups:
            raise ValueError("no trainable parameters: every part is frozen")
        self._groups_handed_out = True
        return groups

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter the optimiser updates (what gradient clipping must cover)."""
        for name, part in self.parts.items():
            if self.part_options[name].trainable:
                yield from (p for p in part.parameters() if p.requires_grad)

    # ---------------------------------------------------------------- checkpoints
    def trainable_state(self) -> dict[str, dict[str, torch.Tensor]]:
        """State dict of every part stored in checkpoints, keyed by part name (CPU tensors)."""
        return {name: {k: v.detach().cpu() for k, v in self.parts[name].state_dict().items()}
                for name, options in self.part_options.items() if options.in_checkpoint}

    def load_trainable_state(self, states: dict[str, dict[str, torch.Tensor]], source: str) -> None:
        """Strictly restore :meth:`trainable_state`; errors name the missing/unexpected parts or keys."""
        from disdepth_core.models.checkpoint import CheckpointMismatchError, load_state_dict_checked

        expected = {name for name, options in self.part_options.items() if options.in_checkpoint}
        missing, unexpected = sorted(expected - set(states)), sorted(set(states) - expected)
        if missing or unexpected:
            raise CheckpointMismatchError(f"checkpoint {source} does not hold the parts of this run: "
                                          f"missing {missing or 'none'}, unexpected {unexpected or 'none'} "
                                          f"(was it written with another distill config?)")
        for name in sorted(expected):
            load_state_dict_checked(self.parts[name], states[name], f"{source} (part {name!r})")


# ---------------------------------------------------------------- building from a config
TrainingModuleBuilder = Callable[["TrainConfig"], TrainingModule]

# distill.method -> builder, or "package.module:function" imported on first use.
DISTILL_METHODS: dict[str, Union[str, TrainingModuleBuilder]] = {
    # DisDepth (training/distill/module.py): the paper's method and its ablations.
    "disdepth": "training.distill.module:build_disdepth",
    "fam": "training.distill.module:build_fam",
    "kd": "training.distill.module:build_kd",
}


def register_distill_method(name: str, builder: Union[str, TrainingModuleBuilder]) -> None:
    """Make ``distill.method: name`` build its composite with ``builder(cfg)``."""
    DISTILL_METHODS[name] = builder


def build_seeded_student(cfg: TrainConfig) -> nn.Module:
    """The run's student, initialised from its own generator seeded with ``cfg.seed``.

    Its initial weights depend on the seed and ``cfg.model`` only, not on what was built before
    it (a teacher, FAMs) or on the caller's global RNG: supervised and distillation rows of one
    seed start from bit-identical students, so their differences are paired. The global RNG is
    left as it was (``fork_rng``), so anything drawn after the build does not depend on the
    student's size either.
    """
    from disdepth_core.models import build_model_from_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return build_model_from_config(cfg.model)


def build_training_module(cfg: TrainConfig) -> TrainingModule:
    """The composite for ``cfg`` (the supervised student, or the ``distill.method`` composite),
    its student started from ``finetune.init_checkpoint`` when one is set."""
    module = _build_composite(cfg)
    if cfg.finetune.init_checkpoint:
        from .finetune.weights import start_from_checkpoint

        start_from_checkpoint(module, cfg.finetune.init_checkpoint)
    return module


def _build_composite(cfg: TrainConfig) -> TrainingModule:
    if not cfg.distill.enabled:
        return TrainingModule(cfg, build_seeded_student(cfg))
    method = cfg.distill.method
    builder = DISTILL_METHODS.get(method) or (method if ":" in method else None)
    if builder is None:
        hint = closest_key(method, DISTILL_METHODS)
        known = ", ".join(sorted(DISTILL_METHODS)) or "none registered"
        raise ConfigError(f"distill.method '{method}' is unknown" + (f"; did you mean '{hint}'?" if hint else f" (known: {known})"))
    if isinstance(builder, str):
        module_name, _, function = builder.partition(":")
        try:
            builder = getattr(importlib.import_module(module_name), function)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"distill.method '{method}': cannot import {builder} ({err})") from err
    module = builder(cfg)
    if not isinstance(module, TrainingModule):
        raise TypeError(f"distill method {method!r} returned {type(module).__name__}, not a TrainingModule")
    return module
