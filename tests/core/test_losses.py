"""SILog and chamfer bins losses against hand computations and brute-force references."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from disdepth_core.losses import BinsChamferLoss, SILogLoss  # noqa: E402


def _t(values: list[list[float]]) -> torch.Tensor:
    """[H, W] nested list -> [1, 1, H, W] float64 tensor."""
    return torch.tensor(values, dtype=torch.float64)[None, None]


# ------------------------------------------------------------------------------------------
# SILog
# ------------------------------------------------------------------------------------------
def test_silog_by_hand() -> None:
    gt = _t([[1.0, 1.0], [1.0, 1.0]])
    pred = _t([[math.e, 1.0], [1.0, 1.0]])
    # d = ln(pred) - ln(gt) = [1, 0, 0, 0]
    # mean(d^2) = 1/4, mean(d) = 1/4 -> 0.25 - 0.85 * 0.0625 = 0.25 - 0.053125 = 0.196875
    loss = SILogLoss()(pred, gt)
    assert loss.item() == pytest.approx(10.0 * math.sqrt(0.196875), rel=1e-6)


def test_silog_ignores_invalid_gt_and_respects_mask() -> None:
    # gt 0 (invalid) pixel must not contribute, whatever pred is there.
    gt = _t([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    pred = _t([[math.e, 1.0, 123.0], [1.0, 1.0, 1e-9]])
    loss = SILogLoss()(pred, gt)
    assert loss.item() == pytest.approx(10.0 * math.sqrt(0.196875), rel=1e-6)

    # explicit mask keeping only the two pixels gt=1, pred in {e, 1}:
    # d = [1, 0]; mean(d^2) = 0.5, mean(d) = 0.5 -> 0.5 - 0.85 * 0.25 = 0.2875
    mask = _t([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]).bool()  # gt=0 at [0,2] stays excluded
    loss_m = SILogLoss()(pred, gt, mask)
    assert loss_m.item() == pytest.approx(10.0 * math.sqrt(0.2875), rel=1e-6)


def test_silog_matches_direct_formula_pooled_over_batch() -> None:
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(3, 1, 5, 7, generator=g) * 10
    gt[gt < 2] = 0.0
    pred = torch.rand(3, 1, 5, 7, generator=g) * 10 + 0.1
    lam, alpha = 0.5, 7.0
    valid = gt > 1e-6
    d = torch.log(pred[valid]) - torch.log(gt[valid])
    expected = alpha * torch.sqrt((d**2).mean() - lam * d.mean() ** 2)
    got = SILogLoss(variance_focus=lam, scale=alpha)(pred, gt)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_silog_gradient_flows() -> None:
    g = torch.Generator().manual_seed(1)
    gt = torch.rand(2, 1, 4, 4, generator=g) + 0.5
    pred = (torch.rand(2, 1, 4, 4, generator=g) + 0.5).requires_grad_(True)
    SILogLoss()(pred, gt).backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_silog_perfect_prediction_has_finite_gradient() -> None:
    gt = torch.rand(1, 1, 3, 3) + 1.0
    pred = gt.clone().requires_grad_(True)
    loss = SILogLoss()(pred, gt)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-4)
    assert torch.isfinite(pred.grad).all()


def test_silog_no_valid_pixel_returns_zero_with_grad() -> None:
    gt = torch.zeros(2, 1, 3, 3)
    pred = torch.rand(2, 1, 3, 3).requires_grad_(True)
    loss = SILogLoss()(pred, gt)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_silog_clamps_non_positive_prediction() -> None:
    gt = _t([[1.0, 2.0]])
    pred = _t([[0.0, -1.0]]).requires_grad_(True)
    loss = SILogLoss()(pred, gt)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_silog_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\(1, 1, 4, 4\).*\(1, 1, 8, 8\)"):
        SILogLoss()(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="mask"):
        SILogLoss()(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError):
        SILogLoss(variance_focus=1.5)


# ------------------------------------------------------------------------------------------
# Chamfer bins loss
# ------------------------------------------------------------------------------------------
def _brute_chamfer(centers: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Reference: explicit distance matrices per image, images without points dropped."""
    per_image = []
    for b in range(centers.shape[0]):
        pts = gt[b].flatten()[valid[b].flatten()]
        if pts.numel() == 0:
            continue
        dist = (centers[b][:, None] - pts[None, :]) ** 2  # [n_bins, N]
        per_image.append(dist.min(dim=1).values.mean() + dist.min(dim=0).values.mean())
    return torch.stack(per_image).mean()


def test_chamfer_by_hand() -> None:
    centers = torch.tensor([[1.0, 3.0]], requires_grad=True)
    gt = _t([[1.0, 2.0], [4.0, 0.0]]).float()  # 0 is invalid
    # centres -> gt: c=1 -> 1 (0); c=3 -> 2 or 4 (1)        mean = 1/2
    # gt -> centres: g=1 -> 0; g=2 -> 1 (1); g=4 -> 3 (1)   mean = 2/3
    loss = BinsChamferLoss()(centers, gt)
    assert loss.item() == pytest.approx(0.5 + 2.0 / 3.0, rel=1e-6)
    loss.backward()
    assert torch.isfinite(centers.grad).all() and centers.grad.abs().sum() > 0


def test_chamfer_respects_mask() -> None:
    centers = torch.tensor([[1.0, 3.0]])
    gt = _t([[1.0, 2.0], [4.0, 0.0]]).float()
    mask = torch.tensor([[[[True, False], [True, True]]]])  # drop g=2 (and g=0 stays invalid)
    # centres -> {1, 4}: c=1 -> 0; c=3 -> 4 (1)   mean = 1/2
    # {1, 4} -> centres: 0 and 1                  mean = 1/2
    loss = BinsChamferLoss()(centers, gt, mask)
    assert loss.item() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_chamfer_matches_brute_force_with_variable_counts(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    b, n_bins = 4, 16
    centers = (torch.rand(b, n_bins, generator=g) * 10).requires_grad_(True)
    gt = torch.rand(b, 1, 6, 5, generator=g) * 10
    gt[torch.rand(gt.shape, generator=g) < 0.5] = 0.0
    gt[1] = 0.0  # an image without any valid point is excluded from the mean
    gt[2, 0, 0, 0] = float("nan")  # non-finite GT ignored
    valid = torch.isfinite(gt) & (gt >= 1e-3)

    loss = BinsChamferLoss()(centers, gt)
    reference = _brute_chamfer(centers, gt, valid)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)

    (grad,) = torch.autograd.grad(loss, centers)
    (ref_grad,) = torch.autograd.grad(_brute_chamfer(centers, gt, valid), centers)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-6)


def test_chamfer_no_valid_points_is_zero_with_grad() -> None:
    centers = torch.rand(2, 8).requires_grad_(True)
    loss = BinsChamferLoss()(centers, torch.zeros(2, 1, 3, 3))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(centers.grad, torch.zeros_like(centers))


def test_chamfer_shape_errors() -> None:
    with pytest.raises(ValueError):
        BinsChamferLoss()(torch.rand(2, 8, 1), torch.rand(2, 1, 3, 3))
    with pytest.raises(ValueError):
        BinsChamferLoss()(torch.rand(2, 8), torch.rand(3, 1, 3, 3))
