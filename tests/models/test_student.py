"""Every registered student gets the same contract checks (timm-style registry tests)."""

from __future__ import annotations

import pytest
import torch

from disdepth_core.models import ModelConfig, build_model, list_students

REQUIRED = {"efficientnet_b0", "efficientnet_b3", "efficientnet_b5", "resnet18", "resnet50", "ghostnet_100", "mobilenetv3_large_100"}


def test_registry_covers_the_papers_backbones():
    assert REQUIRED <= set(list_students())


@pytest.mark.parametrize("backbone", sorted(REQUIRED))
@pytest.mark.parametrize("lg_conv", [False, True])
def test_eval_returns_metric_depth_at_input_resolution(backbone, lg_conv):
    torch.manual_seed(0)
    model = build_model(backbone, lg_conv=lg_conv, head={"min_depth": 0.5, "max_depth": 10.0}).eval()
    assert (model.num_lgconv > 0) == lg_conv
    # A size that is not a multiple of 32 must still come back at input resolution.
    with torch.no_grad():
        depth = model(torch.randn(2, 3, 70, 94))
    assert depth.shape == (2, 1, 70, 94)
    assert torch.isfinite(depth).all()
    assert depth.min() >= 0.5 and depth.max() <= 10.0


@pytest.mark.parametrize("backbone", ["efficientnet_b0", "resnet18", "ghostnet_100"])
def test_training_mode_returns_stage_features_for_distillation(backbone):
    model = build_model(backbone).train()
    out = model(torch.randn(2, 3, 64, 96))
    assert set(out) >= {"depth", "bin_centers", "features", "decoder_feature"}
    assert [f.shape[1] for f in out["features"]] == model.feature_channels
    assert [64 // f.shape[2] for f in out["features"]] == [4, 8, 16, 32]
    assert out["bin_centers"].shape == (2, model.cfg.head.n_bins)
    # Bin centres are sorted and inside the configured range.
    centers = out["bin_centers"]
    assert (centers[:, 1:] > centers[:, :-1]).all()
    assert centers.min() > model.cfg.head.min_depth and centers.max() < model.cfg.head.max_depth
    out["depth"].mean().backward()
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_feature_channels_are_read_from_timm_not_hard_coded():
    import timm

    reference = timm.create_model("resnet50", features_only=True, pretrained=False).feature_info.channels()[1:]
    assert build_model("resnet50", lg_conv=False).feature_channels == reference


def test_config_round_trip_and_unknown_keys():
    cfg = ModelConfig(backbone="resnet18", lg_conv=False)
    cfg.head.max_depth = 10.0
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown key .n_binz. in .model.head.; did you mean .n_bins."):
        ModelConfig.from_dict({"head": {"n_binz": 3}})
    with pytest.raises(ValueError, match="unsupported backbone 'vgg1'"):
        build_model("vgg1")


def test_parameter_counts_are_in_the_papers_range():
    """B0: paper 5.9 M without and 8.0 M with LG-Conv; ours must be the same order and LG adds ~2 M."""
    plain = sum(p.numel() for p in build_model("efficientnet_b0", lg_conv=False).parameters()) / 1e6
    with_lg = sum(p.numel() for p in build_model("efficientnet_b0", lg_conv=True).parameters()) / 1e6
    assert 4.0 < plain < 7.0
    assert 1.5 < with_lg - plain < 2.5


def test_pixel_major_bins_readout_equals_the_channel_softmax_definition():
    """The export-friendly readout must be exactly AdaBins' sum_i softmax(l)_i * c_i."""
    from disdepth_core.models.heads import logits_to_depth

    torch.manual_seed(0)
    logits = torch.randn(2, 16, 5, 7)
    centers = torch.sort(torch.rand(2, 16) * 10, dim=1).values
    expected = torch.sum(torch.softmax(logits, dim=1) * centers[:, :, None, None], dim=1, keepdim=True)  # AdaBins' definition
    assert torch.allclose(logits_to_depth(logits, centers), expected, atol=1e-5)
