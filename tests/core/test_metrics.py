"""Metrics checked against hand-computed values on tiny images."""

from __future__ import annotations

import ast
import math
import re

import numpy as np
import pytest

from disdepth_core.metrics import (
    LOWER_IS_BETTER,
    METRIC_NAMES,
    DepthMetricsAccumulator,
    EmptyMaskError,
    compute_depth_metrics,
    eigen_crop_mask,
    format_metrics_table,
    garg_crop_mask,
    nyu_crop_mask,
)


def _assert_metrics(got: dict[str, float], expected: dict[str, float]) -> None:
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_names_and_directions() -> None:
    assert METRIC_NAMES == (
        "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "d1", "d2", "d3"
    )
    assert LOWER_IS_BETTER == {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"}


def test_all_metrics_by_hand_1x4() -> None:
    gt = np.array([[1.0, 2.0, 4.0, 10.0]])
    pred = np.array([[1.8, 2.0, 3.0, 8.0]])
    got = compute_depth_metrics(pred, gt)
    assert set(got) == set(METRIC_NAMES)

    # gt - pred = [-0.8, 0, 1, 2]
    # abs_rel = (0.8/1 + 0/2 + 1/4 + 2/10) / 4 = (0.8 + 0.25 + 0.2) / 4 = 1.25 / 4
    # sq_rel  = (0.64/1 + 0 + 1/4 + 4/10) / 4 = (0.64 + 0.25 + 0.4) / 4 = 1.29 / 4
    # rmse    = sqrt((0.64 + 0 + 1 + 4) / 4) = sqrt(1.41)
    # e = ln(pred/gt) = [ln 1.8, 0, ln 0.75, ln 0.8]
    e = [math.log(1.8), 0.0, math.log(0.75), math.log(0.8)]
    mean_e2 = (e[0] ** 2 + e[2] ** 2 + e[3] ** 2) / 4
    # sum(e) = ln(1.8 * 0.75 * 0.8) = ln 1.08
    mean_e = math.log(1.08) / 4
    # log10: |log10 1.8| + |log10 .75| + |log10 .8| = log10(1.8 / (0.75 * 0.8)) = log10 3
    # thresh = max(gt/pred, pred/gt) = [1.8, 1, 4/3, 1.25]
    #   d1 (< 1.25): only 1 -> 1/4 (1.25 itself is NOT < 1.25)
    #   d2 (< 1.5625): 1, 4/3, 1.25 -> 3/4
    #   d3 (< 1.953125): all -> 1
    _assert_metrics(
        got,
        {
            "abs_rel": 1.25 / 4,
            "sq_rel": 1.29 / 4,
            "rmse": math.sqrt(1.41),
            "rmse_log": math.sqrt(mean_e2),
            "log10": math.log10(3.0) / 4,
            "silog": 100.0 * math.sqrt(mean_e2 - mean_e**2),
            "d1": 0.25,
            "d2": 0.75,
            "d3": 1.0,
        },
    )


def test_perfect_prediction_and_batch_dim_and_float32() -> None:
    gt = np.array([[[1.0, 2.0], [3.0, 4.0]]], dtype=np.float32)  # [1, H, W]
    got = compute_depth_metrics(gt.copy(), gt[0])
    _assert_metrics(
        got,
        {"abs_rel": 0, "sq_rel": 0, "rmse": 0, "rmse_log": 0, "log10": 0, "silog": 0,
         "d1": 1, "d2": 1, "d3": 1},
    )
    assert all(isinstance(v, float) for v in got.values())


def test_prediction_clamping_inf_nan_above_max() -> None:
    gt = np.array([[5.0, 5.0, 5.0, 5.0]])
    pred = np.array([[np.inf, np.nan, 20.0, 5.0]])
    got = compute_depth_metrics(pred, gt, min_depth=1e-3, max_depth=10.0)
    # clamped pred = [10 (inf -> max), 0.001 (nan -> min), 10 (20 clipped), 5]
    # abs_rel = (5/5 + 4.999/5 + 5/5 + 0) / 4 = (1 + 0.9998 + 1) / 4 = 2.9998 / 4
    # rmse = sqrt((25 + 4.999^2 + 25 + 0) / 4)
    # thresh = [2, 5000, 2, 1] -> d1 = d2 = d3 = 1/4
    _assert_metrics(
        got,
        {
            "abs_rel": 2.9998 / 4,
            "rmse": math.sqrt((25 + 4.999**2 + 25) / 4),
            "d1": 0.25, "d2": 0.25, "d3": 0.25,
        },
    )
    # negative predictions clip to min as well
    neg = compute_depth_metrics(np.array([[-3.0]]), np.array([[1.0]]), max_depth=10.0)
    assert neg["abs_rel"] == pytest.approx(0.999)  # |1 - 0.001| / 1


def test_strict_gt_mask_boundaries() -> None:
    # gt == min and gt == max are excluded, as are 0, nan, inf and negatives.
    gt = np.array([[1e-3, 80.0, 2.0, 4.0, 0.0, np.nan, np.inf, -1.0]])
    pred = np.array([[5.0, 5.0, 2.0, 2.0, 5.0, 5.0, 5.0, 5.0]])
    got = compute_depth_metrics(pred, gt, min_depth=1e-3, max_depth=80.0)
    # only pixels (gt 2, pred 2) and (gt 4, pred 2): abs_rel = (0 + 2/4) / 2 = 0.25
    # rmse = sqrt((0 + 4) / 2) = sqrt 2;  thresh = [1, 2] -> d1 = d2 = d3 = 0.5
    _assert_metrics(got, {"abs_rel": 0.25, "rmse": math.sqrt(2.0), "d1": 0.5, "d3": 0.5})


def test_empty_mask_raises_specific_error() -> None:
    gt = np.zeros((2, 2))
    with pytest.raises(EmptyMaskError):
        compute_depth_metrics(np.ones((2, 2)), gt)
    assert issubclass(EmptyMaskError, ValueError)


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        compute_depth_metrics(np.ones((2, 3)), np.ones((3, 2)))


def test_bad_range_and_crop_rejected() -> None:
    with pytest.raises(ValueError):
        compute_depth_metrics(np.ones((2, 2)), np.ones((2, 2)), min_depth=0.0)
    with pytest.raises(ValueError, match="unknown crop"):
        compute_depth_metrics(np.ones((2, 2)), np.ones((2, 2)), crop="kb")


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def test_garg_and_eigen_crop_extents_kitti() -> None:
    # Garg on 352x1216: rows int(0.40810811*352)=int(143.65)=143 .. int(0.99189189*352)=int(349.15)=349
    #                   cols int(0.03594771*1216)=int(43.71)=43 .. int(0.96405229*1216)=int(1172.29)=1172
    garg = garg_crop_mask(352, 1216)
    assert garg.shape == (352, 1216) and garg.dtype == bool
    assert _extent(garg) == (143, 348, 43, 1171)  # stop indices are exclusive
    assert garg.sum() == (349 - 143) * (1172 - 43)
    # Eigen: rows int(0.3324324*352)=int(117.02)=117 .. int(0.91351351*352)=int(321.56)=321
    eigen = eigen_crop_mask(352, 1216)
    assert _extent(eigen) == (117, 320, 43, 1171)
    assert eigen.sum() == (321 - 117) * (1172 - 43)


def test_nyu_crop_extent_and_shape_check() -> None:
    nyu = nyu_crop_mask(480, 640)
    assert _extent(nyu) == (45, 470, 41, 600)
    assert nyu.sum() == (471 - 45) * (601 - 41)
    with pytest.raises(ValueError, match="480x640"):
        nyu_crop_mask(352, 1216)
    with pytest.raises(ValueError, match="480x640"):
        compute_depth_metrics(np.ones((4, 4)), np.ones((4, 4)), max_depth=10.0, crop="nyu")


def test_crop_is_applied_to_the_mask() -> None:
    gt = np.full((480, 640), 2.0)
    pred = np.full((480, 640), 4.0)  # wrong everywhere ...
    pred[45:471, 41:601] = 2.0  # ... except inside the NYU crop
    cropped = compute_depth_metrics(pred, gt, max_depth=10.0, crop="nyu")
    assert cropped["abs_rel"] == 0.0
    full = compute_depth_metrics(pred, gt, max_depth=10.0)
    # outside-crop fraction: 1 - 426*560/(480*640); each such pixel has abs_rel |2-4|/2 = 1
    assert full["abs_rel"] == pytest.approx(1 - 426 * 560 / (480 * 640))

    # crop leaving no valid pixel -> EmptyMaskError mentioning the crop
    gt_k = np.zeros((352, 1216))
    gt_k[:100] = 5.0  # valid rows all above the Garg crop (starts at row 143)
    with pytest.raises(EmptyMaskError, match="garg"):
        compute_depth_metrics(np.ones_like(gt_k), gt_k, crop="garg")


def test_average_is_per_image_not_pooled() -> None:
    acc = DepthMetricsAccumulator(max_depth=10.0)
    # image A: one valid pixel (gt 1, pred 2) -> abs_rel = 1
    acc.update(np.array([[2.0, 1.0, 1.0, 1.0]]), np.array([[1.0, 0.0, 0.0, 0.0]]))
    # image B (different size): four perfect pixels -> abs_rel = 0
    acc.update(np.full((2, 2), 2.0), np.full((2, 2), 2.0))
    res = acc.compute()
    # per-image mean = (1 + 0) / 2 = 0.5; pooled would have been 1 / 5 = 0.2
    assert res["abs_rel"] == pytest.approx(0.5)
    assert res["n_images"] == 2 and res["n_skipped"] == 0


def _random_batch(seed: int, b: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.5, 12.0, size=(b, 1, 6, 8))
    gt[rng.random(gt.shape) < 0.3] = 0.0  # sparse, like KITTI
    pred = gt * rng.uniform(0.7, 1.4, size=gt.shape) + 0.05
    return pred, gt


def test_accumulator_equals_direct_average_and_skips_empty() -> None:
    pred, gt = _random_batch(0)
    gt[2] = 0.0  # empty image -> skipped and counted
    acc = DepthMetricsAccumulator(max_depth=10.0)
    counted = acc.update(pred, gt)  # [B, 1, H, W]
    assert len(counted) == 3
    res = acc.compute()
    direct = [compute_depth_metrics(pred[i], gt[i], max_depth=10.0) for i in (0, 1, 3)]
    for key in METRIC_NAMES:
        assert res[key] == pytest.approx(np.mean([m[key] for m in direct]), rel=1e-12)
    assert res["n_images"] == 3 and res["n_skipped"] == 1

    acc3 = DepthMetricsAccumulator(max_depth=10.0)
    acc3.update(pred[:, 0], gt[:, 0])  # [B, H, W]
    assert acc3.compute() == res

    acc.reset()
    assert acc.n_images == 0 and math.isnan(acc.compute()["abs_rel"])


def test_accumulator_rejects_mismatched_batches() -> None:
    acc = DepthMetricsAccumulator()
    with pytest.raises(ValueError):
        acc.update(np.ones((2, 4, 4)), np.ones((3, 4, 4)))
    with pytest.raises(ValueError):
        acc.update(np.ones((2, 3, 4, 4)), np.ones((2, 3, 4, 4)))


def test_merge_and_array_round_trip() -> None:
    pred, gt = _random_batch(1, b=6)
    full = DepthMetricsAccumulator(max_depth=10.0, crop=None)
    full.update(pred, gt)
    a = DepthMetricsAccumulator(max_depth=10.0)
    b = DepthMetricsAccumulator(max_depth=10.0)
    a.update(pred[:2], gt[:2])
    b.update(pred[2:], gt[2:])

    merged = DepthMetricsAccumulator(max_depth=10.0).merge(a).merge(b)
    for key, value in full.compute().items():
        assert merged.compute()[key] == pytest.approx(value, rel=1e-12)

    # simulated all-reduce: element-wise sum of the state arrays
    summed = a.to_array() + b.to_array()
    assert summed.shape == (len(METRIC_NAMES) + 2,) and summed.dtype == np.float64
    reduced = DepthMetricsAccumulator.from_array(summed, max_depth=10.0)
    for key, value in full.compute().items():
        assert reduced.compute()[key] == pytest.approx(value, rel=1e-12)
    np.testing.assert_array_equal(
        DepthMetricsAccumulator.from_array(full.to_array(), max_depth=10.0).to_array(),
        full.to_array(),
    )

    with pytest.raises(ValueError):
        DepthMetricsAccumulator.from_array(np.zeros(3))
    with pytest.raises(ValueError, match="protocol"):
        full.merge(DepthMetricsAccumulator(max_depth=80.0))


def test_accepts_torch_tensors_without_importing_torch_in_module() -> None:
    torch = pytest.importorskip("torch")
    pred, gt = _random_batch(2, b=2)
    acc = DepthMetricsAccumulator(max_depth=10.0)
    acc.update(torch.from_numpy(pred).float(), torch.from_numpy(gt).float())
    assert acc.n_images == 2


def test_format_metrics_table_order_and_alignment() -> None:
    metrics = {name: i / 10 for i, name in enumerate(reversed(METRIC_NAMES))}
    metrics["n_images"] = 652.0
    table = format_metrics_table(metrics)
    header, values = table.split("\n")
    assert header.split() == list(METRIC_NAMES) + ["n_images"]
    assert values.split()[0] == f"{metrics['abs_rel']:.4f}"
    assert values.split()[-1] == "652"
    assert len(header) == len(values)
    # right-aligned: every header token ends where its value ends
    h_ends = [m.end() for m in re.finditer(r"\S+", header)]
    v_ends = [m.end() for m in re.finditer(r"\S+", values)]
    assert h_ends == v_ends
    with pytest.raises(ValueError):
        format_metrics_table({"foo": 1.0})


def test_metrics_module_does_not_import_torch() -> None:
    import disdepth_core.metrics as metrics_module

    with open(metrics_module.__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "torch" not in imported


def test_valid_gt_mask_is_the_pixel_set_the_metrics_score():
    from disdepth_core.metrics import valid_gt_mask

    rng = np.random.default_rng(5)
    gt = rng.uniform(0.0, 90.0, (60, 200))
    gt[0, :5] = [np.nan, np.inf, 0.0, 80.0, 1e-3]  # invalid: non-finite, zero, at either bound
    pred = rng.uniform(1.0, 70.0, gt.shape)
    mask = valid_gt_mask(gt, 1e-3, 80.0, "garg")
    assert not mask[0, :5].any() and not mask[0].any()  # row 0 lies outside the Garg crop too
    by_hand = float(np.mean(np.abs(pred[mask] - gt[mask]) / gt[mask]))
    assert compute_depth_metrics(pred, gt, 1e-3, 80.0, "garg")["abs_rel"] == pytest.approx(by_hand, rel=1e-12)
