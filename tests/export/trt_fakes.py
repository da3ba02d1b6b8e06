"""Fake ``tensorrt`` and ``pycuda.driver`` modules for tests.

TensorRT and CUDA cannot run on the CI machine (no GPU, no TensorRT wheel), so these fakes
implement just enough of both APIs (TensorRT 8.6 bindings and 10.x named tensors) to drive
the real backend and builder code and record which calls they made. The fake "GPU" computes
depth = per-pixel channel mean + 1 so results are checkable.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

GPU_NAME = "Fake Orin"


def make_fake_cuda(device_count: int = 2) -> types.ModuleType:
    """A ``pycuda.driver`` stand-in whose device memory is numpy arrays keyed by address.

    It models the CUDA context stack: allocating, freeing, copying, pinned memory and streams
    raise ``LogicError`` (like pycuda) unless a context is pushed, so code that forgets the
    push fails here as it would on a Jetson. ``cuda.stack`` is the stack, ``cuda.retained``
    the primary-context reference count per device (``retain_primary_context`` / ``detach``).
    """
    cuda = types.ModuleType("pycuda.driver")
    cuda.memory = {}
    cuda.calls = []
    cuda.stack = []
    cuda.retained = {}

    class LogicError(RuntimeError):
        pass

    def need_context(op: str) -> None:
        if not cuda.stack:
            raise LogicError(f"{op} failed: invalid device context - no currently active context?")

    class Alloc:
        next_address = 4096

        def __init__(self, nbytes: int) -> None:
            need_context("cuMemAlloc")
            self.address = Alloc.next_address
            Alloc.next_address += max(int(nbytes), 1) + 256
            cuda.memory[self.address] = np.zeros(int(nbytes), np.uint8)
            cuda.calls.append(("mem_alloc", int(nbytes)))

        def __int__(self) -> int:
            return self.address

        def free(self) -> None:
            need_context("cuMemFree")
            cuda.memory.pop(self.address, None)
            cuda.calls.append(("free", self.address))

    class Context:
        def __init__(self, index: int) -> None:
            self.index = index

        def push(self) -> None:
            cuda.stack.append(self)
            cuda.calls.append(("push", self.index))

        def pop(self) -> None:
            if not cuda.stack:
                raise LogicError("context pop failed: no context on the stack")
            cuda.stack.pop()
            cuda.calls.append(("pop", self.index))

        def detach(self) -> None:
            if cuda.retained.get(self.index, 0) <= 0:
                raise LogicError(f"detach of device {self.index}'s primary context that is not retained")
            cuda.retained[self.index] -= 1
            cuda.calls.append(("detach", self.index))

    class Device:
        def __init__(self, index: int) -> None:
            if not 0 <= int(index) < device_count:
                raise LogicError("cuDeviceGet failed: invalid device ordinal")
            self.index = int(index)

        def name(self) -> str:
            cuda.calls.append(("name", self.index))
            return GPU_NAME

        def retain_primary_context(self) -> Context:
            cuda.retained[self.index] = cuda.retained.get(self.index, 0) + 1
            cuda.calls.append(("retain", self.index))
            return Context(self.index)

    class Stream:
        handle = 77

        def __init__(self) -> None:
            need_context("cuStreamCreate")

        def synchronize(self) -> None:
            need_context("cuStreamSynchronize")
            cuda.calls.append(("synchronize",))

    def pagelocked_empty(count: int, dtype: Any) -> np.ndarray:
        need_context("cuMemHostAlloc")
        cuda.calls.append(("pagelocked_empty", int(count)))
        return np.empty(int(count), dtype)

    def memcpy_htod_async(dst: Any, src: np.ndarray, stream: Any = None) -> None:
        need_context("cuMemcpyHtoD")
        raw = np.ascontiguousarray(src).view(np.uint8).reshape(-1)
        cuda.memory[int(dst)][: raw.size] = raw
        cuda.calls.append(("htod_async",))

    def memcpy_dtoh_async(dst: np.ndarray, src: Any, stream: Any = None) -> None:
        need_context("cuMemcpyDtoH")
        dst.view(np.uint8).reshape(-1)[:] = cuda.memory[int(src)][: dst.nbytes]
        cuda.calls.append(("dtoh_async",))

    cuda.LogicError = cuda.Error = LogicError
    cuda.need_context = need_context
    cuda.init = lambda: None
    cuda.Device, cuda.Stream, cuda.DeviceAllocation = Device, Stream, Alloc
    cuda.mem_alloc = Alloc
    cuda.pagelocked_empty = pagelocked_empty
    cuda.memcpy_htod_async, cuda.memcpy_dtoh_async = memcpy_htod_async, memcpy_dtoh_async
    cuda.memcpy_htod = lambda dst, src: memcpy_htod_async(dst, src)
    return cuda


def _fake_compute(cuda: types.ModuleType, in_addr: int, in_shape: tuple, out_addr: int, out_shape: tuple) -> None:
    """The fake network: depth[n,0] = mean over RGB channels + 1 (NCHW float input)."""
    count = int(np.prod(in_shape))
    image = cuda.memory[in_addr][: count * 4].view(np.float32).reshape(in_shape)
    depth = image.mean(axis=1, keepdims=True).astype(np.float32) + 1.0
    cuda.memory[out_addr][: depth.nbytes] = depth.view(np.uint8).reshape(-1)
    assert depth.shape == tuple(out_shape)


class FakeEngine:
    """One float input ``image`` [1,3,H,W] (H/W may be -1) and one output ``depth`` [1,1,H,W]."""

    def __init__(self, trt: types.ModuleType, shape: tuple[int, ...], profile: tuple | None = None) -> None:
        self.trt, self.shape, self.profile = trt, tuple(shape), profile
        self.names = ["image", "depth"]

    def out_shape(self, in_shape: tuple) -> tuple:
        return (in_shape[0], 1, in_shape[2], in_shape[3])

    # TensorRT 10 named-tensor API
    @property
    def num_io_tensors(self) -> int:
        self._need(10)
        return 2

    def get_tensor_name(self, index: int) -> str:
        return self.names[index]

    def get_tensor_mode(self, name: str) -> Any:
        return self.trt.TensorIOMode.INPUT if name == "image" else self.trt.TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> str:
        return "float32"

    def get_tensor_shape(self, name: str) -> tuple:
        return self.shape if name == "image" else self.out_shape(self.shape)

    def get_tensor_profile_shape(self, name: str, profile: int) -> tuple:
        return self.profile

    # TensorRT 8.6 binding API
    @property
    def num_bindings(self) -> int:
        self._need(8)
        return 2

    def get_binding_name(self, index: int) -> str:
        return self.names[index]

    def binding_is_input(self, index: int) -> bool:
        return index == 0

    def get_binding_dtype(self, index: int) -> str:
        return "float32"

    def get_binding_shape(self, index: int) -> tuple:
        return self.get_tensor_shape(self.names[index])

    def get_profile_shape(self, profile: int, index: int) -> tuple:
        return self.profile

    def _need(self, major: int) -> None:
        if int(self.trt.__version__.split(".")[0]) != major:
            raise AttributeError(f"API not available in fake TensorRT {self.trt.__version__}")

    def create_execution_context(self) -> "FakeContext":
        return FakeContext(self)


class FakeContext:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine, self.calls, self.addresses, self.in_shape = engine, [], {}, engine.shape

    def set_input_shape(self, name: str, shape: tuple) -> None:
        self.calls.append(("set_input_shape", name, tuple(shape)))
        self.in_shape = tuple(shape)

    def get_tensor_shape(self, name: str) -> tuple:
        return self.in_shape if name == "image" else self.engine.out_shape(self.in_shape)

    def set_tensor_address(self, name: str, address: int) -> None:
        self.calls.append(("set_tensor_address", name))
        self.addresses[name] = address

    def execute_async_v3(self, stream_handle: int) -> bool:
        self.calls.append(("execute_async_v3", stream_handle))
        cuda = self.engine.trt.cuda
        _fake_compute(cuda, self.addresses["image"], self.in_shape, self.addresses["depth"], self.engine.out_shape(self.in_shape))
        return True

    def set_binding_shape(self, index: int, shape: tuple) -> None:
        self.calls.append(("set_binding_shape", index, tuple(shape)))
        self.in_shape = tuple(shape)

    def get_binding_shape(self, index: int) -> tuple:
        return self.get_tensor_shape(self.engine.names[index])

    def execute_async_v2(self, bindings: list[int], stream_handle: int) -> bool:
        self.calls.append(("execute_async_v2", stream_handle))
        cuda = self.engine.trt.cuda
        _fake_compute(cuda, bindings[0], self.in_shape, bindings[1], self.engine.out_shape(self.in_shape))
        return True


class Recorder:
    """Collects builder calls so tests can assert on flags and config."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def find(self, name: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == name]


def make_fake_trt(version: str, cuda: types.ModuleType, engine_shape: tuple = (1, 3, 64, 96), profile: tuple | None = None,
                  network_shape: tuple | None = None, parse_ok: bool = True, input_name: str = "image") -> types.ModuleType:
    """A ``tensorrt`` stand-in; ``trt.record`` holds builder calls.

    Like TensorRT, the fake builder drives an INT8 calibrator during ``build_serialized_network``
    (cache first, else ``get_batch`` until ``None``, then ``write_calibration_cache``), recording
    each fed batch as ``("calibration_batch", array)``. Deserialising needs a current context.
    """
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.cuda = cuda
    trt.record = Recorder()
    record = trt.record
    enum = types.SimpleNamespace
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level=2: None})
    trt.NetworkDefinitionCreationFlag = enum(EXPLICIT_BATCH=0)
    trt.MemoryPoolType = enum(WORKSPACE="WORKSPACE")
    trt.BuilderFlag = enum(FP16="FP16", INT8="INT8", GPU_FALLBACK="GPU_FALLBACK")
    trt.DeviceType = enum(DLA="DLA", GPU="GPU")
    trt.TensorIOMode = enum(INPUT="INPUT", OUTPUT="OUTPUT")
    trt.nptype = lambda dtype: np.dtype(dtype).type

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            record("calibrator_init")

    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    class TimingCache:
        def __init__(self, blob: bytes) -> None:
            self.blob = blob

        def serialize(self) -> bytes:
            return b"timing:" + self.blob

    class Config:
        int8_calibrator = None

        def __setattr__(self, key: str, value: Any) -> None:
            record("config_set", key, value)
            object.__setattr__(self, key, value)

        def set_memory_pool_limit(self, pool: Any, size: int) -> None:
            record("set_memory_pool_limit", pool, size)

        def set_flag(self, flag: Any) -> None:
            record("set_flag", flag)

        def add_optimization_profile(self, profile: Any) -> None:
            record("add_optimization_profile")

        def set_calibration_profile(self, profile: Any) -> None:
            record("set_calibration_profile")

        def create_timing_cache(self, blob: bytes) -> TimingCache:
            record("create_timing_cache", bytes(blob))
            self._cache = TimingCache(bytes(blob))
            return self._cache

        def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> None:
            record("set_timing_cache", ignore_mismatch)

        def get_timing_cache(self) -> TimingCache:
            return self._cache

    class Profile:
        def set_shape(self, name: str, low: tuple, opt: tuple, high: tuple) -> None:
            record("profile_set_shape", name, tuple(low), tuple(opt), tuple(high))

    class Network:
        def get_input(self, index: int) -> Any:
            return enum(shape=network_shape or engine_shape, name=input_name)

    class Builder:
        platform_has_fast_fp16 = True

        def __init__(self, logger: Any) -> None:
            record("Builder")

        def create_network(self, flags: int) -> Network:
            record("create_network", flags)
            return Network()

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Any, config: Any) -> bytes:
            record("build_serialized_network")
            calibrator = config.int8_calibrator
            if calibrator is not None and calibrator.read_calibration_cache() is None:
                while (pointers := calibrator.get_batch([input_name])) is not None:
                    record("calibration_batch", cuda.memory[pointers[0]].copy())
                calibrator.write_calibration_cache(b"calib-table")
            return b"fake-serialized-engine"

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network: Any, logger: Any) -> None:
            pass

        def parse(self, data: bytes) -> bool:
            record("parse", len(data))
            return parse_ok

        def get_error(self, index: int) -> str:
            return "fake parser error: unsupported op"

    class Runtime:
        def __init__(self, logger: Any) -> None:
            pass

        def deserialize_cuda_engine(self, data: bytes) -> FakeEngine:
            cuda.need_context("deserialize_cuda_engine")
            record("deserialize", bytes(data))
            trt.engine = FakeEngine(trt, engine_shape, profile)
            return trt.engine

    trt.Builder, trt.OnnxParser, trt.Runtime = Builder, OnnxParser, Runtime
    return trt


def install(monkeypatch: Any, trt: types.ModuleType, cuda: types.ModuleType) -> None:
    """Put the fakes where ``import tensorrt`` / ``import pycuda.driver`` will find them."""
    import sys

    pycuda = types.ModuleType("pycuda")
    pycuda.driver = cuda
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)


def tiny_disdepth_onnx(path: Any, height: int = 64, width: int = 96, dynamic: bool = False, layout: str = "nchw_float") -> Any:
    """A minimal ONNX with DisDepth IO names and metadata: depth = |mean over channels| (opset 17)."""
    import onnx
    from onnx import TensorProto, helper

    from disdepth_core.export.artifact_metadata import embed_onnx_metadata
    from disdepth_core.runtime.metadata import ModelMetadata

    dims_h, dims_w = ("height", "width") if dynamic else (height, width)
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, dims_h, dims_w])
    depth = helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, dims_h, dims_w])
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1], keepdims=1), helper.make_node("Abs", ["mean"], ["depth"])]
    model = helper.make_model(helper.make_graph(nodes, "tiny", [image], [depth]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = ModelMetadata(architecture="tiny", input_height=height, input_width=width, input_layout=layout,
                         dynamic_shape=dynamic, max_depth=10.0, dataset="nyu", exporter_version="test")
    embed_onnx_metadata(model, meta)
    onnx.save(model, str(path))
    return meta
