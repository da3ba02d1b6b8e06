"""FAM, LAM, ghost decoder and KD losses: shapes, formulas and where gradients may (not) go."""

from __future__ import annotations

import copy

import pytest
import torch

from disdepth_core.models import build_model
from disdepth_core.models.fam import FeatureAcclimation
from disdepth_core.models.ghost import detached_call, ghost_decode
from disdepth_core.models.kd import FeatureKD, attentive_kd_loss
from disdepth_core.models.lam import LossAttention, LossAttentionModules
from disdepth_core.models.student import decode_depth

TEACHER_CH = [32, 64, 128, 256]
STUDENT_CH = [24, 40, 112, 160]
SIZES = [(16, 24), (8, 12), (4, 6), (2, 3)]


def teacher_features(batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, c, h, w) for c, (h, w) in zip(TEACHER_CH, SIZES)]


def test_fam_outputs_student_width_at_student_stride():
    fam = FeatureAcclimation(TEACHER_CH, STUDENT_CH)
    out = fam(teacher_features())
    assert [tuple(o.shape) for o in out] == [(2, c, h, w) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    # A student whose backbone rounds odd sizes differently gets features resized to its grid.
    resized = fam(teacher_features(), sizes=[(h + 1, w + 1) for h, w in SIZES])
    assert [tuple(o.shape[-2:]) for o in resized] == [(h + 1, w + 1) for h, w in SIZES]
    with pytest.raises(ValueError, match="one teacher stage per student stage"):
        FeatureAcclimation(TEACHER_CH[:3], STUDENT_CH)


def test_fam_attention_is_global():
    """Changing one far-away pixel of the input changes every output pixel (spatial-reduction attention)."""
    torch.manual_seed(0)
    fam = FeatureAcclimation([8] * 4, [8] * 4).eval()
    x = [torch.randn(1, 8, 16, 16) for _ in range(4)]
    y = [t.clone() for t in x]
    y[0][..., 15, 15] += 5.0
    with torch.no_grad():
        a, b = fam(x)[0], fam(y)[0]
    assert ((a - b).abs().sum(dim=1)[0, 0, 0] > 0).item()


def test_lam_scores_average_one_and_start_near_uniform():
    torch.manual_seed(0)
    lam = LossAttention(40)
    feature = torch.randn(3, 40, 8, 12)
    weighted, scores = lam(feature)
    assert scores.shape == (3, 1, 8, 12) and (scores >= 0).all()
    assert torch.allclose(scores.mean(dim=(1, 2, 3)), torch.ones(3), atol=1e-5)
    assert torch.allclose(weighted, feature * scores)
    assert 0.5 < scores.min() and scores.max() < 2.0  # near-identity at initialisation


def test_lam_learns_to_silence_useless_pixels():
    """Trained to keep only the left half of the feature, LAM moves the right half's scores from 1 towards 0."""
    torch.manual_seed(0)
    lam = LossAttention(16, head_dim=8)
    optimizer = torch.optim.Adam(lam.parameters(), lr=5e-2)
    for _ in range(150):
        feature = torch.randn(4, 16, 6, 8)
        feature[:, :4, :, :4] += 3.0  # the left half is recognisable from its content (channels 0-3)
        target = feature.clone()
        target[..., 4:] = 0.0
        target[..., :4] *= 2.0  # scores average 1, so keeping half the pixels doubles their weight
        weighted, _ = lam(feature)
        loss = (weighted - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _, scores = lam(feature)
    assert scores[..., 4:].mean() < 0.3 and scores[..., :4].mean() > 1.7  # from 1.0 and 1.0 at the start


def test_lam_modules_per_stage():
    lam = LossAttentionModules(STUDENT_CH)
    features = [torch.randn(2, c, h, w) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    weighted, scores = lam(features)
    assert [s.shape for s in scores] == [(2, 1, h, w) for h, w in SIZES]
    assert [w.shape for w in weighted] == [f.shape for f in features]


def _old_ghost(student):
    """The former implementation: a deep copy of the decoder + heads, frozen (for comparison)."""
    return [copy.deepcopy(getattr(student, name)).requires_grad_(False) for name in ("decoder", "bin_centers", "bin_probabilities")]


@pytest.mark.parametrize("train", [True, False])
def test_ghost_is_the_students_current_decoder_with_detached_weights(train):
    torch.manual_seed(0)
    student = build_model("ghostnet_100", lg_conv=False, head={"n_bins": 16, "max_depth": 10.0}).train(train)
    x = torch.randn(2, 3, 64, 96)
    features = [f.detach().requires_grad_(True) for f in student.forward_features(x)]
    for step in range(2):
        out = ghost_decode(student, features, x.shape[-2:])
        # (a) the output is the student's decoder + heads on the same input (no grad) ...
        with torch.no_grad():
            reference = student.forward_head(features, x.shape[-2:])
        # ... and the former frozen copy's output, bit for bit.
        old = decode_depth(*_old_ghost(student), features, x.shape[-2:])
        for key in ("depth", "bin_centers", "decoder_feature"):
            assert torch.equal(out[key], reference[key]) and torch.equal(out[key], old[key]), key
        # (b) a backward through the ghost reaches its input only, never the student's weights.
        student.zero_grad(set_to_none=True)
        for f in features:
            f.grad = None
        (out["depth"].mean() + out["bin_centers"].mean()).backward()
        assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features)  # flows through
        assert all(p.grad is None for p in student.parameters())
        assert all(p.requires_grad for p in student.parameters())  # the student itself stays trainable
        # It follows the student's updates with nothing to synchronise.
        with torch.no_grad():
            for p in student.decoder.parameters():
                p.add_(0.1)


@pytest.mark.parametrize("train", [True, False])
def test_detached_call_keeps_batchnorm_semantics_of_a_frozen_copy(train):
    """Should a decoder hold BatchNorm: the copy's behaviour, and the student's statistics untouched."""
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.0))
    module.train()
    for _ in range(3):  # non-trivial running statistics
        module(torch.randn(4, 3, 8, 8))
    module.train(train)
    copy_ = copy.deepcopy(module).requires_grad_(False)
    buffers = {k: v.clone() for k, v in module.named_buffers()}
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    out = detached_call(module)(x)
    assert torch.equal(out, copy_(x))
    assert all(torch.equal(v, buffers[k]) for k, v in module.named_buffers())  # never updates the student's
    out.square().mean().backward()
    assert x.grad is not None and all(p.grad is None for p in module.parameters())


def test_attentive_kd_is_the_documented_formula_and_only_trains_the_student():
    torch.manual_seed(0)
    teacher = [torch.randn(2, c, h, w, requires_grad=True) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    student = [torch.randn(2, c, h, w, requires_grad=True) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    scores = [torch.rand(2, 1, h, w, requires_grad=True) for h, w in SIZES]
    loss = attentive_kd_loss(teacher, student, scores)
    rms = [m.pow(2).mean(dim=(2, 3), keepdim=True).sqrt() for m in scores]  # per image
    expected = sum((((m / r) * a - (m / r) * s) ** 2).mean() for a, s, m, r in zip(teacher, student, scores, rms))
    assert torch.allclose(loss, expected)
    loss.backward()
    assert all(t.grad is None for t in teacher) and all(m.grad is None for m in scores)
    assert all(s.grad is not None for s in student)
    plain = attentive_kd_loss(teacher, student)
    assert torch.allclose(plain, sum(((a - s) ** 2).mean() for a, s in zip(teacher, student)))
    assert attentive_kd_loss(student, student).item() == 0.0
    with pytest.raises(ValueError, match="stage 0"):
        attentive_kd_loss([teacher[0][:, :5]], [student[0]])


def test_lam_weights_move_the_kd_budget_between_pixels_without_changing_its_size():
    """The LAM scale review (kd.py): scores up to N, squared, must not scale the KD term by mean(M^2)."""
    torch.manual_seed(0)
    teacher = [torch.randn(2, c, h, w) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    student = [torch.randn(2, c, h, w) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    plain = attentive_kd_loss(teacher, student)
    # Uniform scores of any level are the plain loss (the fam row): only where, never how much.
    for level in (1.0, 7.0):
        uniform = [torch.full((2, 1, h, w), level) for h, w in SIZES]
        assert torch.allclose(attentive_kd_loss(teacher, student, uniform), plain)
    # All weight on one pixel (M = N there, what a sharp LAM can reach): that pixel's error, not N times it.
    one_hot = [torch.zeros(2, 1, h, w) for h, w in SIZES]
    for m, (h, w) in zip(one_hot, SIZES):
        m[:, :, 0, 0] = h * w
    expected = sum(((a - s)[:, :, 0, 0] ** 2).mean() for a, s in zip(teacher, student))
    assert torch.allclose(attentive_kd_loss(teacher, student, one_hot), expected)
    # A trained-looking, sharp LAM: the loss stays between the smallest and largest per-pixel error.
    lam = LossAttentionModules(STUDENT_CH)
    for stage in lam.stages:
        stage.query.weight.data.mul_(40.0)
    _, scores = lam(teacher)
    assert max(float(m.amax()) for m in scores) > 5.0  # really concentrated
    per_pixel = [((a - s) ** 2).mean(dim=1) for a, s in zip(teacher, student)]  # [B, H, W] per stage
    loss = attentive_kd_loss(teacher, student, scores)
    assert sum(float(e.amin()) for e in per_pixel) <= float(loss) <= sum(float(e.amax()) for e in per_pixel)


def test_plain_kd_regresses_student_to_teacher_width():
    torch.manual_seed(0)
    kd = FeatureKD(STUDENT_CH, TEACHER_CH)
    teacher = [t.requires_grad_(True) for t in teacher_features()]
    student = [torch.randn(2, c, h, w, requires_grad=True) for c, (h, w) in zip(STUDENT_CH, SIZES)]
    loss = kd(teacher, student)
    loss.backward()
    assert loss.item() > 0
    assert all(t.grad is None for t in teacher) and all(s.grad is not None for s in student)
    assert all(p.grad is not None for p in kd.parameters())
