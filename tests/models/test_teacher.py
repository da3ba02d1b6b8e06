"""The Swin teacher: same framework as the students, any input size, safe checkpoints."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from disdepth_core.models import build_model, build_model_from_config, list_teachers
from disdepth_core.models.checkpoint import CheckpointMismatchError, load_model, save_checkpoint
from disdepth_core.models.teacher import DisDepthSwin

NANO = "swin_nano_patch4_window7"


@pytest.fixture(scope="module")
def nano():
    torch.manual_seed(0)
    return build_model(NANO, lg_conv=False, head={"n_bins": 16, "max_depth": 10.0})


def test_registry_lists_the_swin_teachers():
    assert {"swin_large_patch4_window12_384", "swin_tiny_patch4_window7_224", NANO} <= set(list_teachers())


@pytest.mark.parametrize("size", [(70, 94), (120, 160), (352, 1216)])
def test_any_input_size_gives_cnn_aligned_nchw_features(nano, size):
    """Sizes the datasets use (and an odd one): NCHW features at ceil(H/stride), depth at input size."""
    height, width = size
    nano.train()
    with torch.no_grad():
        out = nano(torch.randn(1, 3, height, width))
    shapes = [tuple(f.shape) for f in out["features"]]
    expected = [(1, c, math.ceil(height / s), math.ceil(width / s)) for c, s in zip(nano.feature_channels, (4, 8, 16, 32))]
    assert shapes == expected
    assert nano.feature_channels == [32, 64, 128, 256]
    nano.eval()
    with torch.no_grad():
        depth = nano(torch.randn(1, 3, height, width))
    assert depth.shape == (1, 1, height, width) and torch.isfinite(depth).all()


def test_teacher_features_line_up_with_a_cnn_students():
    """KD compares stage i of both models pixel for pixel: the grids must be identical."""
    student = build_model("ghostnet_100", lg_conv=False).train()
    teacher = build_model(NANO, lg_conv=False).train()
    x = torch.randn(1, 3, 70, 94)
    with torch.no_grad():
        s_shapes = [f.shape[-2:] for f in student.forward_features(x)]
        t_shapes = [f.shape[-2:] for f in teacher.forward_features(x)]
    assert s_shapes == t_shapes


def test_same_decoder_and_heads_code_as_the_student(nano):
    assert isinstance(nano, DisDepthSwin) and nano.num_lgconv == 0
    student = build_model("resnet18", lg_conv=False)
    assert type(nano.decoder) is type(student.decoder) and type(nano.bin_centers) is type(student.bin_centers)
    x = torch.randn(1, 3, 64, 96)
    nano.eval()
    with torch.no_grad():
        assert torch.equal(nano(x), nano.forward_head(nano.forward_features(x), x.shape[-2:])["depth"])


def test_lg_conv_on_swin_is_a_clear_error():
    with pytest.raises(ValueError, match="lg_conv: false"):
        build_model(NANO, lg_conv=True)


def test_swin_large_is_the_papers_size():
    """Built on the meta device (no memory, ~1 s): encoder + decoder ~ the paper's 237 M."""
    with torch.device("meta"):
        model = build_model("swin_large_patch4_window12_384", lg_conv=False)
    assert model.feature_channels == [192, 384, 768, 1536]
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert 220 < params < 260, params


def test_teacher_checkpoint_round_trip_and_wrong_architecture(nano, tmp_path):
    path = tmp_path / "teacher.pt"
    save_checkpoint(path, nano, nano.cfg, {"dataset": "nyu", "max_depth": 10.0})
    loaded, meta = load_model(path)
    assert isinstance(loaded, DisDepthSwin) and meta["model_config"]["backbone"] == NANO
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(nano.eval()(x), loaded(x))
    other = build_model_from_config(type(nano.cfg).from_dict(nano.cfg.to_dict() | {"backbone": "swin_tiny_patch4_window7_224"}))
    with pytest.raises(CheckpointMismatchError, match="does not match the model architecture"):
        load_model(path, config=other.cfg)


def test_microsoft_layout_imagenet_weights_load(tmp_path):
    """Original Swin releases keep the patch merging at the end of a stage; they must load too."""
    torch.manual_seed(1)
    source = build_model(NANO, lg_conv=False).backbone.body
    microsoft = {}
    for key, value in source.state_dict().items():
        key = re.sub(r"^layers_(\d+)\.", lambda m: f"layers.{m.group(1)}.", key)
        key = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", key)
        microsoft[key] = value
    microsoft["head.weight"] = torch.zeros(10, 256)
    path = tmp_path / "swin_ms.pth"
    torch.save({"model": microsoft}, path)
    loaded = build_model(NANO, lg_conv=False, pretrained_backbone=str(path)).backbone.body
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    microsoft.pop("layers.0.blocks.0.norm1.weight")
    torch.save(microsoft, path)
    with pytest.raises(ValueError, match="missing 1 key"):
        build_model(NANO, lg_conv=False, pretrained_backbone=str(path))


# -- model.pretrained_backbone sources on the teacher: the students' sources, meanings and messages --

_OFFLINE = "We couldn't connect to 'https://huggingface.co' to load this file.\nCheck your internet connection."


def _offline(monkeypatch):
    """timm's hub downloads fail the way they do on a machine without network (nothing is fetched)."""
    import timm.models._builder as builder

    from disdepth_core.models import pretrained

    def refuse(*args, **kwargs):
        raise OSError(_OFFLINE)

    monkeypatch.setattr(builder, "load_state_dict_from_hf", refuse)
    monkeypatch.setattr(builder, "load_state_dict_from_url", refuse)
    # The trainer's pre-flight check asks the hub first (pretrained.check_obtainable): same answer.
    monkeypatch.setattr(pretrained, "probe_hf_weights", refuse)
    monkeypatch.setattr(pretrained, "probe_url", refuse)


def test_timm_hub_offline_is_the_students_clear_error(monkeypatch):
    _offline(monkeypatch)
    with pytest.raises(ValueError, match=r"could not get timm hub weights for swin_tiny_patch4_window7_224 \(offline\? "
                                         r"set model.pretrained_backbone to a local file instead\): OSError: We couldn't"):
        build_model(NANO, lg_conv=False, pretrained_backbone="timm-hub")


def test_timm_hub_offline_is_one_line_from_train(monkeypatch, tmp_path, capsys):
    """training/train.py turns it into one ``error:`` line, before any data is read."""
    from training.train import main

    _offline(monkeypatch)
    config = Path(__file__).resolve().parents[2] / "training" / "configs" / "synthetic_teacher_nyu.yaml"
    code = main(["--config", str(config), "--out-dir", str(tmp_path / "run"),
                 "--device", "cpu", "--no-progress", "--set", "model.pretrained_backbone=timm-hub"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: could not get timm hub weights for swin_tiny_patch4_window7_224 (offline?")
    assert "Check your internet connection." in err[0]


def test_timm_hub_weights_land_in_the_teacher(monkeypatch):
    """The hub fetch asks for the variant's timm model; its (timm classifier layout) tensors fill the body."""
    import timm

    from disdepth_core.models import pretrained
    from disdepth_core.models.swin_variants import SWIN_VARIANTS

    torch.manual_seed(3)
    hub = timm.create_model("swin_tiny_patch4_window7_224", **SWIN_VARIANTS[NANO].kwargs).state_dict()
    asked = []

    def fetch(hub_name, backbone_name=None):
        asked.append(hub_name)
        return hub

    monkeypatch.setattr(pretrained, "fetch_timm_hub_state", fetch)
    body = build_model(NANO, lg_conv=False, pretrained_backbone="timm-hub").backbone.body
    assert asked == ["swin_tiny_patch4_window7_224"]
    own = body.state_dict()
    assert torch.equal(own["layers_2.blocks.1.attn.qkv.weight"], hub["layers.2.blocks.1.attn.qkv.weight"])
    assert torch.equal(own["layers_3.downsample.reduction.weight"], hub["layers.3.downsample.reduction.weight"])


def test_timm_hub_weights_of_another_shape_fail_the_fit_check(monkeypatch):
    """Through timm's real pretrained path: the hub's Swin-T weights do not fit the nano Swin, loudly."""
    import timm
    import timm.models._builder as builder

    full = timm.create_model("swin_tiny_patch4_window7_224").state_dict()
    monkeypatch.setattr(builder, "load_state_dict_from_hf", lambda *args, **kwargs: full)
    with pytest.raises(ValueError, match="pretrained weights timm-hub swin_tiny_patch4_window7_224 do not fit this backbone"):
        build_model(NANO, lg_conv=False, pretrained_backbone="timm-hub")


def test_packaged_on_a_swin_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no packaged ImageNet weights for backbone 'swin_nano_patch4_window7'; packaged: "
                                         r"tf_efficientnet_lite0, tf_efficientnet_lite1, tf_efficientnet_lite2; "
                                         r"use model.pretrained_backbone: timm-hub or a local weights file"):
        build_model(NANO, lg_conv=False, pretrained_backbone="packaged")


def test_missing_local_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights file not found: .*nothing.pth"):
        build_model(NANO, lg_conv=False, pretrained_backbone=str(tmp_path / "nothing.pth"))
