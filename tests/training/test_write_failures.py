"""Issue 20, cause 3: a checkpoint write that fails is one line naming the folder and the reason.

A full disk is simulated two ways (the write raising ``OSError(ENOSPC)``, and torch's own zip
writer failing with ``unexpected pos``, what a full disk gives when torch writes the file
itself); an unwritable folder by the temp file's creation raising ``PermissionError`` (the
tests run as root, which no chmod stops; ``tests/cli/test_output_rule.py`` uses /sys for a real
one). Each case checks exit status 2, exactly one ``error:`` line, and that no checkpoint was
lost: the previous ``last.pt`` still loads at its epoch, the released file is absent, the input
is byte-identical, and no temp file is left behind.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

import pytest
import torch
import yaml

from disdepth_core.models.checkpoint import read_checkpoint
from tests.conftest import tiny_train_config

TORCH_FULL_DISK = "[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"


def _fail(kind: str, monkeypatch, folder: Path, after: int = 0) -> None:
    """Make every checkpoint write into ``folder`` after the first ``after`` ones fail like ``kind``."""
    calls = []
    if kind == "permission":
        real_mkstemp = tempfile.mkstemp

        def mkstemp(*args, **kwargs):
            if Path(kwargs.get("dir") or "").resolve() == folder.resolve():
                calls.append(1)
                if len(calls) > after:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
            return real_mkstemp(*args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        return
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) > after:
            f.write(b"half a checkpoint")
            if kind == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise RuntimeError(TORCH_FULL_DISK)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


REASONS = {"enospc": "No space left on device", "torch-unexpected-pos": "the write stopped early, usually a full disk",
           "permission": "Permission denied"}


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if line.startswith("error:")]) == 1 and "Traceback" not in "\n".join(err), err
    return err[-1]


@pytest.mark.parametrize("kind", list(REASONS))
def test_training_checkpoint_write_failure(synthetic_root, tmp_path, monkeypatch, capsys, kind):
    from training.train import main

    out_dir = tmp_path / "run"
    data = tiny_train_config(synthetic_root, out_dir, epochs=2, max_iters_per_epoch=1)
    data["log"].update({"tensorboard": False, "val_every": 0, "image_every": 0})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    _fail(kind, monkeypatch, out_dir, after=1)  # the first epoch's last.pt is written, the second's fails
    assert main(["--config", str(config), "--no-progress"]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"error: cannot write a checkpoint in {out_dir}: {REASONS[kind]}"), line
    assert "the previous checkpoint there is intact" in line
    assert read_checkpoint(out_dir / "last.pt")["training_state"]["epoch"] == 1
    assert not list(out_dir.glob(".*.tmp"))


@pytest.mark.parametrize("kind", list(REASONS))
def test_release_write_failure(tiny_checkpoint, tmp_path, monkeypatch, capsys, kind):
    from training.release import main

    folder = tmp_path / "release"
    folder.mkdir()
    digest = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    _fail(kind, monkeypatch, folder)
    assert main(["--checkpoint", str(tiny_checkpoint), "--output", str(folder / "model.pt")]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"error: cannot write --output model.pt in folder {folder}: {REASONS[kind]}"), line
    assert line.endswith("; nothing was written"), line
    assert list(folder.iterdir()) == [] and hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest() == digest


def test_the_writer_failure_is_recognised_wherever_it_is_raised(synthetic_root, tmp_path, monkeypatch, capsys):
    """torch's message raised by the whole checkpoint save (not torch.save inside it) reads the same; a bug stays a bug."""
    import training.trainer
    from training.train import main

    out_dir = tmp_path / "run"
    data = tiny_train_config(synthetic_root, out_dir, epochs=1, max_iters_per_epoch=1)
    data["log"].update({"tensorboard": False, "val_every": 0, "image_every": 0})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))

    def failing(*args, **kwargs):
        raise RuntimeError(TORCH_FULL_DISK)

    monkeypatch.setattr(training.trainer, "save_checkpoint", failing)
    assert main(["--config", str(config), "--no-progress"]) == 2
    assert _error_line(capsys).startswith(f"error: cannot write a checkpoint in {out_dir}: the write stopped early")

    def buggy(*args, **kwargs):
        raise RuntimeError("a bug in the saver")

    monkeypatch.setattr(training.trainer, "save_checkpoint", buggy)
    (tmp_path / "c2.yaml").write_text(yaml.safe_dump({**data, "log": {**data["log"], "out_dir": str(tmp_path / "run2")}}))
    assert main(["--config", str(tmp_path / "c2.yaml"), "--no-progress"]) == 1
    assert "unexpected RuntimeError: a bug in the saver" in capsys.readouterr().err
