"""What a bag evaluation produced, as data: the ``metrics.json`` summary and the per-frame CSV rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from disdepth_core.metrics import METRIC_NAMES

from .bag_evaluation import BagEvalResult


def summary(result: BagEvalResult) -> dict[str, Any]:
    """The content of metrics.json: settings, frame counts, overall metrics, latency, depth statistics."""
    def latency(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        arr = np.asarray(values)
        return {"mean": float(arr.mean()), "p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)),
                "max": float(arr.max())}

    models = []
    for model in result.models:
        medians = np.asarray([m for m in model.median_depth if np.isfinite(m)])
        # Metrics only when some frame was scored: no NaN placeholders in metrics.json.
        scored = bool(result.options.depth_topic and model.accumulator.n_images)
        overall = model.accumulator.compute() if scored else {}
        extras = {"confidence_sparsification": model.sparsification.compute()}
        if model.tracker is not None:
            extras["unanchored_metrics"] = model.unanchored.compute() if scored and model.unanchored.n_images else {}
            extras["scale"] = scale_summary(model.scales)
        models.append({"label": model.label, **model.predictor.describe(), "metrics": overall, **extras,
                       "latency_ms": latency(model.latency_ms), "inference_ms": latency(model.inference_ms),
                       "depth_stats": {"median_of_frame_medians_m": float(np.median(medians)) if medians.size else None,
                                       "p5_frame_median_m": float(np.percentile(medians, 5)) if medians.size else None,
                                       "p95_frame_median_m": float(np.percentile(medians, 95)) if medians.size else None,
                                       "mean_valid_fraction": float(np.mean(model.valid_fraction)) if model.valid_fraction else None}})
    options = result.options
    return {
        "bag": result.bag, "storage": result.storage,
        "topics": {"image": options.image_topic, "depth": options.depth_topic, "camera_info": options.info_topic},
        "protocol": {"min_depth": result.protocol.min_depth, "max_depth": result.protocol.max_depth,
                     "crop": result.protocol.crop, "max_dt_s": options.max_dt, "averaging": "per image, then mean"},
        "resolution": result.models[0].predictor.resolution,
        "frame_count": len(result.frames),
        "frames": {"images_read": result.images_read, "evaluated": len(result.frames),
                   "with_ground_truth": sum(1 for f in result.frames if f["has_gt"]), "without_ground_truth": result.without_gt,
                   "ground_truth_without_valid_pixels": result.gt_without_valid_pixels,
                   "skipped": sum(result.skipped.values()), "skipped_reasons": dict(result.skipped)},
        "camera_info": {"rejected": dict(result.rejected_info), "frames_without_valid": result.without_camera}
        if options.info_topic else None,
        "models": models,
        "metrics": models[0]["metrics"],
        "anchor": anchor_summary(result),
        "confidence_sparsification": models[0]["confidence_sparsification"],
        "stage_seconds": {k: round(v, 4) for k, v in result.stage_s.items()}, "wall_seconds": round(result.wall_s, 3),
        "warnings": list(result.warnings),
    }


def scale_summary(scales: list[tuple[float, str]]) -> dict[str, Any]:
    """The anchor's scales over the run: how many frames each source gave, and their spread."""
    values = np.asarray([scale for scale, _ in scales], dtype=np.float64)
    sources = Counter(source for _, source in scales)
    stats = {f"p{q}": float(np.percentile(values, q)) for q in (5, 50, 95)} if values.size else {}
    return {"frames_by_source": dict(sources), **stats}


def anchor_summary(result: BagEvalResult) -> dict[str, Any]:
    """metrics.json's ``anchor``: the mode and its settings (the node's defaults); ``metrics`` are the anchored ones."""
    settings = result.options.anchor
    if settings.mode == "none":
        return {"mode": "none"}
    return {"mode": settings.mode, "sparse_depth_topic": result.options.sparse_topic,
            "camera_height_m": settings.camera_height or None, "time_constant_s": settings.time_constant,
            "max_age_s": settings.max_age, "hold_s": settings.hold, "min_points": settings.min_points,
            "metrics": "anchored (unanchored_metrics: the same inferences without the scale)"}


def frame_rows(result: BagEvalResult) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the per-frame CSV (one row per evaluated frame, columns per model)."""
    header = ["index", "stamp_s", "gt_dt_ms", "decode_ms"]
    for model in result.models:
        prefix = "" if len(result.models) == 1 else f"{model.label}:"
        header += [prefix + name for name in METRIC_NAMES] + [prefix + "latency_ms", prefix + "inference_ms",
                                                              prefix + "median_depth_m", prefix + "valid_fraction"]
        if model.tracker is not None:
            header += [prefix + "scale", prefix + "scale_source"]
    rows = []
    for i, frame in enumerate(result.frames):
        row: list[Any] = [frame["index"], f"{frame['stamp_ns'] / 1e9:.9f}",
                          "" if frame["gt_dt_ms"] is None else f"{frame['gt_dt_ms']:.3f}", f"{frame['decode_ms']:.3f}"]
        for model in result.models:
            metrics = model.metrics[i]
            row += ["" if metrics is None else f"{metrics[name]:.6f}" for name in METRIC_NAMES]
            row += [f"{model.latency_ms[i]:.3f}", f"{model.inference_ms[i]:.3f}", f"{model.median_depth[i]:.4f}",
                    f"{model.valid_fraction[i]:.4f}"]
            if model.tracker is not None:
                row += [f"{model.scales[i][0]:.5f}", model.scales[i][1]]
        rows.append(row)
    return header, rows
