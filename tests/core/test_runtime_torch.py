"""The runtime interface with the PyTorch backend, and the shared pre/post-processing path."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.runtime import ModelLoadError, RuntimeInputError, load_runtime
from disdepth_core.runtime.preprocess import choose_input_size, make_transform, postprocess_depth, preprocess_rgb


def test_torch_runtime_matches_model_and_reports_metadata(tiny_checkpoint):
    import torch

    from disdepth_core.models.checkpoint import load_model

    runtime = load_runtime(tiny_checkpoint)
    assert runtime.backend == "torch" and runtime.input_spec.is_dynamic
    assert runtime.metadata.architecture == "ghostnet_100" and runtime.metadata.max_depth == 10.0
    assert choose_input_size(runtime.input_spec, runtime.metadata) == (64, 96)
    rgb = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    batch, transform = preprocess_rgb(rgb, (64, 96), runtime.metadata)
    depth = runtime.infer(batch)
    model, _ = load_model(tiny_checkpoint)
    with torch.no_grad():
        reference = model(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(depth, reference, rtol=1e-5, atol=1e-5)
    full = postprocess_depth(depth, transform, 1e-3, 10.0)
    assert full.shape == (120, 160) and full.dtype == np.float32


def test_input_errors_name_the_mismatch(tiny_checkpoint):
    runtime = load_runtime(tiny_checkpoint)
    with pytest.raises(RuntimeInputError, match="dtype float32"):
        runtime.infer(np.zeros((1, 3, 64, 96), np.float64))
    with pytest.raises(RuntimeInputError, match="3 channels"):
        runtime.infer(np.zeros((1, 4, 64, 96), np.float32))
    with pytest.raises(RuntimeInputError, match="4-D"):
        runtime.infer(np.zeros((3, 64, 96), np.float32))


def test_load_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_runtime(tmp_path / "missing.pt")
    bad = tmp_path / "model.xyz"
    bad.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="cannot tell the backend"):
        load_runtime(bad)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="corrupt.pt"):
        load_runtime(corrupt)


def test_normalisation_matches_reference_formula():
    from disdepth_core.runtime.artifact import ModelMetadata

    rgb = np.random.default_rng(1).integers(0, 255, (8, 10, 3), dtype=np.uint8)
    meta = ModelMetadata()
    batch, _ = preprocess_rgb(rgb, (8, 10), meta)
    expected = ((rgb / 255.0 - np.array(meta.mean)) / np.array(meta.std)).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(batch, expected, atol=1e-5)


def test_letterbox_round_trip_and_intrinsics():
    transform = make_transform((100, 200), (100, 100), "letterbox")
    assert transform.content == (25, 0, 50, 100)
    depth_net = np.full((100, 100), 7.0, np.float32)
    depth_net[:25] = 0.0  # padding rows must not leak into the camera-resolution depth
    out = postprocess_depth(depth_net, transform, 0.1, 10.0)
    assert out.shape == (100, 200) and np.allclose(out, 7.0)
    K = np.array([[100.0, 0, 99.5], [0, 100.0, 49.5], [0, 0, 1]])
    Kn = transform.intrinsics_to_network(K)
    # The camera's principal point lands at the centre of the network input.
    assert Kn[0, 2] == pytest.approx(49.5) and Kn[1, 2] == pytest.approx(49.5) and Kn[0, 0] == pytest.approx(50.0)


def test_postprocess_marks_out_of_range_as_nan():
    transform = make_transform((2, 2), (2, 2))
    out = postprocess_depth(np.array([[0.0, 5.0], [11.0, 9.0]], np.float32), transform, 0.1, 10.0)
    assert np.isnan(out[0, 0]) and np.isnan(out[1, 0]) and out[0, 1] == 5.0 and out[1, 1] == 9.0


def test_fixed_size_models_reject_other_sizes():
    from disdepth_core.runtime import InputSpec
    from disdepth_core.runtime.artifact import ModelMetadata

    with pytest.raises(ValueError, match="fixed input size 64x96"):
        choose_input_size(InputSpec(64, 96), ModelMetadata(), (128, 160))
