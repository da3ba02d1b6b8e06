"""Check ``--model`` before any work: fine-tuning starts from a depth *student* checkpoint.

A shipped model, a released student or a supervised training checkpoint are fine (their student
weights start the run and their architecture is kept). An exported ONNX/TensorRT file has no
trainable weights, a Swin teacher is not what robots run, and a distillation checkpoint carries
teacher and adapter parts: each is one line that says what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")


class StartModelError(ValueError):
    """``--model`` cannot be fine-tuned (one line)."""


@dataclass(frozen=True)
class StartModel:
    """What the run keeps from the starting model."""

    path: Path
    model_config: dict[str, Any]
    meta: dict[str, Any]
    input_hw: tuple[int, int]
    min_depth: float
    max_depth: float

    @property
    def backbone(self) -> str:
        return str(self.model_config.get("backbone", ""))


def check_start_model(path: str | Path) -> StartModel:
    """Read ``path`` and make sure it is a depth student with a recorded input size."""
    from disdepth_core.models.checkpoint import CheckpointError, read_checkpoint
    from disdepth_core.models.registry import list_teachers

    path = Path(path)
    if path.is_file() and path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise StartModelError(f"--model {path} is an exported model ({path.suffix}): fine-tuning needs the PyTorch checkpoint "
                              "it was exported from (.pt or .safetensors, e.g. models/demo/model.pt)")
    try:
        payload = read_checkpoint(path)
    except CheckpointError as err:
        raise StartModelError(f"--model: {err}") from None
    config = dict(payload.get("model_config") or {})
    backbone = str(config.get("backbone", ""))
    if backbone in list_teachers():
        raise StartModelError(f"--model {path} is a {backbone} teacher, not a depth student: fine-tune a student (e.g. "
                              "models/demo/model.pt), or distil the teacher into one first (docs/distillation.md)")
    train_config = (payload.get("training_state") or {}).get("train_config") or {}
    if (train_config.get("distill") or {}).get("enabled"):
        raise StartModelError(f"--model {path} is a distillation checkpoint (student plus teacher-side parts); release its "
                              f"student first: python -m training.release --checkpoint {path} --output student.pt, "
                              "then fine-tune student.pt")
    meta = dict(payload.get("meta") or {})
    size = meta.get("input_size") or meta.get("train_input_size")
    if not size or len(size) != 2 or min(int(v) for v in size) <= 0:
        raise StartModelError(f"--model {path} records no input size (meta.input_size); it was not written by this "
                              "project's trainer or release tool")
    head = config.get("head") or {}
    return StartModel(path, config, meta, (int(size[0]), int(size[1])),
                      float(meta.get("min_depth", head.get("min_depth", 1e-3))),
                      float(meta.get("max_depth", head.get("max_depth", 10.0))))
