"""TensorRT backend and engine builder logic, driven through fake ``tensorrt``/``pycuda`` modules.

TensorRT and CUDA cannot run on this machine (no GPU, no TensorRT wheel), so the fakes in
:mod:`tests.export.trt_fakes` stand in for them; every test here says so in its docstring.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from disdepth_core.runtime.artifact import read_sidecar, sidecar_path, write_sidecar
from disdepth_core.hashing import file_sha256
from disdepth_core.runtime import ModelLoadError, RuntimeInputError, load_runtime
from disdepth_core.runtime.artifact import ModelMetadata
from disdepth_core.runtime.tensorrt_logic import (buffer_nbytes, engine_rebuild_reason, needs_explicit_batch_flag,
                                                  parse_trt_version, profile_violation, spec_dims, uses_named_tensor_api, volume)

from . import trt_fakes

pytestmark = [pytest.mark.fake_backend, pytest.mark.torch_free]  # torch_free: also runs in .venv-humble
TRT10, TRT86 = "10.3.0.26", "8.6.2.3"


def write_engine(path, version: str = TRT10, gpu: str = trt_fakes.GPU_NAME, **extra) -> None:
    path.write_bytes(b"fake-serialized-engine")
    meta = ModelMetadata(architecture="tiny", input_height=64, input_width=96, max_depth=10.0)
    meta.extra.update(tensorrt_version=version, gpu_name=gpu, precision="fp16", engine_sha256=file_sha256(path),
                      engine_size=path.stat().st_size, **extra)
    write_sidecar(path, meta)


def fakes(monkeypatch, version: str, **kwargs):
    cuda = trt_fakes.make_fake_cuda()
    trt = trt_fakes.make_fake_trt(version, cuda, **kwargs)
    trt_fakes.install(monkeypatch, trt, cuda)
    return trt, cuda


def test_pure_version_and_buffer_logic():
    """Pure helpers (no TensorRT needed): version parsing, API choice, sizes, profile checks."""
    assert parse_trt_version("8.6.1.6") == (8, 6, 1) and parse_trt_version("10.0") == (10, 0, 0)
    assert uses_named_tensor_api(TRT10) and not uses_named_tensor_api(TRT86)
    assert needs_explicit_batch_flag(TRT86) and not needs_explicit_batch_flag(TRT10)
    assert buffer_nbytes((1, 3, 64, 96), np.float32) == 3 * 64 * 96 * 4
    assert buffer_nbytes((1, 64, 96, 3), np.uint8) == 64 * 96 * 3
    with pytest.raises(ValueError, match="dynamic"):
        volume((1, 3, -1, 96))
    assert spec_dims((1, 3, -1, -1), False) == (0, 0) and spec_dims((1, 48, 64, 3), True) == (48, 64)
    assert profile_violation((1, 3, 64, 96), (1, 3, 32, 32), (1, 3, 128, 128)) is None
    assert "dimension 3 is 200" in profile_violation((1, 3, 64, 200), (1, 3, 32, 32), (1, 3, 128, 128))
    with pytest.raises(ValueError):
        parse_trt_version("unknown")


def test_engine_rebuild_reason(tmp_path):
    """Stale/foreign/corrupt engines are named from the sidecar alone (TensorRT cannot run here)."""
    engine = tmp_path / "m.engine"
    assert "does not exist" in engine_rebuild_reason(None, TRT10, "GPU", engine)
    engine.write_bytes(b"x")
    assert "sidecar m.engine.json is missing" in engine_rebuild_reason(None, TRT10, "GPU", engine)
    write_engine(engine)
    meta = read_sidecar(engine)
    assert engine_rebuild_reason(meta, TRT10, trt_fakes.GPU_NAME, engine) is None
    assert engine_rebuild_reason(meta.to_dict(), "10.3.0.1", trt_fakes.GPU_NAME, engine) is None  # build number ignored
    assert "built with TensorRT 10.3.0.26, this machine has TensorRT 8.6.2.3" in engine_rebuild_reason(meta, TRT86, "x", engine)
    assert "built for GPU 'Fake Orin', this machine has 'RTX 4090'" in engine_rebuild_reason(meta, TRT10, "RTX 4090", engine)
    engine.write_bytes(b"fake-serialized-enginX")  # same size, other bytes
    assert "sha256" in engine_rebuild_reason(meta, TRT10, trt_fakes.GPU_NAME, engine)
    engine.write_bytes(b"short")
    assert "corrupt or replaced" in engine_rebuild_reason(meta, TRT10, trt_fakes.GPU_NAME, engine)
    sidecar_path(engine).write_text("{not json")
    assert read_sidecar(engine) is None


@pytest.mark.parametrize("version", [TRT10, TRT86])
def test_runtime_static_engine_both_apis(monkeypatch, tmp_path, version):
    """Named tensors + execute_async_v3 on 10.x, bindings + execute_async_v2 on 8.6 (fakes: no TensorRT/CUDA here)."""
    trt, cuda = fakes(monkeypatch, version)
    engine = tmp_path / "m.engine"
    write_engine(engine, version=version)
    runtime = load_runtime(engine)
    assert runtime.backend == "tensorrt" and (runtime.input_spec.height, runtime.input_spec.width) == (64, 96)
    batch = np.random.default_rng(0).normal(size=(1, 3, 64, 96)).astype(np.float32)
    depth = runtime.infer(batch)
    np.testing.assert_allclose(depth, batch.mean(axis=1, keepdims=True) + 1.0, rtol=1e-6)
    context = runtime.context
    names = [c[0] for c in context._calls]
    if version == TRT10:
        assert "execute_async_v3" in names and "set_tensor_address" in names and "execute_async_v2" not in names
        assert runtime.describe()["api"] == "named tensors (v3)"
    else:
        assert "execute_async_v2" in names and "set_binding_shape" in names and "execute_async_v3" not in names
    runtime.infer(batch)  # same shape: no reallocation
    assert len([c for c in cuda.calls if c[0] == "mem_alloc"]) == 2
    assert ("htod_async",) in cuda.calls and ("dtoh_async",) in cuda.calls and ("pagelocked_empty", 3 * 64 * 96) in cuda.calls
    with pytest.raises(RuntimeInputError, match="expected input size 64x96, got 32x32"):
        runtime.infer(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(RuntimeInputError, match="dtype float32"):
        runtime.infer(batch.astype(np.float16))
    runtime.close()
    assert_released(cuda)
    assert [c[0] for c in cuda.calls[-5:]] == ["push", "free", "free", "pop", "detach"]  # freed inside the context
    assert runtime.context is None and runtime.engine is None and runtime.stream is None
    calls = len(cuda.calls)
    runtime.close()  # idempotent: no second pop/detach
    assert len(cuda.calls) == calls
    with pytest.raises(RuntimeError, match="is closed"):
        runtime.infer(batch)


@pytest.mark.parametrize("version", [TRT10, TRT86])
def test_runtime_returns_confidence_from_a_two_output_engine(monkeypatch, tmp_path, version):
    """An engine built from a two-output export gives depth and confidence from one execution, on both
    APIs; a one-output engine gives None (fakes: no TensorRT/CUDA here; the fake's confidence is 1/depth)."""
    trt, cuda = fakes(monkeypatch, version, outputs=("confidence", "depth"))  # engine order is TensorRT's, not ours
    engine = tmp_path / "m.engine"
    write_engine(engine, version=version)
    batch = np.random.default_rng(1).normal(size=(1, 3, 64, 96)).astype(np.float32)
    with load_runtime(engine) as runtime:
        assert runtime.has_confidence and runtime.describe()["confidence"] == "yes"
        depth, confidence = runtime.infer_with_confidence(batch)
        executions = [c for c in runtime.context._calls if c[0].startswith("execute_async")]
        np.testing.assert_allclose(depth, batch.mean(axis=1, keepdims=True) + 1.0, rtol=1e-6)
        np.testing.assert_allclose(confidence, 1.0 / depth, rtol=1e-6)
        assert len(executions) == 1 and np.array_equal(runtime.infer(batch), depth)
        assert len([c for c in cuda.calls if c[0] == "dtoh_async"]) == 4  # two outputs per execution, two executions
    fakes(monkeypatch, version)
    with load_runtime(engine) as runtime:
        assert not runtime.has_confidence and runtime.infer_with_confidence(batch)[1] is None


def test_engine_output_names_are_checked():
    """Depth and confidence are found by name; anything else is refused with the names (pure logic, no TensorRT)."""
    from disdepth_core.runtime.tensorrt_logic import engine_outputs

    assert engine_outputs(["depth"]) == (0, None) and engine_outputs(["out_0"]) == (0, None)
    assert engine_outputs(["confidence", "depth"]) == (1, 0)
    with pytest.raises(ValueError, match="engine outputs are a, b; a DisDepth engine has 'depth'"):
        engine_outputs(["a", "b"])


def assert_released(cuda) -> None:
    """No context left pushed, no primary context retained, no device memory left allocated."""
    assert cuda.stack == [] and all(count == 0 for count in cuda.retained.values()) and cuda.memory == {}


def test_fake_cuda_needs_a_pushed_context():
    """The fake pycuda refuses memory operations without a pushed context, like the real driver."""
    cuda = trt_fakes.make_fake_cuda()
    with pytest.raises(cuda.LogicError, match="no currently active context"):
        cuda.mem_alloc(16)
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    buffer = cuda.mem_alloc(16)
    ctx.pop()
    with pytest.raises(cuda.LogicError, match="cuMemFree"):
        buffer.free()
    ctx.detach()
    with pytest.raises(cuda.LogicError, match="not retained"):
        ctx.detach()
    with pytest.raises(cuda.LogicError, match="invalid device ordinal"):
        cuda.Device(5)


def test_runtime_device_index_and_failed_load_releases_context(monkeypatch, tmp_path):
    """``device="cuda:N"`` selects GPU N; a failed load pops and detaches its context (fakes: no CUDA here)."""
    trt, cuda = fakes(monkeypatch, TRT10)
    engine = tmp_path / "m.engine"
    write_engine(engine)
    runtime = load_runtime(engine, device="cuda:1")
    assert ("retain", 1) in cuda.calls and ("name", 1) in cuda.calls and ("retain", 0) not in cuda.calls
    assert runtime.device_index == 1 and runtime.infer(np.zeros((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
    assert ("push", 1) in cuda.calls and ("push", 0) not in cuda.calls
    runtime.close()
    assert_released(cuda)
    with pytest.raises(ModelLoadError, match=r"cannot open CUDA device 7 .*does not exist \(this machine has 2 usable GPU"):
        load_runtime(engine, device="cuda:7")
    with pytest.raises(ModelLoadError, match="'tpu' is not a CUDA device"):
        load_runtime(engine, device="tpu")
    monkeypatch.setattr(trt.Runtime, "deserialize_cuda_engine", lambda self, data: None)
    with pytest.raises(ModelLoadError, match="could not deserialize"):
        load_runtime(engine)
    assert_released(cuda)


def test_runtime_dynamic_engine_reallocates_and_checks_profile(monkeypatch, tmp_path):
    """Dynamic engine: buffers are reallocated when the shape changes; out-of-profile shapes are refused (fakes)."""
    trt, cuda = fakes(monkeypatch, TRT86, engine_shape=(1, 3, -1, -1), profile=((1, 3, 32, 32), (1, 3, 64, 96), (1, 3, 128, 160)))
    engine = tmp_path / "d.plan"
    write_engine(engine, version=TRT86)
    runtime = load_runtime(engine)
    assert runtime.input_spec.is_dynamic
    for size in ((64, 96), (96, 128)):
        batch = np.ones((1, 3, *size), np.float32)
        assert runtime.infer(batch).shape == (1, 1, *size)
    assert len([c for c in cuda.calls if c[0] == "mem_alloc"]) == 4
    with pytest.raises(RuntimeInputError, match="outside the engine profile: dimension 3 is 200"):
        runtime.infer(np.ones((1, 3, 64, 200), np.float32))


def test_stale_engine_refused_with_reason_or_rebuilt(monkeypatch, tmp_path):
    """A foreign engine is never deserialised: refused with the reason, or rebuilt from ONNX (fakes: no TensorRT here)."""
    trt, cuda = fakes(monkeypatch, TRT10)
    engine = tmp_path / "m.engine"
    write_engine(engine, version=TRT86)
    with pytest.raises(ModelLoadError, match=r"built with TensorRT 8\.6\.2\.3, this machine has TensorRT 10\.3\.0\.26; no ONNX"):
        load_runtime(engine)
    assert not trt._fake.record.find("deserialize")
    assert_released(cuda)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    messages = []
    runtime = load_runtime(engine, onnx_path=str(onnx_path), log=messages.append)
    assert any("rebuilding" in m and "8.6.2.3" in m for m in messages)
    assert read_sidecar(engine).extra["tensorrt_version"] == TRT10 and runtime.infer(np.zeros((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
    sidecar_path(engine).unlink()
    with pytest.raises(ModelLoadError, match="sidecar m.engine.json is missing"):
        load_runtime(engine)


def test_missing_tensorrt_is_a_clear_error(monkeypatch, tmp_path):
    """Without tensorrt installed (as on this machine) loading an engine says so in one line."""
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="needs the tensorrt and pycuda packages to load .*m.engine"):
        load_runtime(engine)


@pytest.mark.parametrize("version, flags", [(TRT86, 1), (TRT10, 0)])
def test_builder_flags_and_config(monkeypatch, tmp_path, version, flags):
    """Builder: EXPLICIT_BATCH by version, FP16, workspace, DLA + GPU fallback, timing cache, sidecar (fakes: no TensorRT here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, _ = fakes(monkeypatch, version)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"old")
    options = EngineBuildOptions(precision="fp16", dla_core=1, workspace_mb=256, timing_cache=str(cache))
    meta = build_engine(onnx_path, tmp_path / "m.engine", options, log=lambda _m: None)
    rec = trt._fake.record
    assert rec.find("create_network") == [("create_network", flags)]
    assert ("set_memory_pool_limit", "WORKSPACE", 256 << 20) in rec.calls
    assert ("set_flag", "FP16") in rec.calls and ("set_flag", "GPU_FALLBACK") in rec.calls
    assert ("config_set", "default_device_type", "DLA") in rec.calls and ("config_set", "DLA_core", 1) in rec.calls
    assert ("create_timing_cache", b"old") in rec.calls and cache.read_bytes() == b"timing:old"
    assert not rec.find("profile_set_shape")  # static network: no profile
    sidecar = json.loads(sidecar_path(tmp_path / "m.engine").read_text())
    assert sidecar["extra"]["tensorrt_version"] == version and sidecar["extra"]["gpu_name"] == trt_fakes.GPU_NAME
    assert sidecar["extra"]["onnx_sha256"] == file_sha256(onnx_path) and sidecar["extra"]["precision"] == "fp16"
    assert sidecar["architecture"] == "tiny" and meta.extra["dla_core"] == 1


def calib_folder(tmp_path, count: int = 3):
    import cv2

    images = tmp_path / "calib"
    images.mkdir()
    for index in range(count):
        cv2.imwrite(str(images / f"{index}.png"), np.full((40, 50, 3), index * 40, np.uint8))
    (images / "notes.txt").write_text("ignored")
    return images


def test_builder_dynamic_profile_and_int8_calibration(monkeypatch, tmp_path):
    """Dynamic profile on the network's own input name, INT8 calibration inside a pushed CUDA context,
    the calibrator's buffer freed before the pop, and a reused cache (fakes: no TensorRT/CUDA here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT10, network_shape=(1, 3, -1, -1), input_name="pixels")
    onnx_path = tmp_path / "d.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path, dynamic=True)
    options = EngineBuildOptions(precision="int8", calib_images=str(calib_folder(tmp_path)),
                                 calib_cache=str(tmp_path / "calib.cache"), min_shape=(32, 32), opt_shape=(64, 96),
                                 max_shape=(128, 160), device_index=1)
    meta = build_engine(onnx_path, tmp_path / "d.engine", options, log=lambda _m: None)
    rec = trt._fake.record
    assert ("profile_set_shape", "pixels", (1, 3, 32, 32), (1, 3, 64, 96), (1, 3, 128, 160)) in rec.calls
    assert ("set_flag", "INT8") in rec.calls and rec.find("set_calibration_profile")
    fed = [c[1].view(np.float32).reshape(1, 3, 64, 96) for c in rec.find("calibration_batch")]
    assert len(fed) == 3  # one batch per image, at the opt size; notes.txt skipped
    assert np.allclose(fed[0][0, 0], (0 / 255 - 0.485) / 0.229, atol=1e-5)  # shared preprocess_rgb normalisation
    assert (tmp_path / "calib.cache").read_bytes() == b"calib-table"
    calibrator = [c[2] for c in rec.calls if c[:2] == ("config_set", "int8_calibrator")][0]
    assert calibrator.device is None and calibrator.get_batch_size() == 1
    names = [c[0] for c in cuda.calls if c[0] in ("retain", "push", "mem_alloc", "free", "pop", "detach")]
    assert names == ["retain", "push", "mem_alloc", "free", "pop", "detach"] and ("retain", 1) in cuda.calls
    assert_released(cuda)
    assert (meta.extra["min_shape"], meta.extra["opt_shape"], meta.extra["max_shape"]) == ([32, 32], [64, 96], [128, 160])
    rebuilt = EngineBuildOptions(precision="int8", calib_cache=str(tmp_path / "calib.cache"), opt_shape=(64, 96))
    rebuilt.validate()  # an existing cache is enough: no images needed
    build_engine(onnx_path, tmp_path / "d2.engine", rebuilt, log=lambda _m: None)
    second = [c[2] for c in rec.calls if c[:2] == ("config_set", "int8_calibrator")][-1]
    assert second.paths == [] and len(rec.find("calibration_batch")) == 3  # cache read, no image calibrated
    assert_released(cuda)


def test_int8_build_fails_without_a_pushed_context(monkeypatch, tmp_path):
    """Guard for the fakes themselves: with the context push removed, INT8 calibration fails as on a real GPU."""
    from contextlib import nullcontext

    from disdepth_core.runtime import tensorrt_build
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT10)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    monkeypatch.setattr(tensorrt_build, "cuda_context", lambda *a, **k: nullcontext())
    options = EngineBuildOptions(precision="int8", calib_images=str(calib_folder(tmp_path)))
    with pytest.raises(cuda.LogicError, match="no currently active context"):
        build_engine(onnx_path, tmp_path / "m.engine", options, log=lambda _m: None)


def test_builder_profile_shape_errors(monkeypatch, tmp_path):
    """Shape flags on a static ONNX and min > opt > max are clear errors, not ignored (fakes: no TensorRT here)."""
    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT10)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    with pytest.raises(ValueError, match=r"--min-shape, --max-shape only apply to a dynamic ONNX.*static shape \(1, 3, 64, 96\)"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(min_shape=(32, 32), max_shape=(64, 96)),
                     log=lambda _m: None)
    assert not trt._fake.record.find("build_serialized_network") and not (tmp_path / "m.engine").exists()
    assert_released(cuda)
    with pytest.raises(ValueError, match="--min-shape 64x128 is larger than --opt-shape 64x96 in width"):
        EngineBuildOptions(min_shape=(64, 128), opt_shape=(64, 96)).validate()
    with pytest.raises(ValueError, match="--opt-shape 96x96 is larger than --max-shape 64x128 in height"):
        EngineBuildOptions(opt_shape=(96, 96), max_shape=(64, 128)).validate()
    dynamic_trt, _ = fakes(monkeypatch, TRT10, network_shape=(1, 3, -1, -1))
    with pytest.raises(ValueError, match=r"--min-shape 80x80 is larger than the exported size \(default --opt-shape\) 64x96"):
        build_engine(onnx_path, tmp_path / "m.engine", EngineBuildOptions(min_shape=(80, 80)), log=lambda _m: None)


def test_builder_rejects_bad_options_and_foreign_onnx(monkeypatch, tmp_path):
    """Clear errors for DLA+FP32, INT8 without data, parser failures and non-DisDepth ONNX (fakes: no TensorRT here)."""
    import onnx
    from onnx import TensorProto, helper

    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine

    with pytest.raises(ValueError, match="DLA runs only FP16 or INT8"):
        EngineBuildOptions(precision="fp32", dla_core=0).validate()
    with pytest.raises(ValueError, match="INT8 needs --calib-images"):
        EngineBuildOptions(precision="int8").validate()
    fakes(monkeypatch, TRT10, parse_ok=False)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    with pytest.raises(ValueError, match="TensorRT could not parse .*m.onnx: fake parser error"):
        build_engine(onnx_path, tmp_path / "m.engine", log=lambda _m: None)
    foreign = tmp_path / "foreign.onnx"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Abs", ["x"], ["y"])], "g", [x],
                                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])), str(foreign))
    with pytest.raises(ValueError, match="foreign.onnx was not exported by disdepth"):
        build_engine(foreign, tmp_path / "f.engine", log=lambda _m: None)


def test_cli_engine_export(monkeypatch, tmp_path, capsys):
    """``disdepth export --format engine`` end to end in-process against fakes (no TensorRT on this machine)."""
    from disdepth_cli import main

    trt, _ = fakes(monkeypatch, TRT86)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    out = tmp_path / "m.engine"
    assert main(["export", "--format", "engine", "--onnx", str(onnx_path), "--output", str(out), "--precision", "fp32"]) == 0
    assert out.read_bytes() == b"fake-serialized-engine" and read_sidecar(out).extra["precision"] == "fp32"
    assert "wrote" in capsys.readouterr().out
    assert main(["export", "--format", "engine", "--onnx", str(tmp_path / "nope.onnx"), "--output", str(out)]) == 2
    assert "ONNX model not found" in capsys.readouterr().err


def test_cli_int8_engine_on_a_chosen_gpu(monkeypatch, tmp_path, capsys):
    """``--precision int8 --device cuda:1`` calibrates inside GPU 1's context; shape flags on a static ONNX exit 2 (fakes)."""
    from disdepth_cli import main

    trt, cuda = fakes(monkeypatch, TRT10)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    out = tmp_path / "m.engine"
    assert main(["export", "--format", "engine", "--onnx", str(onnx_path), "--output", str(out), "--precision", "int8",
                 "--calib-images", str(calib_folder(tmp_path)), "--device", "cuda:1"]) == 0
    assert len(trt._fake.record.find("calibration_batch")) == 3 and ("push", 1) in cuda.calls and ("push", 0) not in cuda.calls
    assert_released(cuda)
    fresh = tmp_path / "m2.engine"  # `out` exists now, and an existing output is refused first (issue 20)
    assert main(["export", "--format", "engine", "--onnx", str(onnx_path), "--output", str(fresh), "--opt-shape", "64x96"]) == 2
    assert "--opt-shape only apply to a dynamic ONNX" in capsys.readouterr().err
    assert main(["export", "--format", "engine", "--onnx", str(onnx_path), "--output", str(fresh), "--device", "cpu"]) == 2
    assert "'cpu' is not a CUDA device" in capsys.readouterr().err


def test_missing_engine_is_built_from_onnx_path(monkeypatch, tmp_path):
    """A missing engine plus an existing ``onnx_path=`` is built by the backend; otherwise a clear error (fakes)."""
    from disdepth_core.runtime.loader import missing_model_error

    trt, cuda = fakes(monkeypatch, TRT10)
    engine, onnx_path = tmp_path / "new.engine", tmp_path / "m.onnx"
    with pytest.raises(ModelLoadError, match=r"model file not found: .*new\.engine$"):
        load_runtime(engine)
    with pytest.raises(ModelLoadError, match=r"its onnx_path .*m\.onnx to build it from does not exist"):
        load_runtime(engine, onnx_path=str(onnx_path))
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    assert missing_model_error(engine, "auto", {"onnx_path": str(onnx_path)}) is None
    assert missing_model_error(tmp_path / "x.bin", "tensorrt", {"onnx_path": str(onnx_path)}) is None
    assert missing_model_error(tmp_path / "x.onnx", "auto", {"onnx_path": str(onnx_path)}).startswith("model file not found")
    assert missing_model_error(tmp_path / "x.zip", "auto", {}).startswith("model file not found")
    with pytest.raises(ModelLoadError, match=r"does not exist; automatic rebuilds are off \(rebuild=False\); rebuild it"):
        load_runtime(engine, onnx_path=str(onnx_path), rebuild=False)
    messages = []
    runtime = load_runtime(engine, onnx_path=str(onnx_path), log=messages.append)
    assert any("rebuilding" in m and "does not exist" in m for m in messages)
    assert read_sidecar(engine).extra["onnx_sha256"] == file_sha256(onnx_path) and engine.is_file()
    assert runtime.infer(np.zeros((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
    runtime.close()
    assert_released(cuda)
