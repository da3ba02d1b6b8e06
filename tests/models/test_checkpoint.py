"""Checkpoints: safe loading, exact rebuild, atomic writes, clear mismatch errors."""

from __future__ import annotations

import pytest
import torch

from disdepth_core.models import build_model
from disdepth_core.models.checkpoint import CheckpointError, CheckpointMismatchError, load_model, read_checkpoint, save_checkpoint
from disdepth_core.models.pretrained import load_backbone_weights


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    return build_model("ghostnet_100", lg_conv=True, head={"max_depth": 10.0, "n_bins": 32})


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_round_trip_rebuilds_identical_model(tmp_path, small_model, suffix):
    path = tmp_path / f"model{suffix}"
    save_checkpoint(path, small_model, small_model.cfg, meta={"dataset": "nyu", "max_depth": 10.0})
    loaded, meta = load_model(path)
    assert meta["dataset"] == "nyu" and len(meta["checkpoint_sha256"]) == 64
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(small_model.eval()(x), loaded(x))
    if suffix == ".pt":
        torch.load(path, weights_only=True)  # loads without unpickling code


def test_half_precision_file_is_smaller_and_close(tmp_path, small_model):
    full, half = tmp_path / "full.pt", tmp_path / "half.pt"
    save_checkpoint(full, small_model, small_model.cfg)
    save_checkpoint(half, small_model, small_model.cfg, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, _ = load_model(half)
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(small_model.eval()(x), loaded(x), rtol=2e-2, atol=2e-2)


def test_wrong_architecture_names_mismatching_keys(tmp_path, small_model):
    path = tmp_path / "m.pt"
    save_checkpoint(path, small_model, small_model.cfg)
    other = build_model("ghostnet_100", lg_conv=False, head={"max_depth": 10.0, "n_bins": 32}).cfg
    with pytest.raises(CheckpointMismatchError, match=r"unexpected in checkpoint: .*global_branch"):
        load_model(path, config=other)
    bins = build_model("ghostnet_100", lg_conv=True, head={"max_depth": 10.0, "n_bins": 16}).cfg
    with pytest.raises(CheckpointMismatchError, match=r"shape mismatch: .*bin_probabilities.logits.weight: checkpoint \(32, 16, 1, 1\) vs model \(16, 16, 1, 1\)"):
        load_model(path, config=bins)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="cannot read checkpoint .*corrupt.pt"):
        read_checkpoint(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a DisDepth checkpoint"):
        read_checkpoint(foreign)


def test_atomic_save_keeps_previous_file_on_failure(tmp_path, small_model, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, small_model, small_model.cfg, meta={"epoch": 1})
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(path, small_model, small_model.cfg, meta={"epoch": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_pretrained_backbone_loads_from_local_file(tmp_path):
    import timm

    torch.manual_seed(1)
    classifier = timm.create_model("resnet18", pretrained=False)
    weights = tmp_path / "resnet18_imagenet.pth"
    torch.save(classifier.state_dict(), weights)
    student = build_model("resnet18", lg_conv=True, pretrained_backbone=str(weights))
    assert torch.equal(student.backbone.conv1.weight, classifier.conv1.weight)
    assert torch.equal(student.backbone.layer1[0].conv2.local.weight, classifier.layer1[0].conv2.weight)
    wrong = timm.create_model("resnet34", pretrained=False)
    torch.save(wrong.state_dict(), weights)
    with pytest.raises(ValueError, match="do not fit this backbone"):
        load_backbone_weights(build_model("resnet18", lg_conv=False).backbone, weights)


def test_pretrained_ghostnet_weights_load_despite_flattened_feature_names(tmp_path):
    """timm's FeatureListNet names GhostNet stages ``blocks_0`` where the classifier has ``blocks.0``."""
    import timm

    classifier = timm.create_model("ghostnet_100", pretrained=False)
    weights = tmp_path / "ghostnet.pth"
    torch.save(classifier.state_dict(), weights)
    student = build_model("ghostnet_100", lg_conv=False, pretrained_backbone=str(weights))
    assert torch.equal(student.backbone.conv_stem.weight, classifier.conv_stem.weight)
    first_block = dict(student.backbone.named_parameters())
    key = next(k for k in first_block if k.startswith("blocks_1."))
    assert torch.equal(first_block[key], classifier.state_dict()[key.replace("blocks_1.", "blocks.1.", 1)])


def test_release_drops_training_state_and_halves_size(tmp_path, small_model):
    from training.release import main

    full = tmp_path / "last.pt"
    save_checkpoint(full, small_model, small_model.cfg, meta={"dataset": "nyu"}, training_state={"epoch": 3, "blob": torch.zeros(100000)})
    out = tmp_path / "release.pt"
    assert main(["--checkpoint", str(full), "--output", str(out), "--half"]) == 0
    payload = read_checkpoint(out)
    assert "training_state" not in payload and payload["meta"]["dataset"] == "nyu"
    assert out.stat().st_size < 0.5 * full.stat().st_size
    assert main(["--checkpoint", str(tmp_path / "missing.pt"), "--output", str(out)]) == 2


def test_release_refuses_a_missing_output_folder(tmp_path, small_model, capsys):
    """A missing --output (or --write-config) folder is a one-line error naming it; nothing is created."""
    from training.release import main

    full = tmp_path / "last.pt"
    save_checkpoint(full, small_model, small_model.cfg, meta={}, training_state={"epoch": 1})
    capsys.readouterr()
    missing = tmp_path / "new" / "dir"
    assert main(["--checkpoint", str(full), "--output", str(missing / "model.pt")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --output folder {missing} does not exist; create it first (mkdir -p {missing})\n"
    assert not (tmp_path / "new").exists()
    assert main(["--checkpoint", str(full), "--output", str(tmp_path / "ok.pt"), "--write-config", str(missing / "c.yaml")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --write-config folder {missing} does not exist")
    assert not (tmp_path / "ok.pt").exists()
    assert main(["--checkpoint", str(full), "--output", str(tmp_path)]) == 2
    assert f"--output {tmp_path} is a folder" in capsys.readouterr().err
