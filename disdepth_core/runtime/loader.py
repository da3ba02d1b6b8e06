"""Pick and construct a backend for a model file (``backend="auto"`` chooses by file type)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .base import DepthRuntime, ModelLoadError

# backend name -> (module, class, file suffixes it loads)
BACKENDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "tensorrt": ("disdepth_core.runtime.tensorrt_backend", "TensorRTRuntime", (".engine", ".plan")),
    "onnxruntime": ("disdepth_core.runtime.onnxruntime_backend", "OnnxRuntime", (".onnx",)),
    # .onnx defaults to ONNX Runtime (backend="auto"); OpenVINO is chosen by name.
    "openvino": ("disdepth_core.runtime.openvino_backend", "OpenVinoRuntime", ()),
    "torch": ("disdepth_core.runtime.torch_backend", "TorchRuntime", (".pt", ".pth", ".safetensors")),
}
# The one list of backend names every caller offers (the node's ``backend`` parameter, the CLI's
# --backend/--compare, ``bench``): "auto" (from the file type) plus every backend above.
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKENDS)


def backend_for_path(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    for name, (_, _, suffixes) in BACKENDS.items():
        if suffix in suffixes:
            return name
    known = ", ".join(sorted(s for _, _, sfx in BACKENDS.values() for s in sfx))
    raise ModelLoadError(f"cannot tell the backend of {path} from its extension {suffix!r}; known: {known}")


def missing_model_error(path: str | Path, backend: str, options: dict[str, Any]) -> str | None:
    """Why loading ``path`` cannot start, or ``None``.

    A missing TensorRT engine is fine when an existing ``onnx_path=`` is given: the backend
    builds the engine from it (first run on a fresh device). Every other missing file is an
    error here, before any backend import.
    """
    path = Path(path)
    if path.is_file():
        return None
    if path.is_dir():  # the words every command uses for a folder given as a file
        return f"model file {path} is a folder; give the file itself"
    onnx_path = options.get("onnx_path")
    try:
        name = backend_for_path(path) if backend == "auto" else backend
    except ModelLoadError:
        name = None
    if name == "tensorrt" and onnx_path:
        if Path(onnx_path).is_file():
            return None
        return f"model file not found: {path}, and its onnx_path {onnx_path} to build it from does not exist either"
    return f"model file not found: {path}"


def load_runtime(path: str | Path, backend: str = "auto", device: str = "auto", **options: Any) -> DepthRuntime:
    """Load ``path`` with the named backend (or the one matching its extension).

    ``options`` go to the backend (e.g. ``precision="fp16", cuda_graph=True`` for torch, ``precision="bf16"``
    for openvino, ``providers=[...]`` for ONNX
    Runtime, ``onnx_path=...`` for TensorRT rebuilds, which also builds a missing engine).
    Errors are :class:`ModelLoadError` naming the file and the reason.
    """
    path = Path(path)
    problem = missing_model_error(path, backend, options)
    if problem:
        raise ModelLoadError(problem)
    name = backend_for_path(path) if backend == "auto" else backend
    if name not in BACKENDS:
        raise ModelLoadError(f"unknown backend {backend!r}; available: auto, {', '.join(BACKENDS)}")
    module_name, class_name, _ = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelLoadError(f"backend {name!r} is not usable here: {err}") from err
    return getattr(module, class_name)(str(path), device=device, **options)
