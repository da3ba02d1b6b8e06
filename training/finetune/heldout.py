"""Held-out frames before and after fine-tuning, measured as the node would run the models.

Both models are loaded from their files with the runtime loader (``load_runtime``: exactly what
``disdepth node``, ``bag-eval`` and ``predict`` load) and run through the evaluator's
:class:`~disdepth_core.evaluation.Predictor` with the node's defaults: each frame resized to the
model input, no focal rescale; metrics by the standard protocol in the model's depth range, per
frame then averaged. The held-out frames are re-read from the recordings at full resolution
(not from the training cache). The reference is the *set constant*: one median over all valid
held-out depth pixels, predicted everywhere. The result is a
:class:`~disdepth_core.bags.bag_evaluation.BagEvalResult`, so the bag-eval report renders it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import cv2
import numpy as np

from disdepth_core.bags.bag_evaluation import SAMPLE_WIDTH, BagEvalOptions, BagEvalResult, ModelResult
from disdepth_core.data.frame_cache import HELDOUT, FrameCache
from disdepth_core.data.recordings import RecordingOptions, open_recording
from disdepth_core.rgbd_recording import RgbdFrame
from disdepth_core.evaluation import EvalProtocol, Predictor
from disdepth_core.metrics import compute_depth_metrics, valid_gt_mask

MAX_GT_PIXELS = 60_000_000  # ground truth kept for the set constant (240 MB): more held-out frames are subsampled


@dataclass
class HeldoutResult:
    """The two models on the held-out frames, plus the set constant on the same frames."""

    result: BagEvalResult
    constant_depth: float
    constant_metrics: list[dict[str, float]] = field(default_factory=list)
    heldout_total: int = 0

    def constant_mean(self) -> dict[str, float]:
        keys = self.constant_metrics[0].keys() if self.constant_metrics else []
        return {key: float(np.mean([m[key] for m in self.constant_metrics])) for key in keys}


def evaluate_heldout(cache: FrameCache, options: RecordingOptions, models: list[tuple[str, str]], samples: int = 6,
                     progress: bool = True, log: Callable[[str], None] = print) -> HeldoutResult:
    """Run ``models`` ((label, file) pairs, the first is "before") on the cache's held-out frames."""
    from tqdm import tqdm

    from disdepth_core.runtime import load_runtime

    predictors = [(label, Predictor(load_runtime(path, backend="torch", device="cpu"))) for label, path in models]
    metadata = predictors[0][1].runtime.metadata
    protocol = EvalProtocol(min_depth=metadata.min_depth, max_depth=metadata.max_depth)
    wanted = _report_frames(cache)
    total = sum(len(v) for v in wanted.values())
    sources = cache.manifest["sources"]
    result = BagEvalResult(", ".join(sources), _storage(sources), BagEvalOptions(
        image_topic=options.image_topic or "colour images", depth_topic=options.depth_topic or "depth images",
        info_topic=cache.manifest["camera_sources"][0], max_dt=options.max_dt, samples=samples, progress=progress),
        protocol, [ModelResult(label, predictor, protocol.accumulator()) for label, predictor in predictors])
    sample_at = set(np.linspace(0, max(total - 1, 0), num=min(samples, total)).round().astype(int).tolist()) if total else set()
    first_stamp = {number: min(f["stamp_ns"] for f in cache.frames if f["source"] == number) for number in wanted}
    gts: list[np.ndarray] = []
    start = time.perf_counter()
    bar = tqdm(total=total, desc="held-out frames", unit="frame", disable=not progress, dynamic_ncols=True)
    for number, source in enumerate(sources):
        if not wanted.get(number):
            continue
        with open_recording(source, options) as recording:
            for frame in recording.frames(wanted[number]):
                bar.update(1)
                if not isinstance(frame, RgbdFrame):
                    result.skipped[frame.reason] += 1
                    continue
                preds = _run_models(result, frame)
                result.frames[-1].update(source=number, t_s=(frame.stamp_ns - first_stamp[number]) / 1e9)
                result.images_read += 1
                if len(result.frames) - 1 in sample_at:
                    result.samples.append(_sample(frame, preds))
                gts.append(frame.depth)
    bar.close()
    result.wall_s = time.perf_counter() - start
    constant = set_constant(gts, protocol)
    constant_metrics = [compute_depth_metrics(np.full_like(gt, constant), gt, protocol.min_depth, protocol.max_depth, None)
                        for gt in gts]
    held_total = len(cache.indices(HELDOUT))
    if total < held_total:
        log(f"[report] {total} of {held_total} held-out frames evaluated (evenly spaced; the ground truth kept for the "
            "set constant is capped)")
    return HeldoutResult(result, constant, constant_metrics, held_total)


def set_constant(gts: list[np.ndarray], protocol: EvalProtocol) -> float:
    """The median of every valid ground-truth pixel of the set (the protocol's valid mask)."""
    values = [gt[valid_gt_mask(gt, protocol.min_depth, protocol.max_depth, protocol.crop)] for gt in gts]
    values = [v for v in values if v.size]
    return float(np.median(np.concatenate(values))) if values else float("nan")


def _report_frames(cache: FrameCache) -> dict[int, set[int]]:
    """Held-out frame indices per recording, evenly thinned when their ground truth would not fit."""
    held = [cache.frames[i] for i in cache.indices(HELDOUT)]
    height, width = cache.manifest["source_hw"]
    keep = max(1, MAX_GT_PIXELS // (height * width))
    if len(held) > keep:
        held = [held[i] for i in np.linspace(0, len(held) - 1, keep).round().astype(int)]
    wanted: dict[int, set[int]] = defaultdict(set)
    for frame in held:
        wanted[frame["source"]].add(int(frame["index"]))
    return wanted


def _storage(sources: list[str]) -> str:
    from pathlib import Path

    from disdepth_core.data.recordings import is_rosbag

    kinds = {("mcap" if any(Path(s).rglob("*.mcap")) or s.endswith(".mcap") else "sqlite3") if is_rosbag(Path(s)) else "images"
             for s in sources}
    return "+".join(sorted(kinds))


def _run_models(result: BagEvalResult, frame: RgbdFrame) -> list[np.ndarray]:
    result.frames.append({"index": frame.index, "stamp_ns": frame.stamp_ns, "gt_dt_ms": None, "decode_ms": 0.0, "has_gt": True})
    preds = []
    for model in result.models:
        t0 = time.perf_counter()
        pred, timings = model.predictor.predict_timed(frame.rgb, frame.K)
        latency = time.perf_counter() - t0
        counted = model.accumulator.update(pred, frame.depth)
        model.metrics.append(counted[0] if counted else None)
        model.latency_ms.append(latency * 1e3)
        model.inference_ms.append(timings.get("inference", 0.0) * 1e3)
        sub = pred[::4, ::4]
        valid = np.isfinite(sub) & (sub > 0)
        model.median_depth.append(float(np.median(sub[valid])) if valid.any() else float("nan"))
        model.valid_fraction.append(float(valid.mean()))
        preds.append(pred)
    return preds


def _sample(frame: RgbdFrame, preds: list[np.ndarray]) -> dict[str, Any]:
    """Report thumbnails (nearest for depth, so invalid pixels stay invalid)."""
    scale = min(1.0, SAMPLE_WIDTH / frame.rgb.shape[1])
    size = (max(1, round(frame.rgb.shape[1] * scale)), max(1, round(frame.rgb.shape[0] * scale)))

    def shrink(depth: Optional[np.ndarray]) -> Optional[np.ndarray]:
        return None if depth is None else cv2.resize(depth.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)

    gt = np.where(frame.depth > 0, frame.depth, np.nan).astype(np.float32)
    return {"index": frame.index, "stamp_ns": frame.stamp_ns, "rgb": cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA),
            "gt": shrink(gt), "preds": [shrink(p) for p in preds]}
