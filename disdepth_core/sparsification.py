"""Confidence sparsification: is the model's confidence worth anything? (``bag-eval``'s ``confidence_sparsification``)

Sort a frame's valid pixels by confidence, keep the most confident fraction ``c``, and score
abs_rel on those only. A useful confidence makes the error fall as ``c`` shrinks (the unsure
pixels were the wrong ones); a useless one leaves it flat. Per frame, then averaged over frames,
under the evaluation protocol (valid ground truth strictly inside the range and the crop,
predictions clamped into the range), for ``c`` in 1.0, 0.75, 0.5 and 0.25.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from disdepth_core.metrics import valid_gt_mask

COVERAGES = (1.0, 0.75, 0.5, 0.25)


def frame_sparsification(pred: np.ndarray, gt: np.ndarray, confidence: np.ndarray, min_depth: float, max_depth: float,
                         crop: Optional[str] = None, coverages: Sequence[float] = COVERAGES) -> Optional[list[float]]:
    """abs_rel over the most confident ``c`` of the frame's scored pixels, for each ``c``; None without any.

    Pixels without a finite confidence are scored as the least confident (a model cannot claim
    them); ties keep image order (a stable sort), so the result is deterministic.
    """
    valid = valid_gt_mask(gt, min_depth, max_depth, crop)
    if not valid.any():
        return None
    g = gt[valid].astype(np.float64)
    p = np.nan_to_num(pred[valid].astype(np.float64), nan=min_depth, posinf=max_depth, neginf=min_depth)
    p = np.clip(p, min_depth, max_depth)
    error = np.abs(p - g) / g
    c = np.nan_to_num(confidence[valid].astype(np.float64), nan=-np.inf)
    order = np.argsort(-c, kind="stable")
    return [float(error[order[:max(1, int(round(coverage * error.size)))]].mean()) for coverage in coverages]


class SparsificationAccumulator:
    """Per-frame curves summed, averaged by :meth:`compute` into ``[{"coverage": c, "abs_rel": x}, ...]``."""

    def __init__(self, coverages: Sequence[float] = COVERAGES) -> None:
        self.coverages = tuple(coverages)
        self._sums = np.zeros(len(self.coverages))
        self.frames = 0

    def add(self, curve: Optional[list[float]]) -> None:
        if curve is not None:
            self._sums += np.asarray(curve)
            self.frames += 1

    def compute(self) -> Optional[list[dict[str, float]]]:
        if not self.frames:
            return None
        return [{"coverage": c, "abs_rel": float(s / self.frames)} for c, s in zip(self.coverages, self._sums)]
