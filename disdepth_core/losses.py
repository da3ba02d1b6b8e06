"""Training losses: scale-invariant log loss and AdaBins' bin-centre chamfer loss.

Training-side module (imports torch); the runtime and metrics code never import it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["SILogLoss", "BinsChamferLoss"]

# Floor for the SILog square-root argument: keeps sqrt'(x) finite when the prediction is
# perfect (variance exactly 0) while changing the loss value by at most scale * 1e-6.
_SQRT_FLOOR = 1e-12


def _check_same_shape(a: Tensor, b: Tensor, a_name: str, b_name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape, got "
            f"{a_name} {tuple(a.shape)} and {b_name} {tuple(b.shape)}"
        )


class SILogLoss(nn.Module):
    """Scale-invariant log loss as used by BTS, NeWCRFs and PixelFormer.

    ``d = log(pred) - log(gt)`` over ALL valid pixels of the batch (pooled, as those codes do),
    ``loss = scale * sqrt(mean(d^2) - variance_focus * mean(d)^2)``. ``variance_focus`` (lambda)
    trades the pure scale-invariant term (lambda = 1) against plain log-RMSE (lambda = 0);
    0.85 and scale 10 are the published values the DisDepth baselines were trained with.
    """

    def __init__(self, variance_focus: float = 0.85, scale: float = 10.0, eps: float = 1e-6) -> None:
        super().__init__()
        # lambda <= 1 guarantees the sqrt argument is mathematically non-negative.
        if not 0.0 <= variance_focus <= 1.0:
            raise ValueError(f"variance_focus must be in [0, 1], got {variance_focus}")
        if eps <= 0.0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.variance_focus = float(variance_focus)
        self.scale = float(scale)
        self.eps = float(eps)

    def forward(self, pred: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
        """Loss over the valid pixels; ``pred``/``gt`` are [B, 1, H, W] at the same size.

        ``mask`` (same shape, bool or 0/1) selects supervised pixels; it is always intersected
        with ``gt > eps`` and finite GT because log(gt) is undefined elsewhere. With no valid
        pixel the result is ``pred.sum() * 0``: zero, still attached to the graph, so
        ``backward()`` and DDP gradient sync keep working on GT-less batches.
        """
        _check_same_shape(pred, gt, "pred", "gt")
        valid = torch.isfinite(gt) & (gt > self.eps)
        if mask is not None:
            _check_same_shape(mask, gt, "mask", "gt")
            valid = valid & mask.bool()
        if not bool(valid.any()):
            return pred.sum() * 0.0

        # float32 at least: under autocast log differences of fp16 depths lose the signal.
        p = pred[valid].float().clamp_min(self.eps)
        g = gt[valid].float()
        d = torch.log(p) - torch.log(g)
        var = (d * d).mean() - self.variance_focus * d.mean() ** 2
        return self.scale * torch.sqrt(var.clamp_min(_SQRT_FLOOR))


class BinsChamferLoss(nn.Module):
    """AdaBins' "bins loss": bidirectional chamfer distance between bin centres and GT depths.

    Pulls the adaptive bin centres towards the depth values actually present in each image
    (and vice versa), which is what makes AdaBins' bins "adaptive". AdaBins adds it to the
    SILog loss with weight 0.1 (``loss = silog + 0.1 * chamfer``).

    For image b with centres ``c`` (n_bins) and valid GT depths ``g`` (N_b, varying per image)
    it computes, like pytorch3d's ``chamfer_distance`` with mean reductions::

        mean_i min_j (c_i - g_j)^2  +  mean_j min_i (g_j - c_i)^2

    and averages over the images that have at least one valid pixel. Points are 1-D, so the
    nearest neighbours come from sorting + ``searchsorted`` (O(N log N) memory-light) instead
    of an n_bins x N distance matrix, which for NYU-sized crops would need gigabytes. The
    per-image variable point counts are handled by padding and masking, in pure torch.
    """

    def __init__(self, valid_threshold: float = 1e-3) -> None:
        super().__init__()
        self.valid_threshold = float(valid_threshold)

    def forward(self, bin_centers: Tensor, gt: Tensor, mask: Tensor | None = None) -> Tensor:
        """``bin_centers`` [B, n_bins]; ``gt`` [B, 1, H, W] (any [B, ...]); ``mask`` like ``gt``.

        GT pixels count when finite and ``>= valid_threshold`` (AdaBins uses min_depth), and
        ``mask`` if given. Centres from bin edges: ``0.5 * (edges[:, 1:] + edges[:, :-1])``.
        """
        if bin_centers.ndim != 2:
            raise ValueError(f"bin_centers must be [B, n_bins], got {tuple(bin_centers.shape)}")
        if gt.ndim < 2 or gt.shape[0] != bin_centers.shape[0]:
            raise ValueError(
                f"gt must be [B, ...] with the batch size of bin_centers, got gt "
                f"{tuple(gt.shape)} and bin_centers {tuple(bin_centers.shape)}"
            )
        valid = torch.isfinite(gt) & (gt >= self.valid_threshold)
        if mask is not None:
            _check_same_shape(mask, gt, "mask", "gt")
            valid = valid & mask.bool()

        centers = bin_centers.float()
        points = gt.detach().flatten(1).float()  # the target carries no gradient
        valid = valid.flatten(1)
        counts = valid.sum(dim=1)  # [B]
        has_points = counts > 0
        if not bool(has_points.any()):
            return bin_centers.sum() * 0.0

        # Padding: invalid entries go to +inf so sorting pushes them to the end of each row
        # (keeping rows monotonic for searchsorted); the values actually gathered have the pads
        # replaced by 0 so no inf enters the graph, and indices clamped to count-1 never pick a
        # pad for an image that has points.
        padded = torch.where(valid, points, torch.full_like(points, float("inf")))
        sorted_pts, _ = torch.sort(padded, dim=1)
        finite_pts = torch.where(torch.isfinite(sorted_pts), sorted_pts, torch.zeros_like(sorted_pts))
        last_pt = (counts - 1).clamp_min(0).unsqueeze(1)  # [B, 1]

        # centres -> nearest GT point.
        c_to_g = self._nearest_sq_dist(centers, sorted_pts, finite_pts, last_pt)  # [B, n_bins]
        term_c = c_to_g.mean(dim=1)

        # GT points -> nearest centre (centres are sorted differentiably).
        sorted_c, _ = torch.sort(centers, dim=1)
        last_c = torch.full_like(last_pt, centers.shape[1] - 1)
        filled = torch.where(valid, points, torch.zeros_like(points))
        g_to_c = self._nearest_sq_dist(filled, sorted_c, sorted_c, last_c)  # [B, N]
        g_to_c = torch.where(valid, g_to_c, torch.zeros_like(g_to_c))
        term_g = g_to_c.sum(dim=1) / counts.clamp_min(1).to(g_to_c.dtype)

        per_image = term_c + term_g
        weights = has_points.to(per_image.dtype)
        return (per_image * weights).sum() / weights.sum()

    @staticmethod
    def _nearest_sq_dist(query: Tensor, search_ref: Tensor, value_ref: Tensor, last: Tensor) -> Tensor:
        """Squared distance from each query to its nearest real entry of the reference rows.

        ``search_ref`` is sorted per row (padding at the end as +inf) and only locates the
        insertion point; ``value_ref`` holds the same entries with finite padding and carries the
        gradient. ``last`` [B, 1] is the index of the last real entry of each row. The nearest
        neighbour of a 1-D query is one of the two entries around its insertion point.
        """
        idx = torch.searchsorted(search_ref.detach().contiguous(), query.detach().contiguous())
        right = torch.minimum(idx, last)
        left = torch.minimum((idx - 1).clamp_min(0), last)
        d_right = (query - torch.gather(value_ref, 1, right)) ** 2
        d_left = (query - torch.gather(value_ref, 1, left)) ** 2
        return torch.minimum(d_left, d_right)
