"""Metadata that travels with exported artifacts: ONNX ``metadata_props`` and engine sidecars.

A runtime must recover how to feed a model and read its output from the artifact alone, and
a stale engine must be recognised *before* TensorRT deserialises it (deserialising a foreign
engine can crash the process). So ONNX files embed :class:`ModelMetadata` under the key
``disdepth`` (plus a few flat keys for humans and ``netron``), and engines get a JSON sidecar
``<engine>.json`` written next to them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from disdepth_core.runtime.metadata import ModelMetadata

METADATA_KEY = "disdepth"
# Flat keys duplicated for tools that only show string props (netron, onnx.helper printing).
FLAT_KEYS = ("architecture", "input_layout", "min_depth", "max_depth", "dataset", "checkpoint_sha256", "exporter_version")
INPUT_NAME = "image"
OUTPUT_NAME = "depth"


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
