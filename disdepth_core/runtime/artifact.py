"""What a deployed model *is*: its metadata and how every artifact carries it.

A runtime must know how to feed a model (input size, layout, mean/std) and how to read its
output (depth range, the focal length it was trained at) without importing training code, and
a stale engine must be recognisable *before* TensorRT deserialises it (deserialising a foreign
engine can crash the process). So this one module holds the contract: one dataclass
(:class:`ModelMetadata`), one JSON form, and the two places it travels outside checkpoints:

* ONNX files embed it in ``metadata_props`` under the key ``disdepth`` (plus a few flat keys
  for humans and ``netron``), read back by the ONNX Runtime, OpenVINO and TensorRT paths;
* engines get a JSON sidecar ``<engine>.json`` written next to them.

The exporter (:mod:`disdepth_core.export`) writes artifacts through this module; nothing here
imports the exporter, onnx (except inside :func:`read_onnx_metadata`) or torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from disdepth_core.config_parsing import dataclass_to_dict, load_dataclass

from .normalization import IMAGENET_MEAN, IMAGENET_STD

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

    def __post_init__(self) -> None:
        if self.input_layout not in LAYOUTS:
            raise ValueError(f"unknown input layout {self.input_layout!r}; expected one of {LAYOUTS}")

    def to_dict(self) -> dict[str, Any]:
        return dataclass_to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelMetadata":
        """Tolerant of keys from newer versions (ignored), strict on the types of known keys
        (the one mapping-to-dataclass parser, :mod:`disdepth_core.config_parsing`)."""
        values = dict(data)
        if values.get("train_focal", 0.0) is None:  # older exports wrote null for "unknown"
            values["train_focal"] = 0.0
        return load_dataclass(cls, values, "model metadata", ignore_unknown=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelMetadata":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_checkpoint_meta(cls, meta: dict[str, Any], input_hw: tuple[int, int] | None = None) -> "ModelMetadata":
        """Build from ``load_model``'s meta dict (training-time facts + model config)."""
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


METADATA_KEY = "disdepth"
# Flat keys duplicated for tools that only show string props (netron, onnx.helper printing).
FLAT_KEYS = ("architecture", "input_layout", "min_depth", "max_depth", "dataset", "checkpoint_sha256", "exporter_version")
INPUT_NAME = "image"
OUTPUT_NAME = "depth"
# Optional second output (exports since issue 17): per-pixel confidence in [0, 1], same shape as depth
# (disdepth_core.models.heads.depth_confidence). Older one-output artifacts run without it.
CONFIDENCE_NAME = "confidence"


def onnx_metadata_props(metadata: ModelMetadata) -> dict[str, str]:
    """The string key/value pairs written into an ONNX model's ``metadata_props``."""
    props = {METADATA_KEY: metadata.to_json()}
    data = metadata.to_dict()
    for key in FLAT_KEYS:
        props[f"{METADATA_KEY}.{key}"] = str(data[key])
    props[f"{METADATA_KEY}.input_size"] = f"{metadata.input_height}x{metadata.input_width}"
    return props


def embed_onnx_metadata(model: Any, metadata: ModelMetadata) -> None:
    """Replace any previous DisDepth props of an ``onnx.ModelProto`` in place."""
    props = onnx_metadata_props(metadata)
    keep = [(p.key, p.value) for p in model.metadata_props if p.key != METADATA_KEY and not p.key.startswith(f"{METADATA_KEY}.")]
    del model.metadata_props[:]
    for key, value in keep + sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "disdepth"
    model.producer_version = metadata.exporter_version


def metadata_from_props(props: dict[str, str]) -> ModelMetadata | None:
    """Parse the ``disdepth`` prop back; ``None`` when the file was not exported by DisDepth."""
    text = props.get(METADATA_KEY)
    if not text:
        return None
    return ModelMetadata.from_json(text)


def read_onnx_metadata(onnx_path: str | Path) -> ModelMetadata:
    """DisDepth metadata from an ONNX file's props; a clear error for foreign or corrupt files."""
    import onnx

    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {onnx_path}")
    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 - protobuf decode errors have many types
        raise ValueError(f"cannot read ONNX model {onnx_path}: {type(err).__name__}") from err
    metadata = metadata_from_props({p.key: p.value for p in model.metadata_props})
    if metadata is None:
        raise ValueError(f"{onnx_path} was not exported by disdepth (no 'disdepth' metadata); export it with `disdepth export`")
    return metadata


def sidecar_path(engine_path: str | Path) -> Path:
    """``model.engine`` -> ``model.engine.json`` (the suffix stays visible: ``.plan.json`` too)."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def write_sidecar(engine_path: str | Path, metadata: ModelMetadata) -> Path:
    """Write the sidecar atomically so a crash never leaves a half-written one beside an engine."""
    path = sidecar_path(engine_path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(metadata.to_json() + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_sidecar(engine_path: str | Path) -> ModelMetadata | None:
    """The sidecar's metadata, or ``None`` when missing or unreadable (the caller says why)."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        return None
    try:
        return ModelMetadata.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, OSError):
        return None
