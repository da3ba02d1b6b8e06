"""ONNX Runtime backend: runs a DisDepth ``.onnx`` on TensorRT, CUDA or CPU execution providers.

The ONNX must carry DisDepth metadata (``disdepth export`` writes it): without it the runtime
cannot know the depth range, layout or normalisation, and silently guessing them gives wrong
metres. ``allow_foreign=True`` opts out for experiments. onnxruntime is imported lazily.

The TensorRT and CUDA execution providers get explicit options: the GPU from ``device="cuda:N"``
and, for TensorRT, an engine cache (next to the model, else ``~/.cache/disdepth/trt``) plus FP16.
Without the cache ORT rebuilds TensorRT engines at every start, which takes minutes on a Jetson.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import DepthRuntime, InputSpec, ModelLoadError
from .artifact import CONFIDENCE_NAME, INPUT_NAME, LAYOUT_NHWC_UINT8, OUTPUT_NAME, ModelMetadata
from .tensorrt_logic import cuda_device_index

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def choose_providers(available: list[str], device: str = "auto", explicit: list[Any] | None = None) -> list[Any]:
    """Explicit providers win; ``device="cpu"`` forces CPU; else TensorRT, CUDA, CPU as available."""
    if explicit:
        return list(explicit)
    if device == "cpu":
        return ["CPUExecutionProvider"]
    chosen = [name for name in PROVIDER_PREFERENCE if name in available]
    if device.startswith("cuda") and not any(p in chosen for p in PROVIDER_PREFERENCE[:2]):
        raise ModelLoadError(f"device {device!r} requested but ONNX Runtime has no GPU provider (available: {', '.join(available)})")
    return chosen or ["CPUExecutionProvider"]


def engine_cache_dir(model_path: str | Path, override: str | Path | None = None) -> Path:
    """Where the TensorRT provider caches engines: ``override``, else ``<model>.trt_cache`` next
    to the model (it stays with the model it belongs to), else ``~/.cache/disdepth/trt/<stem>``
    when the model's folder is read-only (e.g. a ROS install space)."""
    if override:
        return Path(override).expanduser()
    model_path = Path(model_path).expanduser().absolute()
    if os.access(model_path.parent, os.W_OK):
        return model_path.with_name(f"{model_path.stem}.trt_cache")
    return Path("~/.cache/disdepth/trt").expanduser() / model_path.stem


def provider_options(providers: list[Any], device: str, model_path: str | Path, fp16: bool = True,
                     cache_dir: str | Path | None = None) -> list[Any]:
    """Attach options to plain ``TensorrtExecutionProvider``/``CUDAExecutionProvider`` names.

    ``(name, options)`` tuples from the caller are kept as given; other names pass unchanged.
    Raises ``ValueError`` for a device that is not ``auto``/``cuda``/``cuda:N``/``cpu``.
    """
    device_id = 0 if device == "cpu" else cuda_device_index(device)
    configured: list[Any] = []
    for provider in providers:
        if provider == "TensorrtExecutionProvider":
            configured.append((provider, {"device_id": device_id, "trt_engine_cache_enable": True,
                                          "trt_engine_cache_path": str(engine_cache_dir(model_path, cache_dir)),
                                          "trt_fp16_enable": bool(fp16)}))
        elif provider == "CUDAExecutionProvider":
            configured.append((provider, {"device_id": device_id}))
        else:
            configured.append(provider)
    return configured


def _dim(value: Any) -> int:
    """Graph dims: an int, or a symbol/None for a dynamic axis (reported as 0)."""
    return int(value) if isinstance(value, (int, np.integer)) and int(value) > 0 else 0


def check_graph_io(path: str, inputs: list[Any], outputs: list[Any]) -> None:
    """A DisDepth graph has one 4-D input ``image`` and a 4-D output ``depth``, plus ``confidence`` since issue 17."""
    problems = []
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        problems.append(f"inputs {[i.name for i in inputs]} (expected one named {INPUT_NAME!r})")
    elif len(inputs[0].shape) != 4:
        problems.append(f"input {INPUT_NAME!r} has rank {len(inputs[0].shape)} (expected 4)")
    names = [o.name for o in outputs]
    if names not in ([OUTPUT_NAME], [OUTPUT_NAME, CONFIDENCE_NAME]):
        problems.append(f"outputs {names} (expected {[OUTPUT_NAME]} or {[OUTPUT_NAME, CONFIDENCE_NAME]})")
    else:
        problems += [f"output {o.name!r} has rank {len(o.shape)} (expected 4)" for o in outputs if len(o.shape) != 4]
    if problems:
        raise ModelLoadError(f"{path} is not a DisDepth depth model: " + "; ".join(problems))


class OnnxRuntime(DepthRuntime):
    backend = "onnxruntime"

    def __init__(self, path: str, device: str = "auto", providers: list[Any] | None = None, threads: int = 0,
                 allow_foreign: bool = False, fp16: bool = True, trt_cache_dir: str | None = None, **_: Any) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ModelLoadError(f"onnxruntime is not installed, cannot load {path}: {err}") from err
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            chosen = provider_options(choose_providers(ort.get_available_providers(), device, providers), device, path,
                                      fp16, trt_cache_dir)
        except ValueError as err:
            raise ModelLoadError(f"cannot load ONNX model {path}: {err}") from err
        self.trt_cache = self._make_cache_dir(chosen)
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=chosen)
        except Exception as err:  # noqa: BLE001 - ORT raises its own exception zoo for bad files
            first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
            raise ModelLoadError(f"cannot load ONNX model {path}: {first}") from err
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if not allow_foreign:
            check_graph_io(str(path), inputs, outputs)
        props = session.get_modelmeta().custom_metadata_map
        metadata = self._read_metadata(str(path), props, allow_foreign)
        shape = inputs[0].shape
        uint8 = metadata.input_layout == LAYOUT_NHWC_UINT8
        height, width = (_dim(shape[1]), _dim(shape[2])) if uint8 else (_dim(shape[2]), _dim(shape[3]))
        max_batch = _dim(shape[0]) or 64
        self._ort = ort
        self.session = session
        self.threads = options.intra_op_num_threads or os.cpu_count() or 1
        self._input_name = inputs[0].name
        self._output_names = [o.name for o in outputs[:2]] if not allow_foreign else [outputs[0].name]
        self.has_confidence = self._output_names[1:] == [CONFIDENCE_NAME]
        super().__init__(path, metadata, InputSpec(height, width, metadata.input_layout, max_batch))

    @staticmethod
    def _make_cache_dir(providers: list[Any]) -> str | None:
        """Create the TensorRT engine cache folder up front (older ORT releases do not)."""
        for provider in providers:
            if isinstance(provider, tuple) and provider[0] == "TensorrtExecutionProvider":
                folder = provider[1].get("trt_engine_cache_path")
                if folder:
                    try:
                        Path(folder).mkdir(parents=True, exist_ok=True)
                    except OSError:
                        pass  # ORT reports it if it cannot write there either
                return str(folder) if folder else None
        return None

    @staticmethod
    def _read_metadata(path: str, props: dict[str, str], allow_foreign: bool) -> ModelMetadata:
        from .artifact import METADATA_KEY, metadata_from_props

        try:
            metadata = metadata_from_props(props)
        except ValueError as err:
            raise ModelLoadError(f"{path}: unreadable DisDepth metadata ({METADATA_KEY!r} prop): {err}") from err
        if metadata is None:
            if not allow_foreign:
                raise ModelLoadError(f"{path} was not exported by disdepth (no {METADATA_KEY!r} metadata prop); "
                                     "re-export it with `disdepth export`, or pass allow_foreign=True to run it anyway")
            metadata = ModelMetadata(architecture="foreign")
        return metadata

    def _run(self, images: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        outputs = self.session.run(self._output_names, {self._input_name: np.ascontiguousarray(images)})
        return (outputs[0], outputs[1]) if self.has_confidence else outputs[0]

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(providers=self.session.get_providers(), onnxruntime=self._ort.__version__, threads=self.threads,
                    device="gpu" if self.session.get_providers()[0] != "CPUExecutionProvider" else "cpu")
        if self.trt_cache and "TensorrtExecutionProvider" in self.session.get_providers():
            info.update(trt_engine_cache=self.trt_cache)
        return info

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
