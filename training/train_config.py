"""Training configuration: one YAML file -> typed dataclasses, unknown keys rejected.

A typo in a config key (``lerning_rate``) must fail at start, not silently train with the
default for 25 epochs; the whole tree is therefore parsed by the one strict generic loader in
:mod:`disdepth_core.config_parsing` (unknown keys name the closest valid key, scalars are
type-checked). ``--set a.b=value`` overrides go through the same parser. Adding a section is
one dataclass plus one field on :class:`TrainConfig`; nothing else parses sections by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from disdepth_core.config_parsing import ConfigError, dataclass_to_dict, load_dataclass
from disdepth_core.data.dataset_config import DatasetConfig
from disdepth_core.models.model_config import ModelConfig
from disdepth_core.value_ranges import ranged

# NumPy's seeds are 32-bit: a larger or negative seed fails deep inside the data pipeline.
SEED_MAX = 2**32 - 1

from .finetune.section import FinetuneConfig


@dataclass
class OptimConfig:
    """Paper defaults (section 4): Adam (here AdamW, weight decay 0.01), batch 8, 25 epochs, lr decayed linearly per iteration."""

    lr: float = ranged(1e-4, gt=0)
    end_lr_ratio: float = ranged(0.01, ge=0, le=1)
    weight_decay: float = ranged(1e-2, ge=0)
    batch_size: int = ranged(8, ge=1)
    epochs: int = ranged(25, ge=1)
    grad_clip: float = ranged(0.0, ge=0)  # 0 = no clipping
    amp: bool = False
    num_workers: int = ranged(2, ge=0)
    # Limit iterations per epoch (0 = full epoch); for smoke tests and quick experiments.
    max_iters_per_epoch: int = ranged(0, ge=0)


@dataclass
class LossConfig:
    """SILog task loss (lambda 0.85, alpha 10) and AdaBins' optional chamfer bins loss."""

    silog_variance_focus: float = ranged(0.85, ge=0, le=1)
    silog_scale: float = ranged(10.0, gt=0)
    bins_weight: float = ranged(0.0, ge=0)


@dataclass
class LogConfig:
    out_dir: str = "runs/default"
    log_every: int = ranged(20, ge=1)
    image_every: int = ranged(200, ge=0)  # 0 = no images
    val_every: int = ranged(1, ge=0)  # 0 = no validation
    val_flip_tta: bool = False
    # Evaluate on at most this many test images during training (0 = all).
    val_max_images: int = ranged(0, ge=0)
    tensorboard: bool = True


@dataclass
class DistillConfig:
    """Cross-architecture distillation (paper sections 3.3-3.4); disabled by default.

    ``enabled: false`` trains the supervised student alone. When enabled,
    :func:`training.modules.build_training_module` builds the composite for ``method`` (a name
    registered in :data:`training.modules.DISTILL_METHODS`). The paper's values: KD weight
    lambda 0.05, KD from epoch 7 (warm-up, Table 6).
    """

    enabled: bool = False
    method: str = "disdepth"
    # A teacher checkpoint written by this trainer (same safe format as student checkpoints).
    teacher_checkpoint: str = ""
    kd_weight: float = ranged(0.05, ge=0)
    # First epoch (0-based) at which the KD loss is active.
    kd_start_epoch: int = ranged(7, ge=0)
    # Expected teacher architecture (e.g. swin_large_patch4_window12_384); checked against the
    # checkpoint so a Table 3 config cannot silently distil from the wrong teacher. Empty: any.
    teacher_backbone: str = ""


@dataclass
class TrainConfig:
    name: str = "default"
    seed: int = ranged(0, ge=0, le=SEED_MAX)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DatasetConfig | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    log: LogConfig = field(default_factory=LogConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (recorded in checkpoints); ``train_config_from_dict`` reads it back."""
        return dataclass_to_dict(self)


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Parse a whole config mapping strictly; raise :class:`ConfigError` (a ValueError) naming the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping at the top level, got {type(data).__name__}")
    if not data.get("data"):
        raise ConfigError("config has no 'data' section (dataset name, roots, split files)")
    return load_dataclass(TrainConfig, data)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings (value parsed as YAML, else kept as text) to a nested mapping.

    Types are not checked here: the strict loader checks every value against its field, so
    ``--set optim.lr=abc`` fails exactly like ``lr: abc`` in the file would.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(f"override {item!r} is not of the form key.path=value (e.g. optim.lr=1e-4)")
        node = data
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{part}' is a value, not a section")
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return data


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, values replace)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_mapping(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML config, resolving ``base: other.yaml`` (relative to the file) recursively.

    Paper configs share everything but the backbone; inheritance keeps them one line each
    instead of ten copies that drift apart.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    if path in _seen:
        raise ValueError(f"config inheritance loop: {' -> '.join(str(p) for p in (*_seen, path))}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"config {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"config {path} must be a mapping at the top level")
    base = data.pop("base", None)
    if base:
        data = deep_merge(read_config_mapping(path.parent / base, (*_seen, path)), data)
    return data


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (with ``base:`` inheritance), apply overrides, parse it strictly."""
    overrides = list(overrides or [])
    try:
        return train_config_from_dict(apply_overrides(read_config_mapping(path), overrides))
    except ConfigError as err:
        # Point at the --set that caused it, so the user knows which of file/flag to fix.
        culprit = next((item for item in reversed(overrides)
                        if str(err).startswith(tuple(item.partition("=")[0].strip() + end for end in (" ", "[")))), None)
        if culprit is None:
            raise
        raise ConfigError(f"{err} (from --set {culprit})") from None
