"""The OpenVINO backend on this CPU (real OpenVINO runtime, real ONNX exports)."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.runtime import ModelLoadError, load_runtime

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def tiny_onnx(tiny_checkpoint, tmp_path_factory):
    from disdepth_core.export.onnx_export import export_onnx

    path = tmp_path_factory.mktemp("ov") / "tiny.onnx"
    export_onnx(tiny_checkpoint, path, (64, 96), check=False, simplify=False, log=lambda _m: None)
    return path


def _frame(seed: int = 0) -> np.ndarray:
    from disdepth_core.runtime.preprocess import normalize_to_nchw

    rgb = np.random.default_rng(seed).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    return normalize_to_nchw(rgb, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def test_openvino_fp32_matches_onnxruntime(tiny_onnx):
    reference = load_runtime(tiny_onnx, device="cpu")
    runtime = load_runtime(tiny_onnx, backend="openvino", threads=1)
    assert runtime.backend == "openvino" and (runtime.input_spec.height, runtime.input_spec.width) == (64, 96)
    assert runtime.metadata.max_depth == reference.metadata.max_depth and runtime.metadata.architecture == "ghostnet_100"
    for seed in range(2):
        np.testing.assert_allclose(runtime.infer(_frame(seed)), reference.infer(_frame(seed)), atol=1e-4)
    info = runtime.describe()
    assert info["precision"] == "fp32" and info["device"] == "CPU" and info["threads"] == 1


def test_openvino_bf16_keeps_the_bins_head_in_fp32(tiny_onnx):
    """bf16 body + fp32 head: two compiled models cut at the head's inputs; depth within 1% of max depth."""
    reference = load_runtime(tiny_onnx, device="cpu")
    runtime = load_runtime(tiny_onnx, backend="openvino", threads=1, precision="bf16", log=lambda _m: None)
    assert len(runtime._requests) == 2 and runtime._cut >= 1
    depths = np.stack([runtime.infer(_frame(s)) for s in range(2)])
    expected = np.stack([reference.infer(_frame(s)) for s in range(2)])
    assert depths.shape == expected.shape and depths.dtype == np.float32
    assert float(np.abs(depths - expected).mean()) < 0.01 * reference.metadata.max_depth
    assert runtime.describe()["precision"] == "bf16 body + fp32 bins head"


def test_openvino_clear_errors(tiny_onnx, tmp_path):
    with pytest.raises(ModelLoadError, match="runs fp32 or bf16"):
        load_runtime(tiny_onnx, backend="openvino", precision="fp16")
    with pytest.raises(ModelLoadError, match="runs on Intel devices .*not 'cuda'"):
        load_runtime(tiny_onnx, backend="openvino", device="cuda")
    with pytest.raises(ModelLoadError, match="device 'TPU' not available"):
        load_runtime(tiny_onnx, backend="openvino", device="TPU")
    from tests.export.trt_fakes import tiny_disdepth_onnx

    headless = tmp_path / "headless.onnx"  # DisDepth metadata, but no bins head
    tiny_disdepth_onnx(headless)
    assert load_runtime(headless, backend="openvino").infer(np.ones((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
    with pytest.raises(ModelLoadError, match="has no bins head nodes"):
        load_runtime(headless, backend="openvino", precision="bf16")


def test_bench_compare_includes_openvino(tiny_onnx, capsys):
    from disdepth_cli import main

    assert main(["bench", str(tiny_onnx), "--compare", "onnxruntime,openvino", "--iters", "2", "--warmup", "1",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "== openvino @ 64x96" in out and "openvino " in out.split("max |depth diff|")[1]


def test_node_accepts_the_openvino_backend():
    from disdepth_ros.parameters import validate_value

    assert validate_value("backend", "openvino") is None


def test_head_ops_are_found_under_the_uint8_wrapper_too():
    """--uint8-input exports nest the student under ``/model/``; the bf16 cut must still find the bins head
    (checked by hand on a dynamic uint8 export at 64x96 and 96x128: depth within 2e-5 m of ONNX Runtime)."""
    from disdepth_core.runtime.openvino_backend import is_head_op

    assert is_head_op("/bin_centers/mlp/mlp.0/Gemm") and is_head_op("/model/bin_probabilities/logits/Conv")
    assert not is_head_op("/decoder/blocks.3/convs/convs.3/LeakyRelu") and not is_head_op("/model/bin_centersX/Add")
