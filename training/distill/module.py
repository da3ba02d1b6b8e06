"""DisDepth distillation as a composite :class:`~training.modules.TrainingModule` (paper Algorithm 1).

Methods (``distill.method``; ``distill.enabled: false`` trains the student alone):

=============  ==============================================================  ==============
method         parts (besides the student)                                     paper rows
=============  ==============================================================  ==============
``disdepth``   frozen teacher, FAMs, ghost decoder, LAMs; attentive KD         T3 "w/ FA", T4 last
``fam``        frozen teacher, FAMs, ghost decoder; KD on acclimated features  T4 "FAM"
``kd``         frozen teacher, student-side 1x1 regressors; plain feature KD   T3/T4 "KD"
=============  ==============================================================  ==============

One training iteration (the paper's Algorithm 1, its text reconstructed from sections 3.3-3.4):

1. student forward: ``S_i`` (stage features) and its depth ``D_s``;
2. teacher backbone forward, frozen and in eval mode, under ``no_grad``: ``T_i`` (``kd`` skips it
   and its regressors during the warm-up, when nothing reads them; disdepth/fam need it from
   epoch 0 for the ghost-teacher task loss that trains FAM/LAM);
3. ``A_i = FAM_i(T_i)``; with LAM ``(A_i M_i, M_i) = LAM_i(A_i)``, else ``M_i = 1``;
4. ghost decoder (= the student's decoder and heads at this step, called with detached weights)
   on ``A_i M_i``: ``D_g``;
5. ``L = L_task(D_s) + L_task(D_g) + lambda * L_kd(A, S, M)`` (paper eq. 3), ``L_kd`` only from
   epoch ``kd_start_epoch`` (warm-up; 7 in the paper); ``L_task`` is SILog (+ the bins loss
   when configured) for both;
6. one optimiser step over student, FAM, LAM (the teacher is frozen; the ghost is no part of its
   own, it *is* the student's decoder seen through detached weights, so it passes gradients
   through to FAM/LAM, never updates the decoder, and follows every step with nothing to copy).

Gradient routing that this gives, and the tests check: ``L_task(D_g)`` reaches FAM and LAM only
(the student's decoder is not touched by the teacher's loss, the teacher backbone gets nothing);
``L_kd`` reaches the student only (targets detached, see :mod:`disdepth_core.models.kd`);
``L_task(D_s)`` reaches the student only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from disdepth_core.config_parsing import ConfigError
from disdepth_core.models.checkpoint import load_model, read_checkpoint
from disdepth_core.models.fam import FeatureAcclimation
from disdepth_core.models.ghost import ghost_decode
from disdepth_core.models.kd import FeatureKD, attentive_kd_loss
from disdepth_core.models.lam import LossAttentionModules

from ..loss_terms import LossTerm, supervised_terms
from ..modules import TrainingModule, build_seeded_student

METHODS = ("disdepth", "fam", "kd")

# Part name under which checkpoints written before the ghost became a functional call stored a
# deep copy of the student's decoder + heads (see load_trainable_state).
LEGACY_GHOST_PART = "ghost"


class DistillationModule(TrainingModule):
    """Student + frozen teacher + the method's parts; see the module docstring."""

    def __init__(self, cfg: Any, student: nn.Module, teacher: nn.Module, method: str) -> None:
        super().__init__(cfg, student)
        if method not in METHODS:
            raise ConfigError(f"distill.method '{method}' is not a DisDepth method; use one of {', '.join(METHODS)}")
        self.method = method
        # Epoch the trainer announced (set_epoch); None = unknown, forward computes everything.
        self.epoch: int | None = None
        self.add_part("teacher", teacher, trainable=False, keep_eval=True, in_checkpoint=False)
        if method == "kd":
            self.add_part("kd", FeatureKD(student.feature_channels, teacher.feature_channels))
            # The regressors' only loss is gated off during the warm-up: DDP must allow that.
            self.find_unused_parameters = True
            return
        self.add_part("fam", FeatureAcclimation(teacher.feature_channels, student.feature_channels))
        if method == "disdepth":
            self.add_part("lam", LossAttentionModules(student.feature_channels))
        # The ghost decoder is no part: ghost_decode runs the student's own decoder and heads with
        # detached weights (nothing to copy, synchronise or store).

    @property
    def teacher(self) -> nn.Module:
        return self.parts["teacher"]

    # ---------------------------------------------------------------- the step
    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def kd_active(self) -> bool:
        """Whether the KD term counts in the current epoch (True while the epoch is unknown)."""
        return self.epoch is None or self.epoch >= self.cfg.distill.kd_start_epoch

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        outputs = super().forward(batch)  # the student's depth, bin_centers, features, decoder_feature
        images = batch["image"]
        if self.method == "kd" and not self.kd_active:
            # Warm-up: the KD term is the only reader of the teacher and the regressors, so neither
            # runs (the regressors get no gradient either way: find_unused_parameters is on).
            # disdepth/fam need the teacher from epoch 0: their ghost-teacher task loss trains FAM/LAM.
            return outputs
        with torch.no_grad():
            teacher_features = self.teacher.forward_features(images)
        if self.method == "kd":
            outputs["kd/loss"] = self.parts["kd"](teacher_features, outputs["features"])
            outputs["teacher/features"] = teacher_features  # for the imitation residual (diagnostics)
            return outputs
        acclimated, ghost_input, scores = self.acclimate(teacher_features, [f.shape[-2:] for f in outputs["features"]])
        ghost = ghost_decode(self.student, ghost_input, images.shape[-2:])
        outputs.update({"fam/features": acclimated, "ghost/depth": ghost["depth"], "ghost/bin_centers": ghost["bin_centers"]})
        if scores is not None:
            outputs["lam/scores"] = scores
        return outputs

    def acclimate(self, teacher_features: list[torch.Tensor], sizes: list[Any]) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor] | None]:
        """``(A, ghost input, M)``: FAM outputs, the LAM-weighted features (or A) and scores (or None)."""
        acclimated = self.parts["fam"](teacher_features, sizes)
        if "lam" not in self.parts:
            return acclimated, acclimated, None
        weighted, scores = self.parts["lam"](acclimated)
        return acclimated, weighted, scores

    def loss_terms(self) -> list[LossTerm]:
        cfg = self.cfg
        terms = super().loss_terms()
        if self.method != "kd":
            terms += supervised_terms(cfg.loss.silog_variance_focus, cfg.loss.silog_scale, cfg.loss.bins_weight,
                                      cfg.data.min_depth, cfg.data.max_depth, prefix="ghost/")
        return terms + [LossTerm("kd", cfg.distill.kd_weight, self.kd_term, start_epoch=cfg.distill.kd_start_epoch)]

    def kd_term(self, outputs: dict[str, Any], batch: dict[str, Any], epoch: int) -> torch.Tensor:
        if self.method == "kd":
            if "kd/loss" not in outputs:
                raise RuntimeError(f"kd term asked for at epoch {epoch}, but forward ran for epoch {self.epoch} "
                                   "(KD warm-up, teacher skipped): call set_epoch(epoch) before forward")
            return outputs["kd/loss"]
        return attentive_kd_loss(outputs["fam/features"], outputs["features"], outputs.get("lam/scores"))

    def diagnostics(self, outputs: dict[str, Any], losses: dict[str, torch.Tensor], gradients: bool = True) -> dict[str, float]:
        """KD/task gradient ratio, imitation residuals, LAM statistics (:mod:`.diagnostics`)."""
        from .diagnostics import distillation_diagnostics

        return distillation_diagnostics(self, outputs, losses, gradients)

    @property
    def has_ghost(self) -> bool:
        return self.method != "kd"

    def load_trainable_state(self, states: dict[str, dict[str, torch.Tensor]], source: str) -> None:
        """Strict restore (see the base class), accepting checkpoints of the former ghost copy.

        Checkpoints written while the ghost was a deep copy of the student's decoder + heads hold
        that copy as part ``"ghost"``. It was re-synchronised after every step, so it only repeats
        the student's decoder/head weights stored in the same file: drop it explicitly (methods
        with a ghost only) and load everything else strictly.
        """
        if self.has_ghost and LEGACY_GHOST_PART in states and LEGACY_GHOST_PART not in self.parts:
            states = {name: state for name, state in states.items() if name != LEGACY_GHOST_PART}
        super().load_trainable_state(states, source)

    # ---------------------------------------------------------------- Table 5
    @torch.no_grad()
    def ghost_teacher_depth(self, images: torch.Tensor) -> torch.Tensor:
        """Depth of the acclimated teacher read by the ghost decoder (paper Table 5's second row)."""
        features = self.teacher.forward_features(images)
        sizes = [(math.ceil(images.shape[-2] / s), math.ceil(images.shape[-1] / s)) for s in self.student.feature_reductions]
        _, ghost_input, _ = self.acclimate(features, sizes)
        return ghost_decode(self.student, ghost_input, images.shape[-2:])["depth"]


def check_teacher_path(cfg: Any) -> str:
    """``distill.teacher_checkpoint`` if it names a file; else a one-line :class:`ConfigError`."""
    path = cfg.distill.teacher_checkpoint
    if not path:
        raise ConfigError("distill.teacher_checkpoint is empty: train the teacher first (a config with a Swin backbone, "
                          "e.g. training/configs/synthetic_teacher_nyu.yaml), then pass --set distill.teacher_checkpoint=PATH")
    if not Path(path).is_file():
        raise ConfigError(f"distill.teacher_checkpoint: {path} does not exist (train the teacher first, or fix the path)")
    return path


def load_teacher(cfg: Any) -> nn.Module:
    """The frozen teacher named by ``distill.teacher_checkpoint``, checked against this run.

    A clear one-line error (``ConfigError``/``CheckpointError``, both ValueErrors) when the path is
    empty or missing, the file is not a DisDepth checkpoint, its weights do not fit the
    architecture it records, it is not the ``distill.teacher_backbone`` the config expects, or it
    was trained for another depth range than this run's data.
    """
    distill = cfg.distill
    path = check_teacher_path(cfg)
    recorded = read_checkpoint(path)["model_config"].get("backbone", "?")
    expected = getattr(distill, "teacher_backbone", "")
    if expected and recorded != expected:
        raise ConfigError(f"distill.teacher_checkpoint {path} holds a {recorded} model, but this config's teacher is "
                          f"distill.teacher_backbone={expected}")
    teacher, meta = load_model(path)
    teacher_max = float(teacher.cfg.head.max_depth)
    if cfg.data is not None and not math.isclose(teacher_max, float(cfg.data.max_depth), rel_tol=1e-6):
        raise ConfigError(f"distill.teacher_checkpoint {path} was trained for depths up to {teacher_max:g} m "
                          f"({meta.get('dataset', '?')}), this run's data goes to {cfg.data.max_depth:g} m; use a teacher of the same dataset")
    return teacher.requires_grad_(False).eval()


def build_distillation(cfg: Any, method: str, module_class: type[DistillationModule] = DistillationModule) -> DistillationModule:
    """Student from ``model``, teacher from ``distill.teacher_checkpoint``, the method's parts.

    Paired rows: the student comes from :func:`~training.modules.build_seeded_student` (its
    weights depend on the seed and ``model`` only, so a supervised, ``kd``, ``fam`` and
    ``disdepth`` run of one seed start from the same student), and the teacher and the method's
    parts are built under ``fork_rng``, so the global RNG after building is the supervised run's
    too. The teacher's path is checked first: a missing file is one line before any network is built.
    """
    check_teacher_path(cfg)
    student = build_seeded_student(cfg)
    with torch.random.fork_rng(devices=[]):
        teacher = load_teacher(cfg)
        if len(teacher.feature_channels) != len(student.feature_channels):
            raise ConfigError(f"teacher {teacher.cfg.backbone} has {len(teacher.feature_channels)} output stages, "
                              f"student {student.cfg.backbone} {len(student.feature_channels)}")
        return module_class(cfg, student, teacher, method)


def build_disdepth(cfg: Any) -> DistillationModule:
    """``distill.method: disdepth``: FAM + ghost decoder + LAM + attentive KD (the paper's method)."""
    return build_distillation(cfg, "disdepth")


def build_fam(cfg: Any) -> DistillationModule:
    """``distill.method: fam``: FAM + ghost decoder, KD on acclimated features without LAM."""
    return build_distillation(cfg, "fam")


def build_kd(cfg: Any) -> DistillationModule:
    """``distill.method: kd``: plain feature KD from raw teacher features (no acclimation)."""
    return build_distillation(cfg, "kd")
