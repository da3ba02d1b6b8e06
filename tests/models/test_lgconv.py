"""LG-Conv: global branch semantics, and insertion into a pretrained backbone without disturbing it."""

from __future__ import annotations

import torch
from torch import nn

from disdepth_core.models import LGConvConfig, build_model
from disdepth_core.models.lgconv import GlobalBranch, LGConv


def test_branch_output_shape_and_stride():
    branch = GlobalBranch(16, 24, stride=2, cfg=LGConvConfig(num_heads=4))
    assert branch(torch.randn(2, 16, 9, 11)).shape == (2, 24, 5, 6)
    local = nn.Conv2d(16, 24, 3, stride=2, padding=1)
    assert LGConv(local)(torch.randn(2, 16, 9, 11)).shape == local(torch.randn(2, 16, 9, 11)).shape


def test_heads_fall_back_to_a_divisor():
    assert GlobalBranch(8, 20, cfg=LGConvConfig(num_heads=8, hidden_ratio=1.0)).num_heads in (5, 4)


def test_global_feature_is_the_same_vector_at_every_pixel_up_to_its_gate():
    """The aggregated vector is image-global: with gates forced to 1 every pixel gets the same value."""
    torch.manual_seed(0)
    branch = GlobalBranch(8, 8, cfg=LGConvConfig(num_heads=2, bn_init_scale=1.0)).eval()
    nn.init.zeros_(branch.broadcast.weight)
    nn.init.constant_(branch.broadcast.bias, 50.0)  # sigmoid -> 1
    out = branch(torch.randn(1, 8, 6, 7))
    assert torch.allclose(out, out[:, :, :1, :1].expand_as(out), atol=1e-5)


def test_global_branch_sees_far_away_pixels():
    """A change in one corner alters the output at the opposite corner (a 1x1 local conv cannot)."""
    torch.manual_seed(0)
    layer = LGConv(nn.Conv2d(4, 4, 1), LGConvConfig(num_heads=2, bn_init_scale=1.0)).eval()
    x = torch.randn(1, 4, 8, 8)
    y = x.clone()
    y[..., 0, 0] += 5.0
    assert not torch.allclose(layer(x)[..., 7, 7], layer(y)[..., 7, 7])
    assert torch.allclose(layer.local(x)[..., 7, 7], layer.local(y)[..., 7, 7])


def test_insertion_keeps_pretrained_backbone_output_nearly_unchanged():
    torch.manual_seed(0)
    plain = build_model("resnet18", lg_conv=False).eval()
    torch.manual_seed(0)
    with_lg = build_model("resnet18", lg_conv=True).eval()
    # Copy the plain backbone's weights in: the local convs now sit under ".local".
    state = {}
    for key, value in plain.backbone.state_dict().items():
        target = key
        for conv in (".conv2.", ".conv3."):
            if conv in key and key.replace(conv, conv + "local.") in with_lg.backbone.state_dict():
                target = key.replace(conv, conv + "local.")
        state[target] = value
    missing, unexpected = with_lg.backbone.load_state_dict(state, strict=False)
    assert not unexpected and all("global_branch" in k for k in missing)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = plain.forward_features(x), with_lg.forward_features(x)
    for fa, fb in zip(a, b):
        assert (fa - fb).abs().max() / fa.abs().max() < 0.05


def test_lg_branches_receive_gradients():
    model = build_model("efficientnet_b0", lg_conv=True).train()
    model(torch.randn(2, 3, 64, 64))["depth"].mean().backward()
    grads = [m.project.weight.grad for m in model.modules() if isinstance(m, GlobalBranch)]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_fused_eval_path_matches_the_reference_maths():
    """The regrouped inference path (fewer kernels) equals the reference branch within float tolerance,
    for strided convs, batch > 1, trained BN statistics, and after the weights change (cache invalidation)."""
    from disdepth_core.models.lgconv import set_lgconv_fused

    torch.manual_seed(0)
    for stride, batch, bias in ((1, 1, False), (2, 3, True)):
        layer = LGConv(nn.Conv2d(16, 24, 3, stride=stride, padding=1, bias=bias), LGConvConfig(num_heads=4, bn_init_scale=1.0))
        for _ in range(3):  # non-trivial running statistics
            layer(torch.randn(4, 16, 9, 11))
        layer.eval()
        x = torch.randn(batch, 16, 9, 11)
        with torch.no_grad():
            reference = layer.forward_reference(x)
            assert torch.allclose(layer(x), reference, atol=1e-5, rtol=1e-5)
            branch = layer.global_branch
            assert torch.allclose(branch(x), branch.forward_reference(x), atol=1e-5)
            branch.project.weight.mul_(2.0)  # in-place change: the folded constants must follow
            assert torch.allclose(layer(x), layer.forward_reference(x), atol=1e-5, rtol=1e-5)
            assert not torch.allclose(layer(x), reference, atol=1e-3)
    torch.manual_seed(0)
    model = build_model("efficientnet_b0", lg_conv=True).eval()
    image = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        fused = model(image)
        assert set_lgconv_fused(model, False) > 0
        reference = model(image)
    assert torch.allclose(fused, reference, atol=1e-4 * float(reference.abs().max()))


def test_pick_num_heads_keeps_both_former_head_rules():
    """FAM/LAM's ``pick_num_heads(c, head_dim)`` and LG-Conv's former ``_heads_for(c, wanted)`` are
    now one function; both give the head counts they gave before for every channel count."""
    from disdepth_core.models.fam import pick_num_heads

    def old_pick(channels: int, head_dim: int) -> int:
        heads = max(1, channels // head_dim)
        while channels % heads:
            heads -= 1
        return heads

    def old_heads_for(channels: int, wanted: int) -> int:
        for heads in range(min(wanted, channels), 0, -1):
            if channels % heads == 0:
                return heads
        return 1

    for channels in range(8, 2049):
        for head_dim in (8, 16, 32, 64):
            assert pick_num_heads(channels, head_dim) == old_pick(channels, head_dim), (channels, head_dim)
        for wanted in (0, 1, 2, 3, 4, 6, 8, 12, 16):
            assert pick_num_heads(channels, max_heads=wanted) == old_heads_for(channels, wanted), (channels, wanted)
