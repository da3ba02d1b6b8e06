"""The ONNX Runtime backend on small hand-built graphs: providers, metadata, IO checks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.runtime import ModelLoadError, RuntimeInputError, load_runtime
from disdepth_core.runtime.onnxruntime_backend import choose_providers, engine_cache_dir, provider_options
from tests.export.trt_fakes import tiny_disdepth_onnx

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


def test_provider_order_device_and_explicit():
    available = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert choose_providers(available) == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(available, device="cpu") == ["CPUExecutionProvider"]
    assert choose_providers(available, device="cpu", explicit=["CUDAExecutionProvider"]) == ["CUDAExecutionProvider"]
    assert choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(ModelLoadError, match="no GPU provider"):
        choose_providers(["CPUExecutionProvider"], device="cuda")


def test_gpu_provider_options(tmp_path, monkeypatch):
    """TensorRT gets an engine cache, FP16 and the GPU of ``cuda:N``; CUDA gets the GPU; tuples are kept."""
    model = tmp_path / "m.onnx"
    names = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt = {"device_id": 1, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(tmp_path / "m.trt_cache"),
           "trt_fp16_enable": True}
    assert provider_options(names, "cuda:1", model) == [("TensorrtExecutionProvider", trt),
                                                        ("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    options = dict(provider_options(names[:2], "auto", model, fp16=False, cache_dir=tmp_path / "c"))
    assert options["TensorrtExecutionProvider"]["trt_fp16_enable"] is False and options["CUDAExecutionProvider"] == {"device_id": 0}
    assert options["TensorrtExecutionProvider"]["trt_engine_cache_path"] == str(tmp_path / "c")
    mine = ("CUDAExecutionProvider", {"device_id": 3})
    assert provider_options([mine, "CPUExecutionProvider"], "cuda", model) == [mine, "CPUExecutionProvider"]
    assert provider_options(["CPUExecutionProvider"], "cpu", model) == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="'cuda:x' is not a CUDA device"):
        provider_options(names, "cuda:x", model)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("os.access", lambda path, mode: False)  # read-only model folder (e.g. a ROS install space)
    assert engine_cache_dir(model) == tmp_path / "home" / ".cache" / "disdepth" / "trt" / "m"


def test_session_gets_provider_options(tmp_path, monkeypatch):
    """The session is created with the configured providers; the TensorRT cache folder is made up front."""
    import onnxruntime as ort

    path = tmp_path / "tiny.onnx"
    tiny_disdepth_onnx(path)
    seen = []
    real = ort.InferenceSession

    def session(model, sess_options=None, providers=None):
        seen.append(providers)
        return real(model, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", session)
    runtime = load_runtime(path, device="cuda:2", fp16=False)
    assert seen[0][0] == ("TensorrtExecutionProvider", {"device_id": 2, "trt_engine_cache_enable": True,
                                                        "trt_engine_cache_path": str(tmp_path / "tiny.trt_cache"),
                                                        "trt_fp16_enable": False})
    assert (tmp_path / "tiny.trt_cache").is_dir() and runtime.trt_cache == str(tmp_path / "tiny.trt_cache")
    with pytest.raises(ModelLoadError, match="'gpu:one' is not a CUDA device"):
        load_runtime(path, device="gpu:one")


def test_runs_and_describes(tmp_path):
    path = tmp_path / "tiny.onnx"
    tiny_disdepth_onnx(path)
    runtime = load_runtime(path, threads=1)
    assert runtime.backend == "onnxruntime" and runtime.metadata.architecture == "tiny" and runtime.metadata.max_depth == 10.0
    assert (runtime.input_spec.height, runtime.input_spec.width, runtime.input_spec.max_batch) == (64, 96, 1)
    batch = np.random.default_rng(0).normal(size=(1, 3, 64, 96)).astype(np.float32)
    np.testing.assert_allclose(runtime.infer(batch), np.abs(batch.mean(axis=1, keepdims=True)), rtol=1e-5, atol=1e-6)
    info = runtime.describe()
    assert info["providers"][-1] == "CPUExecutionProvider" and info["threads"] == 1 and "onnxruntime" in info
    with pytest.raises(RuntimeInputError, match="expected input size 64x96, got 48x96"):
        runtime.infer(np.zeros((1, 3, 48, 96), np.float32))
    with pytest.raises(RuntimeInputError, match="batch size 2 outside 1..1"):
        runtime.infer(np.zeros((2, 3, 64, 96), np.float32))
    runtime.close()


def test_dynamic_dims_become_zero(tmp_path):
    path = tmp_path / "dyn.onnx"
    tiny_disdepth_onnx(path, dynamic=True)
    runtime = load_runtime(path, device="cpu")
    assert runtime.input_spec.is_dynamic and runtime.infer(np.ones((1, 3, 20, 30), np.float32)).shape == (1, 1, 20, 30)


def test_foreign_missing_and_corrupt_models(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(ModelLoadError, match="not found"):
        load_runtime(tmp_path / "missing.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x00garbage")
    with pytest.raises(ModelLoadError, match="cannot load ONNX model .*corrupt.onnx"):
        load_runtime(corrupt)

    other = tmp_path / "classifier.onnx"
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])
    node = helper.make_node("ReduceMean", ["input"], ["logits"], axes=[2, 3], keepdims=0)
    onnx.save(helper.make_model(helper.make_graph([node], "cls", [x], [y]), opset_imports=[helper.make_opsetid("", 17)]), str(other))
    with pytest.raises(ModelLoadError, match=r"classifier.onnx is not a DisDepth depth model: inputs \['input'\]"):
        load_runtime(other)

    unmarked = tmp_path / "unmarked.onnx"
    tiny_disdepth_onnx(unmarked)
    model = onnx.load(str(unmarked))
    del model.metadata_props[:]
    onnx.save(model, str(unmarked))
    with pytest.raises(ModelLoadError, match="unmarked.onnx was not exported by disdepth"):
        load_runtime(unmarked)
    foreign = load_runtime(unmarked, allow_foreign=True)
    assert foreign.metadata.architecture == "foreign" and foreign.infer(np.zeros((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
