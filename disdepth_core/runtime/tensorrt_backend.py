"""TensorRT backend: runs a serialized engine with pycuda buffers on one CUDA stream.

Supports TensorRT 8.5/8.6 (JetPack 5, binding API + ``execute_async_v2``), 10.x (JetPack 6) and
11.x (named tensors + ``execute_async_v3``). Host buffers are pinned so the copies are truly async;
buffers are reallocated only when a dynamic input shape changes. Before deserialising, the
JSON sidecar is checked (TensorRT version, GPU, file hash): a stale or foreign engine is
rebuilt from its ONNX when one is known, otherwise refused with the exact reason.

The GPU is ``device="cuda:N"`` (or ``device_index=N``); its primary CUDA context is retained
once and pushed around every load, inference and teardown, so the runtime works from any
thread and never relies on whatever context happens to be current.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import DepthRuntime, InputSpec, ModelLoadError, RuntimeInputError
from .artifact import LAYOUT_NHWC_UINT8
from .tensorrt_logic import (buffer_nbytes, check_supported_version, cuda_device_index, current_gpu_name, engine_rebuild_reason,
                             engine_outputs, profile_violation, spec_dims, uses_named_tensor_api)


class _Binding:
    """One engine I/O tensor: name, index, direction, dtype and its current buffers."""

    def __init__(self, name: str, index: int, is_input: bool, dtype: Any, shape: tuple[int, ...]) -> None:
        self.name, self.index, self.is_input, self.dtype, self.shape = name, index, is_input, np.dtype(dtype), shape
        self.host: Any = None
        self.device: Any = None
        self.nbytes = 0


class TensorRTRuntime(DepthRuntime):
    backend = "tensorrt"

    def __init__(self, path: str, device: str = "auto", onnx_path: str | None = None, rebuild: bool = True,
                 device_index: int = 0, log: Any = print, **_: Any) -> None:
        if device == "cpu":
            raise ModelLoadError(f"TensorRT engines run on a GPU; cannot load {path} with device='cpu'")
        try:
            self.device_index = cuda_device_index(device, device_index)
        except ValueError as err:
            raise ModelLoadError(f"cannot load TensorRT engine {path}: {err}") from err
        try:
            import pycuda.driver as cuda
            import tensorrt as trt
        except ImportError as err:
            raise ModelLoadError(f"TensorRT backend needs the tensorrt and pycuda packages to load {path}: {err}") from err
        try:
            check_supported_version(trt.__version__)
        except ValueError as err:
            raise ModelLoadError(f"cannot load {path}: {err}") from err

        self._trt, self._cuda, self._log = trt, cuda, log
        self._bindings: list[_Binding] = []
        self.context: Any = None
        self.engine: Any = None
        self.stream: Any = None
        self._runtime: Any = None
        try:  # the device is checked before any TensorRT object exists (trt.Runtime can segfault without a GPU)
            cuda.init()
            count = cuda.Device.count()
            if self.device_index >= count:
                raise ValueError(f"CUDA device {self.device_index} does not exist (this machine has {count} usable GPU(s))")
            ctx = cuda.Device(self.device_index).retain_primary_context()
        except Exception as err:  # noqa: BLE001 - pycuda raises cuda.Error subclasses (no driver, bad ordinal)
            raise ModelLoadError(f"cannot open CUDA device {self.device_index} for {path}: {err}") from err
        self._ctx: Any = ctx
        try:
            ctx.push()
            try:
                metadata = self._load(path, onnx_path, rebuild)
            except BaseException:
                self._release_gpu_objects()  # while the context is still current
                raise
            finally:
                ctx.pop()
        except BaseException:
            self._ctx = None  # a failed load must not keep the primary context retained
            ctx.detach()
            raise
        uint8 = metadata.input_layout == LAYOUT_NHWC_UINT8
        height, width = spec_dims(self._input.shape, uint8)
        super().__init__(path, metadata, InputSpec(height, width, metadata.input_layout, max(int(self._input.shape[0]), 1)))

    # -- construction -------------------------------------------------------------------------
    def _load(self, path: str, onnx_path: str | None, rebuild: bool) -> Any:
        """Verify (or rebuild) and deserialize the engine and make its execution context; runs with the CUDA context pushed."""
        from .artifact import read_sidecar

        trt = self._trt
        self.gpu_name = current_gpu_name(self.device_index)
        metadata = read_sidecar(path)
        reason = engine_rebuild_reason(metadata, trt.__version__, self.gpu_name, path)
        if reason:
            metadata = self._rebuild(path, reason, metadata, onnx_path, rebuild)
        self._named = uses_named_tensor_api(trt.__version__)
        self._logger = trt.Logger(trt.Logger.WARNING)
        try:
            self._runtime = trt.Runtime(self._logger)
        except TypeError as err:  # "factory function returned nullptr": CUDA init failed inside TensorRT
            raise ModelLoadError(f"TensorRT {trt.__version__} could not start on CUDA device {self.device_index} to load {path} "
                                 f"(see the TensorRT log above): {err}") from err
        self.engine = self._runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None and not reason:
            # The sidecar looked right but TensorRT refused the bytes (another build number of the
            # same version, a plugin mismatch, a truncated copy): rebuild when the ONNX is known.
            reason = f"TensorRT {trt.__version__} could not deserialize it (built by another TensorRT build, or corrupt)"
            metadata = self._rebuild(path, reason, metadata, onnx_path, rebuild)
            self.engine = self._runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise ModelLoadError(f"TensorRT could not deserialize {path} (see the TensorRT log above)")
        self.context = self.engine.create_execution_context()
        self.stream = self._cuda.Stream()
        self._bindings = self._collect_bindings()
        inputs = [b for b in self._bindings if b.is_input]
        outputs = [b for b in self._bindings if not b.is_input]
        try:
            depth_index, confidence_index = engine_outputs([b.name for b in outputs])
        except ValueError as err:
            raise ModelLoadError(f"{path}: {err}") from None
        if len(inputs) != 1:
            raise ModelLoadError(f"{path} has {len(inputs)} inputs; a DisDepth engine has 1")
        self._input, self._output = inputs[0], outputs[depth_index]
        self._confidence = outputs[confidence_index] if confidence_index is not None else None
        self.has_confidence = self._confidence is not None
        self._profile = self._profile_shapes()
        return metadata

    def _rebuild(self, path: str, reason: str, metadata: Any, onnx_path: str | None, rebuild: bool) -> Any:
        """Rebuild from the ONNX (option or sidecar) with the recorded settings, else refuse."""
        recorded = (metadata.extra.get("onnx_path") if metadata is not None else None) or None
        source = onnx_path or recorded
        if not rebuild or not source or not Path(source).is_file():
            if not rebuild:
                hint = "automatic rebuilds are off (rebuild=False)"
            else:
                hint = f"the ONNX {source} does not exist" if source else "no ONNX is known (pass onnx_path=...)"
            raise ModelLoadError(f"cannot use TensorRT engine {path}: {reason}; {hint}; rebuild it on this machine with "
                                 f"`disdepth export --format engine --onnx MODEL.onnx --output {path}`")
        from .tensorrt_build import EngineBuildOptions, build_engine

        self._log(f"rebuilding TensorRT engine {path}: {reason}")
        extra = metadata.extra if metadata is not None else {}
        options = EngineBuildOptions(precision=str(extra.get("precision", "fp16")), dla_core=extra.get("dla_core"),
                                     device_index=self.device_index,
                                     calib_cache=extra.get("calib_cache"), workspace_mb=int(extra.get("workspace_mb", 1024)),
                                     min_shape=extra.get("min_shape"), opt_shape=extra.get("opt_shape"),
                                     max_shape=extra.get("max_shape"))
        try:
            return build_engine(source, path, options, log=self._log)
        except (ValueError, FileNotFoundError) as err:
            raise ModelLoadError(f"cannot use TensorRT engine {path}: {reason}; rebuilding from {source} failed: {err}") from err

    def _collect_bindings(self) -> list[_Binding]:
        trt, engine, bindings = self._trt, self.engine, []
        if self._named:
            for index in range(engine.num_io_tensors):
                name = engine.get_tensor_name(index)
                is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
                bindings.append(_Binding(name, index, is_input, trt.nptype(engine.get_tensor_dtype(name)),
                                         tuple(engine.get_tensor_shape(name))))
        else:
            for index in range(engine.num_bindings):
                bindings.append(_Binding(engine.get_binding_name(index), index, bool(engine.binding_is_input(index)),
                                         trt.nptype(engine.get_binding_dtype(index)), tuple(engine.get_binding_shape(index))))
        return bindings

    def _profile_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """(min, max) input shape of profile 0 for dynamic engines; ``None`` for static ones."""
        if all(d >= 0 for d in self._input.shape):
            return None
        if self._named:
            low, _, high = self.engine.get_tensor_profile_shape(self._input.name, 0)
        else:
            low, _, high = self.engine.get_profile_shape(0, self._input.index)
        return tuple(low), tuple(high)

    # -- inference ----------------------------------------------------------------------------
    def _prepare(self, shape: tuple[int, ...]) -> None:
        """Set the input shape on the context and (re)allocate buffers when sizes changed."""
        if self._profile is not None:
            problem = profile_violation(shape, *self._profile)
            if problem:
                raise RuntimeInputError(f"tensorrt runtime ({self.path}): input shape {shape} outside the engine profile: {problem}")
        ctx = self.context
        if self._named:
            ctx.set_input_shape(self._input.name, shape)
        else:
            ctx.set_binding_shape(self._input.index, shape)
        wanted_shapes = [(self._input, shape)]
        for output in self._outputs():
            wanted_shapes.append((output, tuple(ctx.get_tensor_shape(output.name)) if self._named
                                  else tuple(ctx.get_binding_shape(output.index))))
        for binding, wanted in wanted_shapes:
            binding.shape = tuple(int(d) for d in wanted)
            nbytes = buffer_nbytes(binding.shape, binding.dtype)
            if binding.host is None or binding.nbytes != nbytes:
                binding.host = self._cuda.pagelocked_empty(int(np.prod(binding.shape)), binding.dtype)
                binding.device = self._cuda.mem_alloc(max(nbytes, 1))
                binding.nbytes = nbytes
            if self._named:
                ctx.set_tensor_address(binding.name, int(binding.device))

    def _outputs(self) -> list[_Binding]:
        """Depth, then confidence when the engine has it (the order their buffers are read back)."""
        return [self._output] + ([self._confidence] if self._confidence is not None else [])

    def _run(self, images: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        cuda = self._cuda
        if images.dtype != self._input.dtype:
            raise RuntimeInputError(f"tensorrt runtime ({self.path}): engine input is {self._input.dtype}, got {images.dtype}")
        if self._ctx is None:
            raise RuntimeError(f"tensorrt runtime ({self.path}) is closed")
        self._ctx.push()
        try:
            if tuple(images.shape) != self._input.shape or self._input.host is None:
                self._prepare(tuple(images.shape))
            np.copyto(self._input.host, images.reshape(-1))
            cuda.memcpy_htod_async(self._input.device, self._input.host, self.stream)
            if self._named:
                ok = self.context.execute_async_v3(self.stream.handle)
            else:
                pointers = [0] * len(self._bindings)
                for binding in self._bindings:
                    pointers[binding.index] = int(binding.device)
                ok = self.context.execute_async_v2(bindings=pointers, stream_handle=self.stream.handle)
            if ok is False:
                raise RuntimeError(f"TensorRT execution failed for {self.path}")
            outputs = self._outputs()
            for output in outputs:
                cuda.memcpy_dtoh_async(output.host, output.device, self.stream)
            self.stream.synchronize()
            arrays = [output.host.reshape(output.shape).copy() for output in outputs]
            return (arrays[0], arrays[1]) if len(arrays) == 2 else arrays[0]
        finally:
            self._ctx.pop()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        extra = self.metadata.extra
        info.update(device=self.gpu_name or "cuda", tensorrt=self._trt.__version__, precision=extra.get("precision", "?"),
                    api="named tensors (v3)" if self._named else "bindings (v2)", dla_core=extra.get("dla_core"))
        return info

    def _release_gpu_objects(self) -> None:
        """Free device buffers and drop pinned buffers, stream, context, engine, runtime (in that
        order: a context must die before its engine). Callers hold the CUDA context current."""
        for binding in self._bindings:
            if binding.device is not None:
                binding.device.free()
            binding.device = binding.host = None
            binding.nbytes = 0
        self.stream = self.context = self.engine = self._runtime = None

    def close(self) -> None:
        """Release GPU memory inside the CUDA context, then the retained context; safe to call twice.

        Freeing device memory or destroying TensorRT objects with no current context fails or
        leaks, so the primary context is pushed around the teardown and detached only after.
        """
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx is None:
            return
        try:
            ctx.push()
            try:
                self._release_gpu_objects()
            finally:
                ctx.pop()
        finally:
            ctx.detach()
