"""Pure TensorRT decisions, kept free of ``tensorrt``/``pycuda`` imports so tests can call them.

Version parsing and API selection (bindings on 8.x, named tensors on 10.x), buffer sizing,
dynamic-shape checks against an optimisation profile, and the rule that says whether a
serialized engine may be deserialised here or must be rebuilt from its ONNX. Deserialising
a foreign engine can abort the process inside TensorRT, so every refusal is decided here
from the JSON sidecar *before* TensorRT sees the bytes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .artifact import ModelMetadata


def parse_trt_version(text: str) -> tuple[int, int, int]:
    """``"8.6.1.6"`` -> ``(8, 6, 1)``; build numbers and suffixes are ignored."""
    numbers = [int(n) for n in re.findall(r"\d+", str(text))[:3]]
    if not numbers:
        raise ValueError(f"cannot parse TensorRT version {text!r}")
    return tuple((numbers + [0, 0])[:3])  # type: ignore[return-value]


MIN_SUPPORTED_VERSION = (8, 5)


def check_supported_version(version: str) -> None:
    """Refuse TensorRT older than 8.5 (JetPack 5.1's): the memory-pool and named-tensor queries used here are missing."""
    if parse_trt_version(version)[:2] < MIN_SUPPORTED_VERSION:
        raise ValueError(f"TensorRT {version} is too old: DisDepth needs TensorRT >= 8.5 (JetPack 5.1 or newer)")


def is_strongly_typed_only(version: str) -> bool:
    """TensorRT 11 removed BuilderFlag.FP16/INT8 and the INT8 calibrator: networks are strongly typed,
    so every tensor keeps the type the ONNX gives it."""
    return parse_trt_version(version)[0] >= 11


def strongly_typed_refusal(version: str, precision: str) -> str:
    """The one-line reason a ``precision`` build cannot run on a strongly-typed-only TensorRT."""
    return (f"--precision {precision} needs TensorRT's FP16/INT8 builder flags, which TensorRT {version} removed (networks "
            "are strongly typed: precision comes from the ONNX's own types). Build with --precision fp32 (the engine then "
            "runs the ONNX as exported, fp32 for a DisDepth export), or use TensorRT 10.x (JetPack 6) for fp16/int8")


def uses_named_tensor_api(version: str) -> bool:
    """TensorRT 10 removed the binding API; 8.6 gets the bindings path it was validated with."""
    return parse_trt_version(version)[0] >= 10


def needs_explicit_batch_flag(version: str) -> bool:
    """EXPLICIT_BATCH must be passed on 8.x; on 10.x it is the default and the flag is deprecated."""
    return parse_trt_version(version)[0] < 10


def cuda_device_index(device: str, default: int = 0) -> int:
    """``"cuda:N"`` -> N; ``"auto"``/``"cuda"``/``"gpu"`` -> ``default``.

    Shared by the TensorRT and ONNX Runtime backends so ``device="cuda:1"`` picks the same
    GPU everywhere instead of silently running on GPU 0. Anything else (``"cpu"``, typos) is
    a ``ValueError``: a GPU backend must not guess.
    """
    text = str(device).strip().lower()
    if text in ("auto", "cuda", "gpu", ""):
        return int(default)
    match = re.fullmatch(r"(?:cuda|gpu):(\d+)", text)
    if match is None:
        raise ValueError(f"device {device!r} is not a CUDA device; use 'auto', 'cuda' or 'cuda:N'")
    return int(match.group(1))


def volume(shape: Sequence[int]) -> int:
    """Element count of a concrete shape; a dynamic (-1) dim here is a bug, so it raises."""
    total = 1
    for dim in shape:
        if int(dim) < 0:
            raise ValueError(f"shape {tuple(shape)} still has a dynamic dimension; set the input shape first")
        total *= int(dim)
    return total


def buffer_nbytes(shape: Sequence[int], dtype: Any) -> int:
    """Bytes needed for a tensor of ``shape`` and numpy ``dtype`` (from ``trt.nptype``)."""
    return volume(shape) * np.dtype(dtype).itemsize


def spec_dims(shape: Sequence[int], uint8_layout: bool) -> tuple[int, int]:
    """(height, width) of an engine input shape, with dynamic (-1) dims as 0 like ``InputSpec``."""
    height, width = (shape[1], shape[2]) if uint8_layout else (shape[2], shape[3])
    return max(int(height), 0), max(int(width), 0)


def profile_violation(shape: Sequence[int], min_shape: Sequence[int], max_shape: Sequence[int]) -> str | None:
    """Why ``shape`` is outside the engine's optimisation profile, or ``None`` if it fits."""
    if len(shape) != len(min_shape):
        return f"rank {len(shape)} != engine rank {len(min_shape)}"
    for axis, (value, low, high) in enumerate(zip(shape, min_shape, max_shape)):
        if not int(low) <= int(value) <= int(high):
            return (f"dimension {axis} is {value}, engine profile allows {low}..{high} "
                    f"(min {tuple(min_shape)}, max {tuple(max_shape)})")
    return None


def engine_rebuild_reason(sidecar_meta: ModelMetadata | dict[str, Any] | None, trt_version: str, gpu_name: str,
                          engine_path: str | Path) -> str | None:
    """Why the engine at ``engine_path`` must not be deserialised here, or ``None`` if it is fine.

    Engines are tied to the exact TensorRT version and GPU model they were built with; the
    sidecar records both plus the engine's size and sha256, which also catches corrupt or
    replaced files. The returned sentence is shown to the user as-is.
    """
    engine_path = Path(engine_path)
    if not engine_path.is_file():
        return f"engine file {engine_path} does not exist"
    if sidecar_meta is None:
        return f"metadata sidecar {engine_path.name}.json is missing or unreadable, so {engine_path} cannot be verified"
    extra = sidecar_meta.extra if isinstance(sidecar_meta, ModelMetadata) else dict(sidecar_meta.get("extra") or {})
    built_with = str(extra.get("tensorrt_version", ""))
    if not built_with:
        return f"sidecar of {engine_path} does not record the TensorRT version it was built with"
    if parse_trt_version(built_with) != parse_trt_version(trt_version):
        return f"{engine_path} was built with TensorRT {built_with}, this machine has TensorRT {trt_version}"
    built_on = str(extra.get("gpu_name", ""))
    if built_on and gpu_name and built_on != gpu_name:
        return f"{engine_path} was built for GPU {built_on!r}, this machine has {gpu_name!r}"
    size = engine_path.stat().st_size
    if size == 0:
        return f"{engine_path} is empty (corrupt)"
    if extra.get("engine_size") is not None and int(extra["engine_size"]) != size:
        return f"{engine_path} is {size} bytes but its sidecar records {extra['engine_size']} (corrupt or replaced)"
    if extra.get("engine_sha256"):
        from disdepth_core.hashing import file_sha256

        if file_sha256(engine_path) != extra["engine_sha256"]:
            return f"{engine_path} does not match the sha256 recorded in its sidecar (corrupt or replaced)"
    return None


def engine_outputs(names: Sequence[str]) -> tuple[int, int | None]:
    """(index of the depth output, index of the confidence output or None) among an engine's output names.

    Engines built from exports since issue 17 have ``depth`` and ``confidence``; older ones (and
    engines whose parser renamed the single output) have one, which is the depth.
    """
    from .artifact import CONFIDENCE_NAME, OUTPUT_NAME

    names = list(names)
    if len(names) == 1:
        return 0, None
    if len(names) == 2 and set(names) == {OUTPUT_NAME, CONFIDENCE_NAME}:
        return names.index(OUTPUT_NAME), names.index(CONFIDENCE_NAME)
    raise ValueError(f"engine outputs are {', '.join(names) or 'none'}; a DisDepth engine has {OUTPUT_NAME!r} (and optionally {CONFIDENCE_NAME!r})")


def current_gpu_name(device_index: int = 0) -> str:
    """Name of the CUDA device (pycuda, else the driver through ctypes), or ``""`` when neither can tell.

    Never imports torch: robots running engines often do not have it.
    """
    try:
        import pycuda.driver as cuda

        cuda.init()
        return str(cuda.Device(device_index).name())
    except Exception:  # noqa: BLE001 - no pycuda / no driver: fall through
        pass
    try:
        from .cuda_driver import CtypesDriver

        return CtypesDriver().device_name(int(device_index))
    except Exception:  # noqa: BLE001 - no libcuda / no device
        return ""
