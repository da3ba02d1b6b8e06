"""TensorRT backend and engine builder logic, driven through fake ``tensorrt``/``pycuda`` modules.

TensorRT and CUDA cannot run on this machine (no GPU, no TensorRT wheel), so the fakes in
:mod:`tests.export.trt_fakes` stand in for them; every test here says so in its docstring.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from disdepth_core.export.artifact_metadata import read_sidecar, sidecar_path, write_sidecar
from disdepth_core.models.checkpoint import file_sha256
from disdepth_core.runtime import ModelLoadError, RuntimeInputError, load_runtime
from disdepth_core.runtime.metadata import ModelMetadata
from disdepth_core.runtime.tensorrt_logic import (buffer_nbytes, engine_rebuild_reason, needs_explicit_batch_flag,
                                                  parse_trt_version, profile_violation, spec_dims, uses_named_tensor_api, volume)

from . import trt_fakes

pytestmark = pytest.mark.fake_backend
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
    names = [c[0] for c in context.calls]
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
    assert ("detach",) in cuda.calls


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
    trt, _ = fakes(monkeypatch, TRT10)
    engine = tmp_path / "m.engine"
    write_engine(engine, version=TRT86)
    with pytest.raises(ModelLoadError, match=r"built with TensorRT 8\.6\.2\.3, this machine has TensorRT 10\.3\.0\.26; no ONNX"):
        load_runtime(engine)
    assert not trt.record.find("deserialize")
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
    from disdepth_core.export.tensorrt_build import EngineBuildOptions, build_engine

    trt, _ = fakes(monkeypatch, version)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"old")
    options = EngineBuildOptions(precision="fp16", dla_core=1, workspace_mb=256, timing_cache=str(cache))
    meta = build_engine(onnx_path, tmp_path / "m.engine", options, log=lambda _m: None)
    rec = trt.record
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


def test_builder_dynamic_profile_and_int8_calibration(monkeypatch, tmp_path):
    """Dynamic profile shapes and INT8 calibration from images with a reused cache (fakes: no TensorRT/CUDA here)."""
    import cv2

    from disdepth_core.export.tensorrt_build import EngineBuildOptions, build_engine

    trt, cuda = fakes(monkeypatch, TRT10, network_shape=(1, 3, -1, -1))
    onnx_path = tmp_path / "d.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path, dynamic=True)
    images = tmp_path / "calib"
    images.mkdir()
    for index in range(3):
        cv2.imwrite(str(images / f"{index}.png"), np.full((40, 50, 3), index * 40, np.uint8))
    (images / "notes.txt").write_text("ignored")
    options = EngineBuildOptions(precision="int8", calib_images=str(images), calib_cache=str(tmp_path / "calib.cache"),
                                 min_shape=(32, 32), opt_shape=(64, 96), max_shape=(128, 160))
    build_engine(onnx_path, tmp_path / "d.engine", options, log=lambda _m: None)
    rec = trt.record
    assert ("profile_set_shape", "image", (1, 3, 32, 32), (1, 3, 64, 96), (1, 3, 128, 160)) in rec.calls
    assert ("set_flag", "INT8") in rec.calls and rec.find("set_calibration_profile")
    calibrator = [c[2] for c in rec.calls if c[:2] == ("config_set", "int8_calibrator")][0]
    assert calibrator.get_batch_size() == 1 and calibrator.read_calibration_cache() is None
    first = calibrator.get_batch(["image"])
    fed = cuda.memory[first[0]].view(np.float32).reshape(1, 3, 64, 96)
    assert np.allclose(fed[0, 0], (0 / 255 - 0.485) / 0.229, atol=1e-5)  # shared preprocess_rgb normalisation
    rest = [calibrator.get_batch(["image"]) for _ in range(3)]
    assert rest[0] is not None and rest[1] is not None and rest[2] is None
    calibrator.write_calibration_cache(b"calib-table")
    rebuilt = EngineBuildOptions(precision="int8", calib_cache=str(tmp_path / "calib.cache"), opt_shape=(64, 96))
    rebuilt.validate()  # an existing cache is enough: no images needed
    build_engine(onnx_path, tmp_path / "d2.engine", rebuilt, log=lambda _m: None)
    second = [c[2] for c in rec.calls if c[:2] == ("config_set", "int8_calibrator")][-1]
    assert second.read_calibration_cache() == b"calib-table" and second.paths == []


def test_builder_rejects_bad_options_and_foreign_onnx(monkeypatch, tmp_path):
    """Clear errors for DLA+FP32, INT8 without data, parser failures and non-DisDepth ONNX (fakes: no TensorRT here)."""
    import onnx
    from onnx import TensorProto, helper

    from disdepth_core.export.tensorrt_build import EngineBuildOptions, build_engine

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
    from disdepth_core.cli import main

    trt, _ = fakes(monkeypatch, TRT86)
    onnx_path = tmp_path / "m.onnx"
    trt_fakes.tiny_disdepth_onnx(onnx_path)
    out = tmp_path / "m.engine"
    assert main(["export", "--format", "engine", "--onnx", str(onnx_path), "--output", str(out), "--precision", "fp32"]) == 0
    assert out.read_bytes() == b"fake-serialized-engine" and read_sidecar(out).extra["precision"] == "fp32"
    assert "wrote" in capsys.readouterr().out
    assert main(["export", "--format", "engine", "--onnx", str(tmp_path / "nope.onnx"), "--output", str(out)]) == 2
    assert "ONNX model not found" in capsys.readouterr().err
