"""Standard monocular-depth evaluation metrics (numpy only).

The protocol follows the BTS / AdaBins / NeWCRFs evaluation code the DisDepth paper compares
against, because numbers are only comparable when clamping, the valid-GT mask, crops and the
averaging order all match:

* predictions are clamped to ``[min_depth, max_depth]``; ``+inf -> max``, ``nan -> min``;
* a GT pixel is valid iff it is finite and ``min_depth < gt < max_depth`` (strict);
* the optional crop (Garg / Eigen for KITTI, Eigen-NYU) is applied to that mask;
* metrics are computed per image and then averaged over images (not pooled over pixels).

This module deliberately does not import torch so the ROS / runtime side can use it; torch
tensors are still accepted (they are converted through ``.detach().cpu().numpy()``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "METRIC_NAMES",
    "LOWER_IS_BETTER",
    "HIGHER_IS_BETTER",
    "EmptyMaskError",
    "garg_crop_mask",
    "eigen_crop_mask",
    "nyu_crop_mask",
    "valid_gt_mask",
    "compute_depth_metrics",
    "DepthMetricsAccumulator",
    "format_metrics_table",
]

#: Column order used by the papers' tables and by :func:`format_metrics_table`.
METRIC_NAMES: tuple[str, ...] = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "silog",
    "d1",
    "d2",
    "d3",
)

#: Error metrics; the threshold accuracies d1/d2/d3 are the only higher-is-better ones.
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog"}
)
HIGHER_IS_BETTER: frozenset[str] = frozenset({"d1", "d2", "d3"})

CROPS: tuple[str, ...] = ("garg", "eigen", "nyu")

# Fractional crop boxes (row_start, row_stop, col_start, col_stop) from the BTS/AdaBins eval code.
_GARG_FRACTIONS = (0.40810811, 0.99189189, 0.03594771, 0.96405229)
_EIGEN_FRACTIONS = (0.3324324, 0.91351351, 0.0359477, 0.96405229)
# NYU Eigen crop in absolute pixels of the 480x640 image.
_NYU_BOX = (45, 471, 41, 601)
_NYU_SHAPE = (480, 640)


class EmptyMaskError(ValueError):
    """Raised when an image has no valid GT pixel after masking and cropping.

    A dedicated type lets :class:`DepthMetricsAccumulator` skip (and count) such images
    without swallowing genuine errors such as shape mismatches.
    """


# --------------------------------------------------------------------------------------------
# Crop masks
# --------------------------------------------------------------------------------------------
def _check_hw(h: int, w: int) -> tuple[int, int]:
    h, w = int(h), int(w)
    if h <= 0 or w <= 0:
        raise ValueError(f"crop mask needs a positive image size, got h={h}, w={w}")
    return h, w


def _fractional_mask(h: int, w: int, fractions: tuple[float, float, float, float]) -> np.ndarray:
    h, w = _check_hw(h, w)
    r0, r1, c0, c1 = fractions
    mask = np.zeros((h, w), dtype=bool)
    mask[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)] = True
    return mask


def garg_crop_mask(h: int, w: int) -> np.ndarray:
    """Boolean [h, w] mask of the Garg crop (the usual KITTI Eigen-split evaluation crop).

    Computed from the GT's own size with the fractional formula, so it works for any KITTI
    drive resolution (they differ by a few pixels).
    """
    return _fractional_mask(h, w, _GARG_FRACTIONS)


def eigen_crop_mask(h: int, w: int) -> np.ndarray:
    """Boolean [h, w] mask of the Eigen crop (the alternative KITTI crop), fractional formula."""
    return _fractional_mask(h, w, _EIGEN_FRACTIONS)


def nyu_crop_mask(h: int, w: int) -> np.ndarray:
    """Boolean [h, w] mask of the NYU Eigen crop, rows 45:471 and cols 41:601.

    The box is absolute pixels of the 480x640 NYU frame; applying it to any other size would
    silently evaluate a different region, so other sizes raise ``ValueError``.
    """
    h, w = _check_hw(h, w)
    if (h, w) != _NYU_SHAPE:
        raise ValueError(
            f"the NYU crop is defined for 480x640 ground truth only, got {h}x{w}; "
            "evaluate NYU at full resolution (upsample the prediction to the GT size first)"
        )
    r0, r1, c0, c1 = _NYU_BOX
    mask = np.zeros((h, w), dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


_CROP_FUNCS = {"garg": garg_crop_mask, "eigen": eigen_crop_mask, "nyu": nyu_crop_mask}


def _crop_mask(crop: str | None, h: int, w: int) -> np.ndarray | None:
    if crop is None:
        return None
    try:
        func = _CROP_FUNCS[crop]
    except KeyError:
        raise ValueError(f"unknown crop {crop!r}; expected None or one of {CROPS}") from None
    return func(h, w)


def valid_gt_mask(gt: np.ndarray, min_depth: float, max_depth: float, crop: str | None = None) -> np.ndarray:
    """The ground-truth pixels the protocol scores: finite, strictly inside (min, max), inside ``crop``.

    The same rule :func:`compute_depth_metrics` applies row block by row block, for callers that
    need the pixel set itself (baselines such as the best constant, depth statistics).
    """
    g = np.asarray(gt, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(g) & (g > min_depth) & (g < max_depth)
    crop_mask = _crop_mask(crop, *g.shape)
    return mask if crop_mask is None else mask & crop_mask


# --------------------------------------------------------------------------------------------
# Per-image metrics
# --------------------------------------------------------------------------------------------
def _to_numpy(x: Any) -> np.ndarray:
    """Convert numpy-likes and torch tensors (duck-typed, no torch import) to ndarray."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        try:
            x = x.numpy()
        except TypeError:  # e.g. bfloat16 has no numpy dtype
            x = x.float().numpy()
    return np.asarray(x)


def _as_image(x: np.ndarray) -> np.ndarray:
    """Accept [H, W] or [1, H, W] and return the [H, W] view."""
    if x.ndim == 3 and x.shape[0] == 1:
        return x[0]
    return x


def _check_range(min_depth: float, max_depth: float) -> tuple[float, float]:
    min_depth, max_depth = float(min_depth), float(max_depth)
    if not (np.isfinite(min_depth) and np.isfinite(max_depth)):
        raise ValueError(f"depth range must be finite, got [{min_depth}, {max_depth}]")
    if not 0.0 < min_depth < max_depth:
        raise ValueError(
            f"need 0 < min_depth < max_depth (logs are taken), got [{min_depth}, {max_depth}]"
        )
    return min_depth, max_depth


def compute_depth_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    crop: str | None = None,
) -> dict[str, float]:
    """Metrics of ONE image, keys :data:`METRIC_NAMES`, following the standard protocol.

    ``pred`` and ``gt`` are [H, W] (or [1, H, W]) metric depths at the same resolution; the
    prediction must already be pasted back / resized to the GT's size. Computation is float64
    so float32 inputs do not lose precision in the sums.

    Raises:
        ValueError: shapes differ or are not images, bad depth range or unknown crop.
        EmptyMaskError: no valid GT pixel remains (callers that average may skip the image).
    """
    min_depth, max_depth = _check_range(min_depth, max_depth)
    pred_arr = _to_numpy(pred)
    gt_arr = _to_numpy(gt)
    pred_img = _as_image(pred_arr)
    gt_img = _as_image(gt_arr)
    if pred_img.ndim != 2 or gt_img.ndim != 2 or pred_img.shape != gt_img.shape:
        raise ValueError(
            "pred and gt must both be [H, W] or [1, H, W] with the same H, W; "
            f"got pred {tuple(pred_arr.shape)} and gt {tuple(gt_arr.shape)}"
        )

    crop_mask = _crop_mask(crop, *gt_img.shape)
    # Row blocks keep every temporary in the CPU cache (full-resolution frames stay cheap next
    # to inference); the sums are exact float64 sums over the same pixels either way.
    pred_img = np.asarray(pred_img)
    rows = max(1, _BLOCK_PIXELS // max(1, gt_img.shape[1]))
    sums = np.zeros(9, dtype=np.float64)
    count = 0
    for top in range(0, gt_img.shape[0], rows):
        g = np.asarray(gt_img[top:top + rows], dtype=np.float64)  # compare in float64 whatever the input
        with np.errstate(invalid="ignore"):
            mask = np.isfinite(g) & (g > min_depth) & (g < max_depth)
        if crop_mask is not None:
            mask &= crop_mask[top:top + rows]
        g = g[mask]
        if not g.size:
            continue
        # Protocol: nan -> min, +inf -> max, everything clamped into [min, max] (valid pixels only).
        p = pred_img[top:top + rows][mask].astype(np.float64)
        p[np.isnan(p)] = min_depth
        np.clip(p, min_depth, max_depth, out=p)
        sums += _metric_sums(p, g)
        count += g.size
    if count == 0:
        reason = "after the crop " + repr(crop) if crop is not None else "(no crop)"
        raise EmptyMaskError(
            f"no valid GT pixel with {min_depth} < gt < {max_depth} {reason} "
            f"in a {gt_img.shape[0]}x{gt_img.shape[1]} image"
        )
    return _metrics_from_sums(sums, count)


_BLOCK_PIXELS = 16384


def _metric_sums(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Sums of |rel|, diff*rel, diff^2, e, e^2, |e| and the d1/d2/d3 counts over valid float64 pixels.

    One logarithm per pixel (``e = ln(p / g)``; log10 and rmse_log derive from it); the
    thresholds keep the exact ``max(g / p, p / g)`` comparison.
    """
    ratio = p / g
    thresh = np.maximum(ratio, g / p)
    diff = g - p
    rel = diff / g
    e = np.log(ratio, out=ratio)
    return np.array([np.abs(rel).sum(), np.einsum("i,i->", diff, rel), np.einsum("i,i->", diff, diff), e.sum(),
                     np.einsum("i,i->", e, e), np.abs(e).sum(), np.count_nonzero(thresh < 1.25),
                     np.count_nonzero(thresh < 1.25**2), np.count_nonzero(thresh < 1.25**3)], dtype=np.float64)


def _metrics_from_sums(sums: np.ndarray, n: int) -> dict[str, float]:
    abs_rel, sq_rel, sq_diff, mean_e, mean_e2, mean_abs_e, d1, d2, d3 = (float(v) / n for v in sums)
    silog_var = max(mean_e2 - mean_e**2, 0.0)  # rounding can go < 0
    return {
        "abs_rel": abs_rel,
        "sq_rel": sq_rel,
        "rmse": math.sqrt(sq_diff),
        "rmse_log": math.sqrt(mean_e2),
        "log10": mean_abs_e / math.log(10.0),
        "silog": 100.0 * math.sqrt(silog_var),
        "d1": d1,
        "d2": d2,
        "d3": d3,
    }


# --------------------------------------------------------------------------------------------
# Accumulation over a dataset
# --------------------------------------------------------------------------------------------
def _as_batch(x: np.ndarray, name: str) -> np.ndarray:
    """Accept [H, W], [B, H, W] or [B, 1, H, W] and return [B, H, W]."""
    if x.ndim == 2:
        return x[None]
    if x.ndim == 3:
        return x
    if x.ndim == 4 and x.shape[1] == 1:
        return x[:, 0]
    raise ValueError(
        f"{name} must be [H, W], [B, H, W] or [B, 1, H, W], got shape {tuple(x.shape)}"
    )


class DepthMetricsAccumulator:
    """Running per-image-averaged metrics over a dataset.

    Keeps only sums of per-image metrics plus counts, so memory is constant and the state of
    several workers can be combined exactly. For distributed evaluation::

        arr = torch.from_numpy(acc.to_array())   # float64 [len(METRIC_NAMES) + 2]
        torch.distributed.all_reduce(arr)         # SUM
        total = DepthMetricsAccumulator.from_array(arr.numpy(), max_depth=80.0, crop="garg")
        print(total.compute())

    Layout of the array: the sums of each metric in :data:`METRIC_NAMES` order, then the
    number of images used, then the number of skipped (empty-mask) images. Sums add, so a
    plain element-wise SUM reduction is correct.
    """

    ARRAY_LENGTH = len(METRIC_NAMES) + 2

    def __init__(
        self, min_depth: float = 1e-3, max_depth: float = 80.0, crop: str | None = None
    ) -> None:
        self.min_depth, self.max_depth = _check_range(min_depth, max_depth)
        if crop is not None and crop not in CROPS:
            raise ValueError(f"unknown crop {crop!r}; expected None or one of {CROPS}")
        self.crop = crop
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated (e.g. at the start of each validation epoch)."""
        self._sums = np.zeros(len(METRIC_NAMES), dtype=np.float64)
        self.n_images = 0
        self.n_skipped = 0

    def update(self, pred: Any, gt: Any) -> list[dict[str, float]]:
        """Add one image or a batch; returns the per-image metrics that were counted.

        Images whose mask is empty are skipped and counted in ``n_skipped`` rather than raising,
        because one GT-less frame should not abort a whole evaluation run.
        """
        pred_b = _as_batch(_to_numpy(pred), "pred")
        gt_b = _as_batch(_to_numpy(gt), "gt")
        if pred_b.shape != gt_b.shape:
            raise ValueError(
                f"pred and gt batches differ: pred {tuple(np.shape(pred))} vs gt {tuple(np.shape(gt))}"
            )
        counted: list[dict[str, float]] = []
        for p, g in zip(pred_b, gt_b):
            try:
                m = compute_depth_metrics(p, g, self.min_depth, self.max_depth, self.crop)
            except EmptyMaskError:
                self.n_skipped += 1
                continue
            self._sums += np.array([m[k] for k in METRIC_NAMES], dtype=np.float64)
            self.n_images += 1
            counted.append(m)
        return counted

    def compute(self) -> dict[str, float]:
        """Mean of the per-image metrics, plus ``n_images`` and ``n_skipped``.

        With no counted image the metrics are NaN (not an exception) so a validation loop
        logs an obviously-wrong value instead of crashing mid-training.
        """
        if self.n_images > 0:
            means = self._sums / self.n_images
        else:
            means = np.full(len(METRIC_NAMES), np.nan)
        out: dict[str, float] = {k: float(v) for k, v in zip(METRIC_NAMES, means)}
        out["n_images"] = float(self.n_images)
        out["n_skipped"] = float(self.n_skipped)
        return out

    def merge(self, other: DepthMetricsAccumulator) -> DepthMetricsAccumulator:
        """Add another accumulator's state into this one (in place); returns ``self``.

        Both must use the same protocol, otherwise the average would mix incomparable values.
        """
        if not isinstance(other, DepthMetricsAccumulator):
            raise TypeError(f"can only merge a DepthMetricsAccumulator, got {type(other).__name__}")
        if (other.min_depth, other.max_depth, other.crop) != (
            self.min_depth,
            self.max_depth,
            self.crop,
        ):
            raise ValueError(
                "cannot merge accumulators with different protocols: "
                f"{(self.min_depth, self.max_depth, self.crop)} vs "
                f"{(other.min_depth, other.max_depth, other.crop)}"
            )
        self._sums += other._sums
        self.n_images += other.n_images
        self.n_skipped += other.n_skipped
        return self

    def to_array(self) -> np.ndarray:
        """State as float64 ``[sums..., n_images, n_skipped]`` for an all-reduce (SUM)."""
        return np.concatenate(
            [self._sums, np.array([self.n_images, self.n_skipped], dtype=np.float64)]
        )

    @classmethod
    def from_array(
        cls,
        array: Any,
        min_depth: float = 1e-3,
        max_depth: float = 80.0,
        crop: str | None = None,
    ) -> DepthMetricsAccumulator:
        """Rebuild an accumulator from :meth:`to_array` output (possibly summed over ranks)."""
        arr = np.asarray(_to_numpy(array), dtype=np.float64).reshape(-1)
        if arr.shape[0] != cls.ARRAY_LENGTH:
            raise ValueError(
                f"state array must have {cls.ARRAY_LENGTH} entries, got shape {arr.shape}"
            )
        acc = cls(min_depth, max_depth, crop)
        acc._sums = arr[: len(METRIC_NAMES)].copy()
        acc.n_images = int(round(arr[-2]))
        acc.n_skipped = int(round(arr[-1]))
        return acc

    def __len__(self) -> int:
        return self.n_images


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------
def format_metrics_table(metrics: dict[str, float], precision: int = 4) -> str:
    """Two-line, right-aligned text table in the papers' column order.

    Metrics missing from ``metrics`` are left out; ``n_images`` / ``n_skipped`` are appended
    as integers when present, so the printed table says how many images it summarises.
    """
    columns: list[tuple[str, str]] = []
    for name in METRIC_NAMES:
        if name in metrics:
            columns.append((name, f"{float(metrics[name]):.{precision}f}"))
    for name in ("n_images", "n_skipped"):
        if name in metrics:
            columns.append((name, f"{int(metrics[name])}"))
    if not columns:
        raise ValueError(f"no known metric in {sorted(metrics)}; expected some of {METRIC_NAMES}")
    widths = [max(len(h), len(v)) for h, v in columns]
    header = "  ".join(h.rjust(wd) for (h, _), wd in zip(columns, widths))
    values = "  ".join(v.rjust(wd) for (_, v), wd in zip(columns, widths))
    return f"{header}\n{values}"
