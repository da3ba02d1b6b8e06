"""Held-out frames before and after fine-tuning, measured as the node would run the models.

Both models are loaded from their files with the runtime loader (``load_runtime``: exactly what
``disdepth node``, ``bag-eval`` and ``predict`` load) and run through the evaluator's
:class:`~disdepth_core.evaluation.Predictor` with the node's defaults: each frame resized to the
model input, no focal rescale; metrics by the standard protocol in the model's depth range, per
frame then averaged. The held-out frames are re-read from the recordings at full resolution
(not from the training cache). Each frame is scored by bag-eval's own step
(:func:`~disdepth_core.bags.bag_evaluation.score_frame`), so a frame whose ground truth has no
pixel in the range counts as one without valid ground truth, as in bag-eval. The reference is
the *set constant*: one median over all valid held-out depth pixels, predicted everywhere (no
metrics on a frame without a valid pixel either). The result is a
:class:`~disdepth_core.bags.bag_evaluation.BagEvalResult`, so the bag-eval report renders it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from disdepth_core.bags.bag_evaluation import BagEvalOptions, BagEvalResult, ModelResult, sample_thumbnails, score_frame
from disdepth_core.data.frame_cache import HELDOUT, FrameCache
from disdepth_core.data.recordings import RecordingOptions, open_recording
from disdepth_core.rgbd_recording import Recording, RgbdFrame
from disdepth_core.evaluation import EvalProtocol, Predictor, set_constant_depth
from disdepth_core.metrics import EmptyMaskError, compute_depth_metrics

MAX_GT_PIXELS = 60_000_000  # ground truth kept for the set constant (240 MB): more held-out frames are subsampled


@dataclass
class HeldoutResult:
    """The two models on the held-out frames, plus the set constant on the same frames."""

    result: BagEvalResult
    constant_depth: float
    constant_metrics: list[Optional[dict[str, float]]] = field(default_factory=list)  # None: no valid GT pixel
    heldout_total: int = 0

    def constant_mean(self) -> dict[str, float]:
        """The set constant's metrics averaged over the frames it could be scored on."""
        scored = [m for m in self.constant_metrics if m is not None]
        keys = scored[0].keys() if scored else []
        return {key: float(np.mean([m[key] for m in scored])) for key in keys}


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
    result = BagEvalResult(", ".join(sources), "", BagEvalOptions(
        image_topic=options.image_topic or "colour images", depth_topic=options.depth_topic or "depth images",
        info_topic=cache.manifest["camera_sources"][0], max_dt=options.max_dt, samples=samples, progress=progress),
        protocol, [ModelResult(label, predictor, protocol.accumulator()) for label, predictor in predictors])
    sample_at = set(np.linspace(0, max(total - 1, 0), num=min(samples, total)).round().astype(int).tolist()) if total else set()
    first_stamp = {number: min(f["stamp_ns"] for f in cache.frames if f["source"] == number) for number in wanted}
    gts: list[np.ndarray] = []
    storages: set[str] = set()
    start = time.perf_counter()
    bar = tqdm(total=total, desc="held-out frames", unit="frame", disable=not progress, dynamic_ncols=True)
    for number, source in enumerate(sources):
        if not wanted.get(number):
            continue
        with open_recording(source, options) as recording:
            storages.add(_storage(recording))
            for frame in recording.frames(wanted[number]):
                bar.update(1)
                if not isinstance(frame, RgbdFrame):
                    result.skipped[frame.reason] += 1
                    continue
                row = {"index": frame.index, "stamp_ns": frame.stamp_ns, "gt_dt_ms": None, "decode_ms": 0.0, "has_gt": False,
                       "source": number, "t_s": (frame.stamp_ns - first_stamp[number]) / 1e9}
                predicted = score_frame(result, row, frame.rgb, frame.depth, frame.K)
                result.images_read += 1
                if len(result.frames) - 1 in sample_at:
                    result.samples.append(sample_thumbnails(frame.rgb, frame.depth, [p.depth for p in predicted], frame.index,
                                                            frame.stamp_ns))
                gts.append(frame.depth)
    bar.close()
    result.wall_s = time.perf_counter() - start
    result.storage = "+".join(sorted(storages))
    if result.gt_without_valid_pixels:
        result.warnings.append(f"{result.gt_without_valid_pixels} of {len(result.frames)} held-out frames have no ground-truth "
                               f"pixel inside the evaluation range {protocol.min_depth:g}..{protocol.max_depth:g} m and "
                               "were not scored")
    try:
        constant = set_constant_depth(gts, protocol)
        constant_metrics = [constant_frame_metrics(constant, gt, protocol) for gt in gts]
    except ValueError:  # no held-out pixel in range at all: no constant to compare with (the warning above says why)
        constant, constant_metrics = float("nan"), [None] * len(gts)
    held_total = len(cache.indices(HELDOUT))
    if total < held_total:
        log(f"[report] {total} of {held_total} held-out frames evaluated (evenly spaced; the ground truth kept for the "
            "set constant is capped)")
    return HeldoutResult(result, constant, constant_metrics, held_total)


def constant_frame_metrics(constant: float, gt: np.ndarray, protocol: EvalProtocol) -> Optional[dict[str, float]]:
    """The set constant's metrics on one frame, or None when the protocol scores none of its pixels
    (its depth is all missing or outside the range), as the models' per-frame metrics are."""
    try:
        return compute_depth_metrics(np.full_like(gt, constant), gt, protocol.min_depth, protocol.max_depth, protocol.crop)
    except EmptyMaskError:
        return None


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


def _storage(recording: Recording) -> str:
    """What the report names the recording's storage: the bag's ('sqlite3' or 'mcap') or 'images'."""
    from disdepth_core.bags.rgbd_frames import BagRecording

    return recording.bag.storage if isinstance(recording, BagRecording) else "images"
