"""Real ONNX export of the tiny checkpoint, checked with ONNX Runtime against PyTorch."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disdepth_core.runtime import RuntimeInputError, load_runtime

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def static_export(tiny_checkpoint, tmp_path_factory):
    from disdepth_core.export.onnx_export import export_onnx

    return export_onnx(tiny_checkpoint, tmp_path_factory.mktemp("onnx") / "static.onnx", (64, 96), log=lambda _m: None)


@pytest.fixture(scope="module")
def dynamic_uint8_export(tiny_checkpoint, tmp_path_factory):
    from disdepth_core.export.onnx_export import export_onnx

    return export_onnx(tiny_checkpoint, tmp_path_factory.mktemp("onnx") / "dyn.onnx", (64, 96), dynamic=True,
                       uint8_input=True, log=lambda _m: None)


@functools.lru_cache(maxsize=2)
def _student(checkpoint):
    from disdepth_core.models.checkpoint import load_model

    return load_model(checkpoint)[0]


def torch_depth(checkpoint, batch: np.ndarray) -> np.ndarray:
    import torch

    model = _student(checkpoint)
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


def test_static_export_agrees_and_carries_metadata(static_export, tiny_checkpoint):
    import onnx

    from disdepth_core.runtime.artifact import metadata_from_props
    from disdepth_core.models.checkpoint import file_sha256
    from disdepth_core.runtime.preprocess import preprocess_rgb

    assert static_export.check.passed and static_export.check.max_abs <= 1e-3 * 10.0 and static_export.simplified
    model = onnx.load(str(static_export.path))
    assert [i.name for i in model.graph.input] == ["image"] and [o.name for o in model.graph.output] == ["depth", "confidence"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["disdepth.architecture"] == "ghostnet_100" and props["disdepth.input_size"] == "64x96"
    meta = metadata_from_props(props)
    assert meta.checkpoint_sha256 == file_sha256(tiny_checkpoint) and meta.max_depth == 10.0 and meta.dataset == "nyu"
    assert meta.train_focal == pytest.approx(259.4) and meta.input_layout == "nchw_float" and meta.exporter_version

    runtime = load_runtime(static_export.path, device="cpu")
    assert runtime.backend == "onnxruntime" and (runtime.input_spec.height, runtime.input_spec.width) == (64, 96)
    assert runtime.metadata.to_dict() == meta.to_dict()
    rgb = np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    batch, _ = preprocess_rgb(rgb, (64, 96), runtime.metadata)
    np.testing.assert_allclose(runtime.infer(batch), torch_depth(tiny_checkpoint, batch), atol=1e-3 * 10.0, rtol=1e-3)
    depth, confidence = runtime.infer_with_confidence(batch)
    import torch

    with torch.no_grad():
        reference = _student(tiny_checkpoint).forward_with_confidence(torch.from_numpy(batch))[1].numpy()
    assert runtime.has_confidence and confidence.shape == depth.shape and 0.0 <= confidence.min() <= confidence.max() <= 1.0
    np.testing.assert_allclose(confidence, reference, atol=1e-4)
    with pytest.raises(RuntimeInputError, match=r"static.onnx\): expected input size 64x96, got 32x32"):
        runtime.infer(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(RuntimeInputError, match="dtype float32"):
        runtime.infer(batch.astype(np.float64))


def test_dynamic_uint8_export_runs_at_other_sizes(dynamic_uint8_export, tiny_checkpoint):
    from disdepth_core.runtime.artifact import ModelMetadata
    from disdepth_core.runtime.preprocess import normalize_to_nchw

    assert dynamic_uint8_export.check.passed and len(dynamic_uint8_export.check.sizes) == 2
    runtime = load_runtime(dynamic_uint8_export.path, device="cpu")
    assert runtime.input_spec.is_dynamic and runtime.input_spec.layout == "nhwc_uint8"
    assert runtime.metadata.dynamic_shape and runtime.metadata.input_layout == "nhwc_uint8"
    for height, width in ((64, 96), (96, 128)):
        rgb = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
        depth = runtime.infer(rgb[None])
        reference = torch_depth(tiny_checkpoint, normalize_to_nchw(rgb, ModelMetadata().mean, ModelMetadata().std))
        assert depth.shape == (1, 1, height, width)
        np.testing.assert_allclose(depth, reference, atol=1e-3 * 10.0, rtol=1e-3)
    with pytest.raises(RuntimeInputError, match="dtype uint8"):
        runtime.infer(np.zeros((1, 64, 96, 3), np.float32))


def test_simplification_fallback_and_check_failure(static_export, monkeypatch):
    import onnx
    import onnxslim
    import torch

    from disdepth_core.export import onnx_export

    proto = onnx.load(str(static_export.path))
    messages = []
    monkeypatch.setattr(onnxslim, "slim", lambda _m: (_ for _ in ()).throw(RuntimeError("boom")))
    kept, simplified = onnx_export.simplify_onnx(proto, messages.append)
    assert kept is proto and not simplified and "warning: onnxslim simplification failed (RuntimeError: boom)" in messages[0]

    def wrong_model(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full((1, 1, 64, 96), 5.0), torch.full((1, 1, 64, 96), 0.5)

    check = onnx_export.compare_outputs(static_export.path, wrong_model, static_export.metadata, [(64, 96)])
    assert not check.passed and "max abs diff" in check.summary() and "tolerance 0.01" in check.summary()
    with pytest.raises(onnx_export.ExportCheckError, match="ONNX has 2 outputs .depth, confidence., PyTorch 1"):
        onnx_export.compare_outputs(static_export.path, lambda x: wrong_model(x)[0], static_export.metadata, [(64, 96)])


def test_one_output_export_and_no_file_after_a_failed_check(tiny_checkpoint, tmp_path, monkeypatch):
    """``confidence=False`` writes the older one-output graph (which every runtime still runs, without
    confidence); a failed check leaves nothing at the output path."""
    from disdepth_core.export import onnx_export

    old = onnx_export.export_onnx(tiny_checkpoint, tmp_path / "old.onnx", (64, 96), confidence=False, simplify=False,
                                  log=lambda _m: None)
    for backend in ("onnxruntime", "openvino"):
        with load_runtime(old.path, backend=backend, device="cpu") as runtime:
            depth, confidence = runtime.infer_with_confidence(np.zeros((1, 3, 64, 96), np.float32))
            assert not runtime.has_confidence and confidence is None and depth.shape == (1, 1, 64, 96)
    failing = onnx_export.ExportCheck(1.0, 1.0, 0.01, 1e-3, [(64, 96)])
    monkeypatch.setattr(onnx_export, "compare_outputs", lambda *args: failing)
    with pytest.raises(onnx_export.ExportCheckError, match="disagrees with PyTorch"):
        onnx_export.export_onnx(tiny_checkpoint, tmp_path / "bad.onnx", (64, 96), simplify=False, log=lambda _m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.onnx"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "disdepth_cli", *args], cwd=REPO, capture_output=True, text=True, timeout=240)


def test_cli_export_end_to_end(tiny_checkpoint, tmp_path):
    out = tmp_path / "cli.onnx"
    result = run_cli("export", "--checkpoint", str(tiny_checkpoint), "--format", "onnx", "--input-size", "64x96",
                     "--output", str(out), "--no-simplify", "--opset", "17")
    assert result.returncode == 0, result.stderr
    assert "max abs diff" in result.stdout and "max rel diff" in result.stdout and out.is_file()
    assert load_runtime(out, device="cpu").metadata.architecture == "ghostnet_100"


def test_cli_bad_inputs_exit_2_without_traceback(tmp_path, tiny_checkpoint, capsys):
    import torch

    from disdepth_cli import main

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    result = run_cli("export", "--checkpoint", str(corrupt), "--output", str(tmp_path / "x.onnx"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cannot read checkpoint") and "corrupt.pt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    raw = tmp_path / "raw_state.pt"
    torch.save({"weight": torch.zeros(1)}, raw)
    cases = [
        (["--checkpoint", str(tmp_path / "missing.pt")], "checkpoint not found"),
        (["--checkpoint", str(raw)], "raw_state.pt is not a DisDepth checkpoint"),
        (["--checkpoint", str(tiny_checkpoint), "--input-size", "64by96"], "not of the form HxW"),
        ([], "--format onnx needs --checkpoint"),
    ]
    for extra, message in cases:
        assert main(["export", "--output", str(tmp_path / "x.onnx"), *extra]) == 2, message
        assert message in capsys.readouterr().err


def test_checkpoint_without_metadata_needs_input_size(tmp_path, capsys):
    from disdepth_cli import main
    from disdepth_core.models import build_model
    from disdepth_core.models.checkpoint import save_checkpoint

    model = build_model("ghostnet_100", lg_conv=False, head={"n_bins": 16, "max_depth": 10.0})
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, model, model.cfg, meta=None)
    assert main(["export", "--checkpoint", str(bare), "--output", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "bare.pt records no train_input_size" in err and "--input-size" in err


def test_uint8_input_is_cast_before_anything_else(dynamic_uint8_export):
    """TensorRT's ONNX parser rejects UINT8 intermediate tensors, so the uint8 input's only consumer must be a Cast
    (a Transpose first made every --uint8-input file unparseable by TensorRT)."""
    import onnx

    model = onnx.load(str(dynamic_uint8_export.path))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    consumers = [node for node in model.graph.node if model.graph.input[0].name in node.input]
    assert [node.op_type for node in consumers] == ["Cast"]
    assert [a.i for a in consumers[0].attribute if a.name == "to"] == [onnx.TensorProto.FLOAT]
