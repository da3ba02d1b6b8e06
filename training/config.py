"""Training configuration: one YAML file -> typed dataclasses, unknown keys rejected.

A typo in a config key (``lerning_rate``) must fail at start, not silently train with the
default for 25 epochs; every section is therefore parsed strictly. ``--set a.b=value``
overrides on the command line go through the same parser.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from disdepth_core.data.config import DatasetConfig, dataset_config_from_dict
from disdepth_core.models.config import StudentConfig


@dataclass
class OptimConfig:
    """Paper defaults (section 4): Adam, batch 8, 25 epochs, lr decayed linearly per iteration."""

    lr: float = 1e-4
    end_lr_ratio: float = 0.01
    weight_decay: float = 1e-2
    batch_size: int = 8
    epochs: int = 25
    grad_clip: float = 0.0
    amp: bool = False
    num_workers: int = 2
    # Limit iterations per epoch (0 = full epoch); for smoke tests and quick experiments.
    max_iters_per_epoch: int = 0


@dataclass
class LossConfig:
    """SILog task loss (lambda 0.85, alpha 10) and AdaBins' optional chamfer bins loss."""

    silog_variance_focus: float = 0.85
    silog_scale: float = 10.0
    bins_weight: float = 0.0


@dataclass
class LogConfig:
    out_dir: str = "runs/default"
    log_every: int = 20
    image_every: int = 200
    val_every: int = 1
    val_flip_tta: bool = False
    # Evaluate on at most this many test images during training (0 = all).
    val_max_images: int = 0
    tensorboard: bool = True


@dataclass
class TrainConfig:
    name: str = "default"
    seed: int = 0
    model: StudentConfig = field(default_factory=StudentConfig)
    data: DatasetConfig | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "seed": self.seed, "model": self.model.to_dict(),
               "data": asdict(self.data) if self.data else None,
               "optim": asdict(self.optim), "loss": asdict(self.loss), "log": asdict(self.log)}
        return out


def _strict(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    data = dict(data or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown key(s) in '{where}': {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**data)


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Parse a whole config mapping; raise ``ValueError`` naming any unknown key."""
    data = dict(data)
    top = {"name", "seed", "model", "data", "optim", "loss", "log"}
    unknown = sorted(set(data) - top)
    if unknown:
        raise ValueError(f"unknown top-level key(s): {', '.join(unknown)}; known: {', '.join(sorted(top))}")
    if not data.get("data"):
        raise ValueError("config has no 'data' section (dataset name, roots, split files)")
    return TrainConfig(
        name=str(data.get("name", "default")),
        seed=int(data.get("seed", 0)),
        model=StudentConfig.from_dict(data.get("model") or {}),
        data=dataset_config_from_dict(data["data"]),
        optim=_strict(OptimConfig, data.get("optim"), "optim"),
        loss=_strict(LossConfig, data.get("loss"), "loss"),
        log=_strict(LogConfig, data.get("log"), "log"),
    )


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings (value parsed as YAML) to a nested mapping."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key.path=value")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: '{part}' is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
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
    return train_config_from_dict(apply_overrides(read_config_mapping(path), overrides or []))
