"""After distillation: the released student is a plain student; Table 5's ghost-teacher evaluation runs."""

from __future__ import annotations

import io
import json

import pytest
import torch

from disdepth_core.models import build_model_from_config
from disdepth_core.models.checkpoint import load_model, read_checkpoint
from tests.training.test_distill import distill_mapping, teacher_checkpoint  # noqa: F401 - fixture
from training import ghost_eval, release
from disdepth_core.models.checkpoint import CheckpointMismatchError, atomic_torch_save
from training.train_config import train_config_from_dict
from training.modules import STUDENT, build_training_module
from training.trainer import Trainer


@pytest.fixture(scope="module")
def distilled_run(synthetic_root, tmp_path_factory, teacher_checkpoint):  # noqa: F811 - fixture
    out = tmp_path_factory.mktemp("distilled")
    mapping = distill_mapping(synthetic_root, out / "run", teacher_checkpoint)
    cfg = train_config_from_dict(mapping)
    Trainer(cfg, progress=False).train()
    return cfg, out


def _onnx_ops(model: torch.nn.Module, keep_identity: bool = True) -> list[str]:
    """The exported graph's operator sequence.

    The exporter turns bit-identical initialisers (a fresh model's all-ones BatchNorm weights)
    into one tensor plus ``Identity`` nodes, so graphs of *different weights* are compared
    without those; with the same weights the sequences must match exactly.
    """
    import onnx

    buffer = io.BytesIO()
    torch.onnx.export(model.eval(), torch.randn(1, 3, 64, 96), buffer, opset_version=17, dynamo=False)
    ops = [n.op_type for n in onnx.load_from_string(buffer.getvalue()).graph.node]
    return ops if keep_identity else [op for op in ops if op != "Identity"]


def test_release_writes_a_plain_student_with_the_supervised_graph(distilled_run, capsys):
    cfg, out = distilled_run
    last = read_checkpoint(out / "run" / "last.pt")
    assert set(last["training_state"]["parts"]) == {"fam", "lam"}  # the ghost is the student's decoder: not stored
    assert not any(key.split(".")[0] in ("decoder", "bin_centers", "bin_probabilities")
                   for part in last["training_state"]["parts"].values() for key in part)
    assert release.main(["--checkpoint", str(out / "run" / "last.pt"), "--output", str(out / "student.pt")]) == 0
    assert "dropped training-only parts: fam, lam" in capsys.readouterr().out
    released = read_checkpoint(out / "student.pt")
    assert "training_state" not in released
    assert released["meta"]["distillation"]["method"] == "disdepth"
    assert released["meta"]["distillation"]["teacher_backbone"] == "swin_nano_patch4_window7"
    supervised = build_model_from_config(cfg.model)
    assert set(released["state_dict"]) == set(supervised.state_dict())
    student, _ = load_model(out / "student.pt")
    assert sum(p.numel() for p in student.parameters()) == sum(p.numel() for p in supervised.parameters())
    assert _onnx_ops(student, keep_identity=False) == _onnx_ops(supervised, keep_identity=False)
    supervised.load_state_dict(released["state_dict"])  # a supervised student holding these weights: same graph exactly
    assert _onnx_ops(student) == _onnx_ops(supervised)


def test_ghost_teacher_evaluation_reports_three_rows(distilled_run, tmp_path, capsys):
    cfg, out = distilled_run
    json_path = tmp_path / "t5.json"
    code = ghost_eval.main(["--checkpoint", str(out / "run" / "last.pt"), "--max-images", "2", "--no-progress",
                            "--save-json", str(json_path)])
    assert code == 0
    table = capsys.readouterr().out
    assert "Teacher w/ ghost decoder" in table
    results = json.loads(json_path.read_text())
    assert set(results) == {"teacher", "ghost_teacher", "student"}
    assert all(r["n_images"] == 2 and 0 < r["abs_rel"] < 10 for r in results.values())
    # A released (weights-only) file is refused with one line.
    release.main(["--checkpoint", str(out / "run" / "last.pt"), "--output", str(tmp_path / "plain.pt")])
    capsys.readouterr()
    assert ghost_eval.main(["--checkpoint", str(tmp_path / "plain.pt")]) == 2
    assert "records no training config" in capsys.readouterr().err


def _legacy_checkpoint(last, path, ghost=None):
    """``last`` as written while the ghost decoder was a stored deep copy: part ``ghost`` holding the
    student's decoder + heads state under the copy's keys (``decoder.*``, ``bin_centers.*``, ...)."""
    payload = read_checkpoint(last)
    if ghost is None:
        ghost = {k: v.clone() for k, v in payload["state_dict"].items() if k.split(".")[0] in ("decoder", "bin_centers", "bin_probabilities")}
    payload["training_state"]["parts"]["ghost"] = ghost
    atomic_torch_save(payload, path)
    return path


def test_old_checkpoints_with_a_stored_ghost_resume_release_and_evaluate(distilled_run, tmp_path, capsys):
    cfg, out = distilled_run
    last = out / "run" / "last.pt"
    legacy = _legacy_checkpoint(last, tmp_path / "legacy.pt")
    assert len(read_checkpoint(legacy)["training_state"]["parts"]["ghost"]) > 0
    # --resume: the redundant copy is ignored, everything else restored exactly.
    mapping = {**cfg.to_dict(), "log": {**cfg.to_dict()["log"], "out_dir": str(tmp_path / "resumed")}}
    resumed = Trainer(train_config_from_dict(mapping), resume=str(legacy), progress=False)
    current = Trainer(train_config_from_dict(mapping), resume=str(last), progress=False)
    for name in ("student", "fam", "lam"):
        want, got = current.module.parts[name].state_dict(), resumed.module.parts[name].state_dict()
        assert all(torch.equal(want[k], got[k]) for k in want), name
    assert resumed.global_step == current.global_step
    # training.release: a plain student, the old ghost dropped with the other training-only parts.
    capsys.readouterr()
    assert release.main(["--checkpoint", str(legacy), "--output", str(tmp_path / "student.pt")]) == 0
    assert "dropped training-only parts: fam, ghost, lam" in capsys.readouterr().out
    assert set(read_checkpoint(tmp_path / "student.pt")["state_dict"]) == set(read_checkpoint(last)["state_dict"])
    # training.ghost_eval: the same three rows as from the new-style checkpoint.
    rows = {}
    for name, path in (("new", last), ("legacy", legacy)):
        json_path = tmp_path / f"{name}.json"
        assert ghost_eval.main(["--checkpoint", str(path), "--max-images", "2", "--no-progress", "--save-json", str(json_path)]) == 0
        rows[name] = json.loads(json_path.read_text())
    assert rows["legacy"] == rows["new"]


def test_loading_stays_strict_apart_from_the_old_ghost(distilled_run, tmp_path):
    cfg, out = distilled_run
    payload = read_checkpoint(out / "run" / "last.pt")
    states = {STUDENT: payload["state_dict"], **payload["training_state"]["parts"]}
    module = build_training_module(cfg)
    module.load_trainable_state({**states, "ghost": {}}, "legacy")  # only the ghost part is ignored
    with pytest.raises(CheckpointMismatchError, match="unexpected \\['copy'\\]"):
        module.load_trainable_state({**states, "copy": {}}, "other")
    with pytest.raises(CheckpointMismatchError, match="missing \\['lam'\\]"):
        module.load_trainable_state({k: v for k, v in states.items() if k != "lam"}, "no lam")
    broken = {**states, "fam": {**states["fam"], "extra.weight": torch.zeros(1)}}
    with pytest.raises(CheckpointMismatchError):
        module.load_trainable_state(broken, "extra key")


def test_ghost_teacher_evaluation_takes_every_weight_from_the_checkpoint(distilled_run, monkeypatch, capsys):
    """A paper run records model.pretrained_backbone: timm-hub; Table 5 must not fetch ImageNet weights
    (offline it could not, and they would be overwritten anyway)."""
    from disdepth_core.models import pretrained

    def no_fetch(*args, **kwargs):
        raise AssertionError("ghost_eval fetched ImageNet weights")

    monkeypatch.setattr(pretrained, "_load_timm_hub", no_fetch)
    _, out = distilled_run
    code = ghost_eval.main(["--checkpoint", str(out / "run" / "last.pt"), "--max-images", "1", "--no-progress",
                            "--set", "model.pretrained_backbone=timm-hub"])
    assert code == 0, capsys.readouterr().err
