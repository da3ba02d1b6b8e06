"""Fake ``tensorrt`` and ``pycuda.driver`` modules for tests.

TensorRT and CUDA cannot run on the CI machine (no GPU, no TensorRT wheel), so these fakes
drive the real backend and builder code and record which calls they made. The fake
``tensorrt`` exposes, per simulated version, *exactly* the names of the real API read from
the introspection dumps (:mod:`tests.export.trt_api_surface`): any other module attribute,
class attribute, method, property or enum member raises ``AttributeError``, enum values are
enum-like objects (never strings), and dtypes are ``DataType`` members that ``trt.nptype``
converts. The fake "GPU" computes depth = per-pixel channel mean + 1 so results are checkable.

Test hooks live under ``trt._fake`` (``record``, ``cuda``, ``engine``, ``dla_cores``,
``deserialize_none``: how many deserialisations return None) so they can never be mistaken for API names.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from .trt_api_surface import ApiSurface, load_surface, surface_version

GPU_NAME = "Fake Orin"
ENGINE_BYTES = b"fake-serialized-engine"
# Values of NetworkDefinitionCreationFlag (nvinfer1::NetworkDefinitionCreationFlag); other enums use list order.
CREATION_FLAG_VALUES = {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1, "STRONGLY_TYPED": 1, "PREFER_JIT_PYTHON_PLUGINS": 2,
                        "PREFER_AOT_PYTHON_PLUGINS": 3}


def make_fake_cuda(device_count: int = 2) -> types.ModuleType:
    """A ``pycuda.driver`` stand-in whose device memory is numpy arrays keyed by address.

    It models the CUDA context stack: allocating, freeing, copying, pinned memory and streams
    raise ``LogicError`` (like pycuda) unless a context is pushed, so code that forgets the
    push fails here as it would on a Jetson. ``cuda.stack`` is the stack, ``cuda.retained``
    the primary-context reference count per device (``retain_primary_context`` / ``detach``).
    ``device_count=0`` models a machine whose driver finds no usable GPU.
    """
    cuda = types.ModuleType("pycuda.driver")
    cuda.memory = {}
    cuda.calls = []
    cuda.stack = []
    cuda.retained = {}
    cuda.device_count = device_count

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
            if cuda.device_count == 0:
                raise LogicError("cuInit failed: no CUDA-capable device is detected")
            if not 0 <= int(index) < cuda.device_count:
                raise LogicError("cuDeviceGet failed: invalid device ordinal")
            self.index = int(index)

        @staticmethod
        def count() -> int:
            return cuda.device_count

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


# -- strict API objects ---------------------------------------------------------------------------
class StrictMeta(type):
    """Class-level access (``trt.Builder.platform_has_fast_fp16``) is as strict as instance access."""

    def __getattribute__(cls, name: str) -> Any:
        if not name.startswith("_") and name != "mro":
            allowed = type.__getattribute__(cls, "_allowed")
            if allowed is not None and name not in allowed:
                version = type.__getattribute__(cls, "_version")
                raise AttributeError(f"type object 'tensorrt.{type.__getattribute__(cls, '_api_name')}' has no attribute "
                                     f"{name!r} (not in the real TensorRT {version} API)")
        return type.__getattribute__(cls, name)


class Strict(metaclass=StrictMeta):
    """Base of every fake API class: only names of the real class in this version resolve."""

    _allowed: frozenset[str] | None = None
    _api_name = ""
    _version = ""

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            allowed = object.__getattribute__(self, "_allowed")
            if allowed is not None and name not in allowed:
                raise AttributeError(f"'tensorrt.{self._api_name}' object has no attribute {name!r} "
                                     f"(not in the real TensorRT {self._version} API)")
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and self._allowed is not None and name not in self._allowed:
            raise AttributeError(f"'tensorrt.{self._api_name}' object has no attribute {name!r} "
                                 f"(not in the real TensorRT {self._version} API)")
        object.__setattr__(self, name, value)


def restrict(cls: type, api_name: str, surface: ApiSurface) -> type:
    """A subclass of ``cls`` that exposes only ``api_name``'s attributes of ``surface``."""
    return StrictMeta(api_name, (cls,), {"_allowed": surface.attrs(api_name), "_api_name": api_name,
                                         "_version": surface.version, "__module__": __name__})


class EnumMember:
    """Like a pybind11 enum value: ``int()`` works, equality only within its own enum, not a string."""

    def __init__(self, enum_name: str, name: str, value: int) -> None:
        self.enum_name, self.name, self.value = enum_name, name, value

    def __int__(self) -> int:
        return self.value

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnumMember) and (other.enum_name, other.name) == (self.enum_name, self.name)

    def __hash__(self) -> int:
        return hash((self.enum_name, self.name))

    def __repr__(self) -> str:
        return f"<{self.enum_name}.{self.name}: {self.value}>"


class FakeEnum:
    """An enum type whose attributes are exactly the real members of this version."""

    def __init__(self, name: str, members: list[str], values: dict[str, int] | None = None) -> None:
        self._name = name
        for index, member in enumerate(members):
            object.__setattr__(self, member, EnumMember(name, member, (values or {}).get(member, index)))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"type object 'tensorrt.{self._name}' has no attribute {name!r}")


def need_enum(value: Any, enum_name: str, method: str) -> str:
    """pybind11 refuses anything but the right enum type (a string or int is a TypeError)."""
    if not isinstance(value, EnumMember) or value.enum_name != enum_name:
        raise TypeError(f"{method}(): incompatible function arguments: expected tensorrt.{enum_name}, got {value!r}")
    return value.name


DATA_TYPE = FakeEnum("DataType", ["FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8"])
NUMPY_OF = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "BOOL": np.bool_, "UINT8": np.uint8}


def fake_nptype(dtype: Any) -> type:
    return NUMPY_OF[need_enum(dtype, "DataType", "nptype")]


class HostMemory(bytes):
    """``IHostMemory``: supports the buffer protocol (``bytes(x)``) and ``nbytes``."""

    @property
    def nbytes(self) -> int:
        return len(self)


def _fake_compute(cuda: types.ModuleType, in_addr: int, in_shape: tuple, out_addr: int, out_shape: tuple,
                  confidence_addr: int | None = None) -> None:
    """The fake network: depth[n,0] = mean over RGB channels + 1 (NCHW float input); confidence = 1 / depth."""
    count = int(np.prod(in_shape))
    image = cuda.memory[in_addr][: count * 4].view(np.float32).reshape(in_shape)
    depth = image.mean(axis=1, keepdims=True).astype(np.float32) + 1.0
    cuda.memory[out_addr][: depth.nbytes] = depth.view(np.uint8).reshape(-1)
    assert depth.shape == tuple(out_shape)
    if confidence_addr is not None:
        confidence = (1.0 / depth).astype(np.float32)
        cuda.memory[confidence_addr][: confidence.nbytes] = confidence.view(np.uint8).reshape(-1)


class Recorder:
    """Collects builder calls so tests can assert on flags and config (enum values by name)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def find(self, name: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == name]


def _onnx_problem(model: Any, from_buffer: bool) -> str | None:
    """What the real ONNX parser would reject in ``model`` (an ``onnx.ModelProto``), else ``None``."""
    from onnx import TensorProto

    if from_buffer and any(init.data_location == TensorProto.EXTERNAL for init in model.graph.initializer):
        return "external weights cannot be resolved when parsing from a buffer; use parse_from_file"
    for graph_input in model.graph.input:
        if graph_input.type.tensor_type.elem_type != TensorProto.UINT8:
            continue
        consumers = [node.op_type for node in model.graph.node if graph_input.name in node.input]
        if any(op != "Cast" for op in consumers):
            return "TensorRT does not support UINT8 types for intermediate tensors"
    return None


def make_fake_trt(version: str, cuda: types.ModuleType, engine_shape: tuple = (1, 3, 64, 96), profile: tuple | None = None,
                  network_shape: tuple | None = None, parse_ok: bool = True, input_name: str = "image",
                  outputs: tuple[str, ...] = ("depth",)) -> types.ModuleType:
    """A ``tensorrt`` stand-in with exactly the real API of ``version``; ``trt._fake.record`` holds builder calls.

    Like TensorRT, the fake builder drives an INT8 calibrator during ``build_serialized_network``
    (cache first, else ``get_batch`` until ``None``, then ``write_calibration_cache``), recording
    each fed batch as ``("calibration_batch", array)``. Deserialising needs a current context;
    ``trt.Builder`` raises ``TypeError`` without a usable GPU (as the real one does) and
    constructing ``trt.Runtime`` without one fails the test (the real one can segfault).
    ``outputs`` names the engine's outputs (``("depth", "confidence")``: an export with confidence).
    """
    surface = load_surface(surface_version(version))
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    fake = trt._fake = types.SimpleNamespace(record=Recorder(), cuda=cuda, engine=None, dla_cores=2, deserialize_none=0,
                                             surface=surface)
    record = fake.record
    members = surface.enum_members

    def gpu_usable() -> bool:
        return cuda.device_count > 0

    class Logger(Strict):
        WARNING = EnumMember("Severity", "WARNING", 2)

        def __init__(self, level: Any = None) -> None:
            pass

    class ITimingCache(Strict):
        def __init__(self, blob: bytes) -> None:
            self._blob = blob

        def serialize(self) -> HostMemory:
            return HostMemory(b"timing:" + self._blob.removeprefix(b"timing:"))

    timing_cache_cls = restrict(ITimingCache, "ITimingCache", surface)

    class IBuilderConfig(Strict):
        int8_calibrator = None

        def __setattr__(self, key: str, value: Any) -> None:
            Strict.__setattr__(self, key, value)
            if not key.startswith("_"):
                record("config_set", key, value.name if isinstance(value, EnumMember) else value)

        def set_memory_pool_limit(self, pool: Any, size: int) -> None:
            record("set_memory_pool_limit", need_enum(pool, "MemoryPoolType", "set_memory_pool_limit"), int(size))

        def set_flag(self, flag: Any) -> None:
            record("set_flag", need_enum(flag, "BuilderFlag", "set_flag"))

        def add_optimization_profile(self, profile: Any) -> int:
            record("add_optimization_profile")
            return 0

        def set_calibration_profile(self, profile: Any) -> bool:
            record("set_calibration_profile")
            return True

        def create_timing_cache(self, blob: Any) -> Any:
            record("create_timing_cache", bytes(blob))
            return timing_cache_cls(bytes(blob))

        def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
            """Like TensorRT, a cache from another version/device is rejected (returns False)."""
            record("set_timing_cache", ignore_mismatch)
            if cache._blob.startswith(b"foreign") and not ignore_mismatch:
                return False
            self._cache = cache
            return True

        def get_timing_cache(self) -> Any:
            return getattr(self, "_cache", None) or timing_cache_cls(b"")

    config_cls = restrict(IBuilderConfig, "IBuilderConfig", surface)

    class IOptimizationProfile(Strict):
        def set_shape(self, name: str, low: tuple, opt: tuple, high: tuple) -> None:
            record("profile_set_shape", name, tuple(low), tuple(opt), tuple(high))

    profile_cls = restrict(IOptimizationProfile, "IOptimizationProfile", surface)

    class ITensor(Strict):
        def __init__(self, shape: tuple, name: str) -> None:
            self._shape, self._name = tuple(shape), name

        @property
        def shape(self) -> tuple:
            return self._shape

        @property
        def name(self) -> str:
            return self._name

    tensor_cls = restrict(ITensor, "ITensor", surface)

    class INetworkDefinition(Strict):
        num_inputs = 1

        def get_input(self, index: int) -> Any:
            return tensor_cls(network_shape or engine_shape, input_name)

    network_cls = restrict(INetworkDefinition, "INetworkDefinition", surface)

    class Builder(Strict):
        def __init__(self, logger: Any) -> None:
            record("Builder")
            if not gpu_usable():
                raise TypeError("pybind11::init(): factory function returned nullptr")

        @property
        def platform_has_fast_fp16(self) -> bool:
            return True

        @property
        def platform_has_fast_int8(self) -> bool:
            return True

        @property
        def num_DLA_cores(self) -> int:
            return fake.dla_cores

        @property
        def max_DLA_batch_size(self) -> int:
            return 32

        def create_network(self, flags: int = 0) -> Any:
            if not isinstance(flags, int):
                raise TypeError(f"create_network(): incompatible function arguments: flags must be int, got {flags!r}")
            record("create_network", flags)
            return network_cls()

        def create_builder_config(self) -> Any:
            return config_cls()

        def create_optimization_profile(self) -> Any:
            return profile_cls()

        def build_serialized_network(self, network: Any, config: Any) -> Any:
            record("build_serialized_network")
            calibrator = config.__dict__.get("int8_calibrator")
            if calibrator is not None and calibrator.read_calibration_cache() is None:
                while (pointers := calibrator.get_batch([input_name])) is not None:
                    record("calibration_batch", cuda.memory[pointers[0]].copy())
                calibrator.write_calibration_cache(b"calib-table")
            return HostMemory(ENGINE_BYTES)

        def build_engine(self, network: Any, config: Any) -> Any:  # 8.x only (filtered by the surface)
            raise AssertionError("build_engine is deprecated; the project must use build_serialized_network")

    class ParserError(Strict):
        def __init__(self, text: str) -> None:
            self._text = text

        def __str__(self) -> str:
            return self._text

        def desc(self) -> str:
            return self._text

        def code(self) -> int:
            return 1

        def node(self) -> int:
            return 0

    parser_error_cls = restrict(ParserError, "ParserError", surface)

    class OnnxParser(Strict):
        def __init__(self, network: Any, logger: Any) -> None:
            self._errors: list[str] = []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> Any:
            return parser_error_cls(self._errors[index])

        def _check(self, model: Any, from_buffer: bool) -> bool:
            problem = "fake parser error: unsupported op" if not parse_ok else _onnx_problem(model, from_buffer)
            self._errors = [problem] if problem else []
            return problem is None

        def parse(self, model: Any, path: str | None = None) -> bool:
            import onnx

            record("parse", len(bytes(model)))
            return self._check(onnx.load_from_string(bytes(model)), from_buffer=True)

        def parse_from_file(self, model: str) -> bool:
            import onnx

            record("parse_from_file", str(model))
            return self._check(onnx.load(str(model)), from_buffer=False)

    class Runtime(Strict):
        def __init__(self, logger: Any) -> None:
            if not gpu_usable():
                raise AssertionError("trt.Runtime created without a usable GPU: the real one can segfault the process")

        def deserialize_cuda_engine(self, data: Any) -> Any:
            cuda.need_context("deserialize_cuda_engine")
            record("deserialize", bytes(data))
            if fake.deserialize_none or bytes(data) != ENGINE_BYTES:
                fake.deserialize_none = max(int(fake.deserialize_none) - 1, 0)
                return None  # what TensorRT returns for an engine from another build (after logging)
            fake.engine = engine_cls(trt, engine_shape, profile, outputs)
            return fake.engine

    engine_cls = restrict(FakeEngine, "ICudaEngine", surface)
    engine_cls._context_cls = restrict(FakeContext, "IExecutionContext", surface)
    trt.Logger = restrict(Logger, "Logger", surface)
    trt.Builder = restrict(Builder, "Builder", surface)
    trt.OnnxParser = restrict(OnnxParser, "OnnxParser", surface)
    trt.Runtime = restrict(Runtime, "Runtime", surface)
    trt.ITimingCache = timing_cache_cls
    trt.IOptimizationProfile = profile_cls
    trt.nptype = fake_nptype
    for enum_name in ("NetworkDefinitionCreationFlag", "MemoryPoolType", "BuilderFlag", "DeviceType", "TensorIOMode"):
        values = CREATION_FLAG_VALUES if enum_name == "NetworkDefinitionCreationFlag" else None
        setattr(trt, enum_name, FakeEnum(enum_name, members[enum_name], values))
    if "IInt8EntropyCalibrator2" in surface.module_names:

        class IInt8EntropyCalibrator2:  # subclassed by user code, so not restricted
            def __init__(self) -> None:
                record("calibrator_init")

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    exposed = {name for name in vars(trt) if not name.startswith("_")}
    assert exposed == surface.module_names, f"fake exposes {sorted(exposed ^ surface.module_names)} wrongly"
    return trt


class FakeEngine(Strict):
    """One float input ``image`` [1,3,H,W] (H/W may be -1) and outputs ``depth`` (+ ``confidence``) [1,1,H,W]."""

    _context_cls: type

    def __init__(self, trt: types.ModuleType, shape: tuple[int, ...], profile: tuple | None = None,
                 outputs: tuple[str, ...] = ("depth",)) -> None:
        self._trt, self._shape, self._profile = trt, tuple(shape), profile
        self._names = ["image", *outputs]

    def _out_shape(self, in_shape: tuple) -> tuple:
        return (in_shape[0], 1, in_shape[2], in_shape[3])

    # named-tensor API (8.5+; the only one on 10.x/11.x)
    @property
    def num_io_tensors(self) -> int:
        return len(self._names)

    @property
    def num_optimization_profiles(self) -> int:
        return 1

    def get_tensor_name(self, index: int) -> str:
        return self._names[index]

    def get_tensor_mode(self, name: str) -> Any:
        return self._trt.TensorIOMode.INPUT if name == "image" else self._trt.TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> Any:
        return DATA_TYPE.FLOAT

    def get_tensor_shape(self, name: str) -> tuple:
        return self._shape if name == "image" else self._out_shape(self._shape)

    def get_tensor_profile_shape(self, name: str, profile: int) -> tuple:
        return self._profile

    # binding API (8.x only)
    @property
    def num_bindings(self) -> int:
        return len(self._names)

    def get_binding_name(self, index: int) -> str:
        return self._names[index]

    def binding_is_input(self, index: int) -> bool:
        return index == 0

    def get_binding_dtype(self, index: int) -> Any:
        return DATA_TYPE.FLOAT

    def get_binding_shape(self, index: int) -> tuple:
        return self.get_tensor_shape(self._names[index])

    def get_profile_shape(self, profile: int, index: int) -> tuple:
        return self._profile

    def create_execution_context(self, strategy: Any = None) -> "FakeContext":
        return type(self)._context_cls(self)


class FakeContext(Strict):
    def __init__(self, engine: FakeEngine) -> None:
        self._engine, self._calls, self._addresses, self._in_shape = engine, [], {}, engine._shape

    def set_input_shape(self, name: str, shape: tuple) -> bool:
        self._calls.append(("set_input_shape", name, tuple(shape)))
        self._in_shape = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple:
        return self._in_shape if name == "image" else self._engine._out_shape(self._in_shape)

    def set_tensor_address(self, name: str, address: int) -> bool:
        self._calls.append(("set_tensor_address", name))
        self._addresses[name] = address
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        self._calls.append(("execute_async_v3", stream_handle))
        cuda = self._engine._trt._fake.cuda
        _fake_compute(cuda, self._addresses["image"], self._in_shape, self._addresses["depth"],
                      self._engine._out_shape(self._in_shape), self._addresses.get("confidence"))
        return True

    def set_binding_shape(self, index: int, shape: tuple) -> bool:
        self._calls.append(("set_binding_shape", index, tuple(shape)))
        self._in_shape = tuple(shape)
        return True

    def get_binding_shape(self, index: int) -> tuple:
        return self.get_tensor_shape(self._engine._names[index])

    def execute_async_v2(self, bindings: list[int], stream_handle: int, input_consumed: Any = None) -> bool:
        self._calls.append(("execute_async_v2", stream_handle))
        cuda = self._engine._trt._fake.cuda
        names = self._engine._names
        confidence = bindings[names.index("confidence")] if "confidence" in names else None
        _fake_compute(cuda, bindings[names.index("image")], self._in_shape, bindings[names.index("depth")],
                      self._engine._out_shape(self._in_shape), confidence)
        return True


def install(monkeypatch: Any, trt: types.ModuleType, cuda: types.ModuleType | None) -> None:
    """Put the fakes where ``import tensorrt`` / ``import pycuda.driver`` will find them.

    ``cuda=None`` makes pycuda unimportable (robots that build engines without it).
    """
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    if cuda is None:
        monkeypatch.setitem(sys.modules, "pycuda", None)
        monkeypatch.setitem(sys.modules, "pycuda.driver", None)
        return
    pycuda = types.ModuleType("pycuda")
    pycuda.driver = cuda
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)


def tiny_disdepth_onnx(path: Any, height: int = 64, width: int = 96, dynamic: bool = False, layout: str = "nchw_float",
                       external_data: bool = False, confidence: bool = False) -> Any:
    """A minimal ONNX with DisDepth IO names and metadata: depth = |mean over channels| * w (opset 17).

    ``external_data=True`` stores the weight ``w`` in a separate file like large exports do;
    ``confidence=True`` adds the second output of current exports, here ``1 / (1 + depth)``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from disdepth_core.runtime.artifact import embed_onnx_metadata
    from disdepth_core.runtime.artifact import ModelMetadata

    dims_h, dims_w = ("height", "width") if dynamic else (height, width)
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, dims_h, dims_w])
    depth = helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, dims_h, dims_w])
    weight = numpy_helper.from_array(np.ones(4096, np.float32)[:1].reshape(()), "w")
    nodes = [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1], keepdims=1), helper.make_node("Abs", ["mean"], ["abs"]),
             helper.make_node("Mul", ["abs", "w"], ["depth"])]
    outputs, initializers = [depth], [weight]
    if confidence:
        outputs.append(helper.make_tensor_value_info("confidence", TensorProto.FLOAT, [1, 1, dims_h, dims_w]))
        initializers.append(numpy_helper.from_array(np.array(1.0, np.float32), "one"))
        nodes += [helper.make_node("Add", ["depth", "one"], ["depth_plus_one"]),
                  helper.make_node("Reciprocal", ["depth_plus_one"], ["confidence"])]
    graph = helper.make_graph(nodes, "tiny", [image], outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = ModelMetadata(architecture="tiny", input_height=height, input_width=width, input_layout=layout,
                         dynamic_shape=dynamic, max_depth=10.0, dataset="nyu", exporter_version="test")
    embed_onnx_metadata(model, meta)
    if external_data:
        from onnx.external_data_helper import convert_model_to_external_data

        convert_model_to_external_data(model, all_tensors_to_one_file=True, location=f"{path.name}.data", size_threshold=0)
        onnx.save(model, str(path))
    else:
        onnx.save(model, str(path))
    return meta
