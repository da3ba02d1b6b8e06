"""Model metadata that travels with every artifact (checkpoint meta, ONNX props, engine sidecar).

A runtime must know how to feed a model (input size, layout, mean/std) and how to read its
output (depth range, the focal length it was trained at) without importing training code;
and a stale engine must be recognisable before it is deserialised. One dataclass, one
JSON form, used everywhere.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from disdepth_core.data.transforms import IMAGENET_MEAN, IMAGENET_STD

# Input layouts an exported model can have.
LAYOUT_NCHW_FLOAT = "nchw_float"  # float32 [N,3,H,W], already normalised with mean/std
LAYOUT_NHWC_UINT8 = "nhwc_uint8"  # uint8 [N,H,W,3] RGB, normalisation inside the graph
LAYOUTS = (LAYOUT_NCHW_FLOAT, LAYOUT_NHWC_UINT8)


@dataclass
class ModelMetadata:
    """Everything needed to run a depth model correctly, independent of the backend."""

    architecture: str = ""
    lg_conv: bool = True
    input_height: int = 0
    input_width: int = 0
    input_layout: str = LAYOUT_NCHW_FLOAT
    dynamic_shape: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    min_depth: float = 1e-3
    max_depth: float = 80.0
    dataset: str = ""
    train_focal: float = 0.0
    checkpoint_sha256: str = ""
    exporter_version: str = ""
    # Backend-specific facts: tensorrt_version, precision, gpu_name, onnx_sha256, ...
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelMetadata":
        """Tolerant of keys from newer versions (ignored), strict on types of known keys."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("mean", "std"):
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        for key in ("input_height", "input_width"):
            if key in values:
                values[key] = int(values[key])
        for key in ("min_depth", "max_depth", "train_focal"):
            if key in values and values[key] is not None:
                values[key] = float(values[key])
        if values.get("train_focal") is None:
            values["train_focal"] = 0.0
        if values.get("input_layout", LAYOUT_NCHW_FLOAT) not in LAYOUTS:
            raise ValueError(f"unknown input layout {values['input_layout']!r}; expected one of {LAYOUTS}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_checkpoint_meta(cls, meta: dict[str, Any], input_hw: tuple[int, int] | None = None) -> "ModelMetadata":
        """Build from ``load_student``'s meta dict (training-time facts + model config)."""
        model_cfg = meta.get("model_config", {})
        # "input_size" is the evaluation-time network input (e.g. the KB crop); older
        # checkpoints only have the random-crop training size.
        recorded = meta.get("input_size") or meta.get("train_input_size") or [0, 0]
        height, width = input_hw or (int(recorded[0]), int(recorded[1]))
        from disdepth_core import __version__

        return cls(
            architecture=str(model_cfg.get("backbone", "")),
            lg_conv=bool(model_cfg.get("lg_conv", True)),
            input_height=height,
            input_width=width,
            mean=tuple(meta.get("mean", IMAGENET_MEAN)),
            std=tuple(meta.get("std", IMAGENET_STD)),
            min_depth=float(meta.get("min_depth", model_cfg.get("head", {}).get("min_depth", 1e-3))),
            max_depth=float(meta.get("max_depth", model_cfg.get("head", {}).get("max_depth", 80.0))),
            dataset=str(meta.get("dataset", "")),
            train_focal=float(meta.get("train_focal") or 0.0),
            checkpoint_sha256=str(meta.get("checkpoint_sha256", "")),
            exporter_version=__version__,
        )
