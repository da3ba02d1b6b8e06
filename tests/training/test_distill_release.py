"""After distillation: the released student is a plain student; Table 5's ghost-teacher evaluation runs."""

from __future__ import annotations

import io
import json

import pytest
import torch

from disdepth_core.models import build_student_from_config
from disdepth_core.models.checkpoint import load_student, read_checkpoint
from tests.training.test_distill import distill_mapping, teacher_checkpoint  # noqa: F401 - fixture
from training import ghost_eval, release
from training.config import train_config_from_dict
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
    assert set(last["training_state"]["parts"]) == {"fam", "lam", "ghost"}
    assert release.main(["--checkpoint", str(out / "run" / "last.pt"), "--output", str(out / "student.pt")]) == 0
    assert "dropped training-only parts: fam, ghost, lam" in capsys.readouterr().out
    released = read_checkpoint(out / "student.pt")
    assert "training_state" not in released
    assert released["meta"]["distillation"]["method"] == "disdepth"
    assert released["meta"]["distillation"]["teacher_backbone"] == "swin_nano_patch4_window7"
    supervised = build_student_from_config(cfg.model)
    assert set(released["state_dict"]) == set(supervised.state_dict())
    student, _ = load_student(out / "student.pt")
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
