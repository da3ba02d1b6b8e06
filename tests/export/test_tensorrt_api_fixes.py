"""TensorRT defects users would hit, each driven through the strict fakes.

No TensorRT and no GPU exist on this machine, so :mod:`tests.export.trt_fakes` stands in for
``tensorrt`` (exactly the real API per version, from introspection dumps of the real bindings)
and for ``pycuda``/``libcuda``; every test here says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from disdepth_core.runtime.artifact import read_sidecar, sidecar_path
from disdepth_core.hashing import file_sha256
from disdepth_core.runtime import ModelLoadError, load_runtime

from . import trt_fakes
from .trt_api_surface import API_DIR, SURFACE_FOR, facts_dir, load_surface
from .test_tensorrt_fake import assert_released, fakes, write_engine

pytestmark = pytest.mark.fake_backend
TRT86, TRT10, TRT11 = "8.6.2.3", "10.3.0.26", "11.4.0.106"
REPO = Path(__file__).resolve().parents[2]


def quiet(_message: str) -> None:
    pass


def test_api_surface_copies_match_the_facts():
    """The checked-in API dumps are byte copies of shared/facts/tensorrt-api (skips where that folder is absent)."""
    folder = facts_dir()
    if folder is None:
        pytest.skip("shared/facts/tensorrt-api not present on this machine")
    for copy in sorted(API_DIR.glob("intro-*.txt")):
        assert copy.read_bytes() == (folder / copy.name).read_bytes(), copy.name
    assert {p.name for p in folder.glob("intro-*.txt")} == {p.name for p in API_DIR.glob("intro-*.txt")}


@pytest.mark.parametrize("version", ["8.6.1", "10.3.0", "10.16.1.11", TRT11, "8.5.2"])
def test_fake_exposes_exactly_the_real_api(version):
    """Names absent from the real bindings of a version raise AttributeError in the fake (fakes: no TensorRT here)."""
    cuda = trt_fakes.make_fake_cuda()
    trt = trt_fakes.make_fake_trt(version, cuda)
    surface = load_surface(SURFACE_FOR[tuple(int(n) for n in version.split(".")[:2])])
    assert {n for n in vars(trt) if not n.startswith("_")} == surface.module_names
    major = int(version.split(".")[0])
    with pytest.raises(AttributeError):
        trt.DataType  # noqa: B018 - not part of the API the project may use
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    config = builder.create_builder_config()
    with pytest.raises(AttributeError):
        config.anything_else = 1
    with pytest.raises(AttributeError):
        config.max_workspace_size  # noqa: B018 - removed in 10.x, deprecated on 8.6's path
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(trt_fakes.ENGINE_BYTES)
    ctx.pop()
    assert engine.num_io_tensors == 2  # named tensors exist from 8.5 on
    dtype = engine.get_tensor_dtype("image")
    assert not isinstance(dtype, str) and trt.nptype(dtype) is np.float32
    with pytest.raises(TypeError):
        trt.nptype("float32")
    with pytest.raises(TypeError):
        config.set_flag("FP16")  # strings are not enum values
    if major >= 10:
        for name in ("num_bindings", "get_binding_shape", "get_profile_shape"):
            with pytest.raises(AttributeError):
                getattr(engine, name)
        with pytest.raises(AttributeError):
            engine.create_execution_context().execute_async_v2  # noqa: B018
    else:
        assert engine.num_bindings == 2 and trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH.value == 0
    if major >= 11:
        for missing in ("FP16", "INT8"):
            with pytest.raises(AttributeError):
                getattr(trt.BuilderFlag, missing)
        with pytest.raises(AttributeError):
            builder.platform_has_fast_fp16  # noqa: B018
        with pytest.raises(AttributeError):
            trt.IInt8EntropyCalibrator2  # noqa: B018
        with pytest.raises(AttributeError):
            config.int8_calibrator = object()
        with pytest.raises(AttributeError):
            trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH  # noqa: B018
    else:
        assert trt.BuilderFlag.FP16 != trt.BuilderFlag.INT8 and builder.platform_has_fast_fp16


def test_uint8_transpose_first_graph_is_rejected_by_the_fake_parser(tmp_path):
    """Guard for the fake: a UINT8 input feeding a Transpose fails to parse, as in the real ONNX parser (fakes)."""
    import onnx
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 8, 8, 3])
    out = helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 3, 8, 8])
    nodes = [helper.make_node("Transpose", ["image"], ["t"], perm=[0, 3, 1, 2]), helper.make_node("Cast", ["t"], ["depth"], to=1)]
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "g", [image], [out]), opset_imports=[helper.make_opsetid("", 17)]), str(path))
    trt = trt_fakes.make_fake_trt(TRT10, trt_fakes.make_fake_cuda())
    parser = trt.OnnxParser(None, None)
    assert not parser.parse_from_file(str(path)) and "UINT8" in str(parser.get_error(0))


def test_external_data_onnx_builds_with_parse_from_file(monkeypatch, tmp_path):
    """Weights in ONNX external data resolve: the builder parses from the file, not from bytes (fakes: no TensorRT)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT10)
    onnx_path = tmp_path / "big.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path, external_data=True)
    assert (tmp_path / "big.onnx.data").is_file()
    parser = trt.OnnxParser(None, None)
    assert not parser.parse(onnx_path.read_bytes())  # what parse(bytes) did before: external weights unresolved
    build_engine(onnx_path, tmp_path / "big.engine", EngineBuildOptions(), log=quiet)
    assert trt._fake.record.find("parse_from_file") == [("parse_from_file", str(onnx_path))]
    assert_released(cuda)


def test_tensorrt11_fp32_strongly_typed_and_clear_refusals(monkeypatch, tmp_path):
    """TensorRT 11 (no FP16/INT8 flags): fp32 builds a strongly typed network; fp16/int8 and stale fp16
    rebuilds are refused in one clear line, never a raw AttributeError (fakes: no TensorRT here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT11)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    meta = build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(precision="fp32"), log=quiet)
    rec = trt._fake.record
    assert rec.find("create_network") == [("create_network", 1 << 1)]  # STRONGLY_TYPED
    assert not rec.find("set_flag") and meta.extra["strongly_typed"] is True and meta.extra["tensorrt_version"] == TRT11
    runtime = load_runtime(tmp_path / "m.engine")
    assert runtime.infer(np.ones((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
    runtime.close()
    for precision in ("fp16", "int8"):
        options = EngineBuildOptions(precision=precision, calib_cache=str(onnx_path))  # any existing file passes validate()
        with pytest.raises(ValueError, match=f"--precision {precision} needs TensorRT's FP16/INT8 builder flags, which TensorRT "
                                             r"11\.4\.0\.106 removed .*--precision fp32"):
            build_engine(onnx_path, tmp_path / "x.engine", options, log=quiet)
    stale = tmp_path / "old.engine"
    write_engine(stale, version=TRT10)  # fp16 engine from a JetPack 6 board
    with pytest.raises(ModelLoadError, match=r"built with TensorRT 10\.3\.0\.26.*rebuilding from .*m\.onnx failed: --precision fp16"):
        load_runtime(stale, onnx_path=str(onnx_path), log=quiet)
    assert_released(cuda)


def test_no_usable_gpu_is_a_load_error_not_a_crash(monkeypatch, tmp_path):
    """Without a GPU the device is checked before TensorRT objects exist (trt.Runtime would segfault), and a
    Builder TypeError becomes a clear error (fakes: no TensorRT/CUDA here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    cuda = trt_fakes.make_fake_cuda(device_count=0)
    trt = trt_fakes.make_fake_trt(TRT10, cuda)
    trt_fakes.install(monkeypatch, trt, cuda)
    engine = tmp_path / "m.engine"
    write_engine(engine)
    with pytest.raises(ModelLoadError, match=r"cannot open CUDA device 0 for .*this machine has 0 usable GPU"):
        load_runtime(engine)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    with pytest.raises(ValueError, match=r"cannot use CUDA device 0 to build the engine: .*this machine has 0 usable GPU"):
        build_engine(onnx_path, tmp_path / "n.engine", EngineBuildOptions(), log=quiet)
    assert not trt._fake.record.find("Builder")  # the check came first
    # A GPU the driver sees but TensorRT cannot initialise: Builder's nullptr TypeError is translated.
    cuda.device_count = 1

    def broken_builder(self, logger):
        raise TypeError("pybind11::init(): factory function returned nullptr")

    monkeypatch.setattr(trt.Builder, "__init__", broken_builder)
    with pytest.raises(ValueError, match=r"could not create a builder on CUDA device 0 \(no usable GPU"):
        build_engine(onnx_path, tmp_path / "n.engine", EngineBuildOptions(), log=quiet)
    assert_released(cuda)


def test_deserialize_none_rebuilds_when_the_onnx_is_known(monkeypatch, tmp_path):
    """An engine TensorRT refuses to deserialise (sidecar fine) is rebuilt from its ONNX (fakes: no TensorRT)."""
    from disdepth_core.runtime.tensorrt_build import build_engine

    trt, cuda = fakes(monkeypatch, TRT10)
    onnx_path, engine = tmp_path / "m.onnx", tmp_path / "m.engine"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    build_engine(onnx_path, engine, log=quiet)
    trt._fake.deserialize_none = 1  # e.g. another build number of TensorRT 10.3
    messages = []
    runtime = load_runtime(engine, log=messages.append)  # the sidecar records the ONNX path
    assert any("rebuilding" in m and "could not deserialize it" in m for m in messages)
    assert len(trt._fake.record.find("build_serialized_network")) == 2 and runtime.engine is not None
    runtime.close()
    trt._fake.deserialize_none = 1
    with pytest.raises(ModelLoadError, match=r"could not deserialize it .*automatic rebuilds are off"):
        load_runtime(engine, rebuild=False, log=quiet)
    assert_released(cuda)


def test_dla_core_checked_against_the_device(monkeypatch, tmp_path):
    """--dla-core beyond builder.num_DLA_cores is refused by name (fakes: no TensorRT here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT10)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    with pytest.raises(ValueError, match=r"--dla-core 2: this device has cores 0\.\.1"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(dla_core=2), log=quiet)
    trt._fake.dla_cores = 0
    with pytest.raises(ValueError, match="--dla-core 0: this device has no DLA cores"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(dla_core=0), log=quiet)
    assert not trt._fake.record.find("build_serialized_network")
    assert_released(cuda)


def test_rejected_timing_cache_is_reported_and_kept(monkeypatch, tmp_path):
    """A timing cache TensorRT rejects is reported and left untouched, not overwritten (fakes: no TensorRT)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, _ = fakes(monkeypatch, TRT10)
    onnx_path, cache = tmp_path / "m.onnx", tmp_path / "trt.cache"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    cache.write_bytes(b"foreign-cache-from-another-gpu")
    messages = []
    build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(timing_cache=str(cache)), log=messages.append)
    assert any("rejected the timing cache" in m and "leaving the file unchanged" in m for m in messages)
    assert cache.read_bytes() == b"foreign-cache-from-another-gpu"
    cache.write_bytes(b"good")
    build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(timing_cache=str(cache)), log=quiet)
    assert cache.read_bytes() == b"timing:good"


class FakeLibCuda:
    """``libcuda.so.1`` as ctypes sees it (functions returning CUresult), for the pycuda-free path (no GPU here)."""

    def __init__(self, devices: int = 2, init_error: int = 0) -> None:
        self.devices, self.init_error, self.calls = devices, init_error, []

    def cuInit(self, flags):  # noqa: N802 - CUDA driver API names
        self.calls.append("cuInit")
        return self.init_error

    def cuGetErrorName(self, code, out):  # noqa: N802
        out._obj.value = {100: b"CUDA_ERROR_NO_DEVICE"}.get(int(code.value), b"CUDA_ERROR_UNKNOWN")
        return 0

    def cuDeviceGetCount(self, out):  # noqa: N802
        out._obj.value = self.devices
        return 0

    def cuDeviceGet(self, out, index):  # noqa: N802
        out._obj.value = index.value
        self.calls.append(("cuDeviceGet", index.value))
        return 0

    def cuDeviceGetName(self, buffer, size, device):  # noqa: N802
        buffer.value = f"Ctypes GPU {device.value}".encode()
        return 0

    def cuDevicePrimaryCtxRetain(self, out, device):  # noqa: N802
        out._obj.value = 1000 + device.value
        self.calls.append(("retain", device.value))
        return 0

    def cuCtxPushCurrent_v2(self, handle):  # noqa: N802
        self.calls.append(("push", handle.value))
        return 0

    def cuCtxPopCurrent_v2(self, out):  # noqa: N802
        self.calls.append("pop")
        return 0

    def cuDevicePrimaryCtxRelease_v2(self, device):  # noqa: N802
        self.calls.append(("release", device.value))
        return 0


def test_device_index_honoured_without_pycuda(monkeypatch, tmp_path):
    """Without pycuda an FP16 build still runs on the chosen GPU (its primary context pushed through the
    driver API via ctypes), and no driver device is a clear error (fakes: no TensorRT/CUDA here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine
    from disdepth_core.runtime import cuda_driver

    trt = trt_fakes.make_fake_trt(TRT10, trt_fakes.make_fake_cuda())
    trt_fakes.install(monkeypatch, trt, None)
    lib = FakeLibCuda()
    monkeypatch.setattr(cuda_driver, "load_libcuda", lambda: lib)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    meta = build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(device_index=1), log=quiet)
    assert meta.extra["gpu_name"] == "Ctypes GPU 1"
    steps = [c for c in lib.calls if c != "cuInit"]
    assert steps[-3:] == [("push", 1001), "pop", ("release", 1)] and ("cuDeviceGet", 0) not in steps
    with pytest.raises(ValueError, match=r"CUDA device 3 does not exist \(this machine has 2"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(device_index=3), log=quiet)
    monkeypatch.setattr(cuda_driver, "load_libcuda", lambda: FakeLibCuda(init_error=100))
    with pytest.raises(ValueError, match=r"cuInit failed: CUDA_ERROR_NO_DEVICE \(100\)"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(), log=quiet)
    with pytest.raises(ValueError, match="INT8 calibration needs the pycuda package"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(precision="int8", calib_cache=str(onnx_path)),
                     log=quiet)


def test_tensorrt_85_supported_and_older_refused(monkeypatch, tmp_path):
    """JetPack 5.1's TensorRT 8.5 takes the 8.x path; 8.4 is refused by name (fakes: no TensorRT here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, "8.5.2.2")
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(), log=quiet)
    assert trt._fake.record.find("create_network") == [("create_network", 1)]  # EXPLICIT_BATCH
    runtime = load_runtime(tmp_path / "m.engine")
    assert runtime.describe()["api"] == "bindings (v2)"
    runtime.close()
    trt.__version__ = "8.4.3.1"
    with pytest.raises(ValueError, match="TensorRT 8.4.3.1 is too old: DisDepth needs TensorRT >= 8.5"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(), log=quiet)
    with pytest.raises(ModelLoadError, match="TensorRT 8.4.3.1 is too old"):
        load_runtime(tmp_path / "m.engine")
    assert_released(cuda)


TORCH_FREE_SCRIPT = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import types
from pathlib import Path
import numpy as np
from tests.export import trt_fakes

class Patch:
    def setitem(self, mapping, key, value):
        mapping[key] = value

cuda = trt_fakes.make_fake_cuda()
trt = trt_fakes.make_fake_trt("10.3.0.26", cuda)
trt_fakes.install(Patch(), trt, cuda)
tmp = Path(sys.argv[1])
trt_fakes.tiny_disdepth_onnx(tmp / "m.onnx")
from disdepth_cli import main
assert main(["export", "--format", "engine", "--onnx", str(tmp / "m.onnx"), "--output", str(tmp / "m.engine")]) == 0
from disdepth_core.runtime import load_runtime
runtime = load_runtime(tmp / "m.engine")
depth = runtime.infer(np.ones((1, 3, 64, 96), np.float32))
runtime.close()
(tmp / "m.engine").write_bytes(b"stale")  # forces the sha256 check and an automatic rebuild
runtime = load_runtime(tmp / "m.engine", log=lambda m: None)
runtime.close()
torch_modules = sorted(m for m in sys.modules if (m == "torch" or m.startswith("torch.")) and sys.modules[m] is not None)
print("OK", float(depth.mean()), torch_modules)
"""


def test_build_and_load_without_torch(tmp_path):
    """``disdepth export --format engine``, loading, sha256 checks and a rebuild work with torch unimportable
    (subprocess with sys.modules['torch']=None; fakes stand in for TensorRT/CUDA)."""
    script = tmp_path / "torch_free.py"
    script.write_text(textwrap.dedent(TORCH_FREE_SCRIPT))
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK 2.0 []" in result.stdout
    sidecar = json.loads(sidecar_path(tmp_path / "m.engine").read_text())
    assert sidecar["extra"]["onnx_sha256"] == file_sha256(tmp_path / "m.onnx")
    assert read_sidecar(tmp_path / "m.engine").extra["engine_sha256"] == file_sha256(tmp_path / "m.engine")
