"""The one evaluator: training validation, `disdepth eval` and bag-eval share predictor and protocol."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.evaluation import EvalProtocol, Predictor
from disdepth_core.runtime import load_runtime
from disdepth_core.runtime.base import InputSpec


def test_training_validation_is_the_full_resolution_protocol(synthetic_root, tiny_checkpoint):
    """evaluate_model (the trainer's validation, through the core Predictor with flip TTA) == a
    direct forward pass at full size averaged with its un-flipped flip pass, pasted and scored."""
    import torch

    from disdepth_core.data.dataset_config import DatasetConfig
    from disdepth_core.data.depth_dataset import build_dataset
    from disdepth_core.evaluation import paste_prediction
    from disdepth_core.metrics import DepthMetricsAccumulator
    from disdepth_core.models.checkpoint import load_model
    from training.validation import evaluate_model

    root = synthetic_root / "kitti"  # KB crop box inside a larger GT frame, Garg crop
    data = DatasetConfig(name="kitti", data_root=str(root / "raw"), gt_root=str(root / "gt"),
                         test_split=str(root / "splits" / "test.txt"), train_split=str(root / "splits" / "test.txt"),
                         resize_scale=0.25)
    model, _ = load_model(tiny_checkpoint)
    model.train()
    got = evaluate_model(model, data, flip_tta=True, progress=False)
    assert model.training  # validation puts the model back in training mode
    reference = DepthMetricsAccumulator(data.min_depth, data.max_depth, data.eval_crop)
    model.eval()
    for sample in build_dataset(data, "eval"):
        image = sample["image"][None]
        with torch.no_grad():
            depth = 0.5 * (model(image) + torch.flip(model(torch.flip(image, dims=[3])), dims=[3]))
        pred = depth[0, 0].numpy()
        reference.update(paste_prediction(pred, sample["depth"].shape[1:], sample["crop_box"]), sample["depth"][0].numpy())
    expected = reference.compute()
    assert got["n_images"] == expected["n_images"] == 4
    for name in ("abs_rel", "rmse", "silog", "d1"):
        assert got[name] == pytest.approx(expected[name], rel=1e-5), name


def test_predictor_resolutions(tiny_checkpoint):
    runtime = load_runtime(tiny_checkpoint)
    rgb = np.random.default_rng(2).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    resized, full = Predictor(runtime), Predictor(runtime, full_resolution=True)
    assert resized.resolution == "model input 64x96 (resize)" and full.resolution == "full resolution"
    depth, timings = full.predict_timed(rgb)
    assert depth.shape == (50, 70) and np.isfinite(depth).all() and timings["inference"] > 0
    assert resized(rgb).shape == (50, 70)
    runtime.input_spec = InputSpec(64, 96)  # as a fixed-shape ONNX/TensorRT model reports itself
    with pytest.raises(ValueError, match="full-resolution evaluation needs a dynamic-shape model"):
        Predictor(runtime, full_resolution=True)


def test_protocol_rejects_bad_settings():
    with pytest.raises(ValueError, match="0 < min_depth < max_depth"):
        EvalProtocol(min_depth=5.0, max_depth=1.0)
    with pytest.raises(ValueError, match="unknown evaluation crop 'middle'"):
        EvalProtocol(crop="middle")
    assert EvalProtocol(0.1, 10.0).accumulator().update(np.ones((4, 4)), np.zeros((4, 4))) == []  # no valid GT: skipped
