"""Review fixes for release, ghost-eval and predict: wrong outputs refused up front, one clear line.

* release --output must be a checkpoint name (.pt, .pth, .safetensors): ``rel.onnx`` used to be a
  torch zip no loader would open;
* an output file given with a trailing ``/`` (``newdir/``) is refused: it used to become a FILE;
* predict's intrinsics are checked (finite, focal lengths > 0) before the model loads, and a run
  that writes nothing leaves no empty --out folder;
* a corrupt video's FFmpeg lines do not precede the error line;
* a file that is not a checkpoint (an image) is named as such, without torch's advice to load it
  with ``weights_only=False``;
* ghost-eval --max-images -1 is an argparse range error (before any model loads);
* ``.safetensors`` checkpoints get the same permissions as ``.pt`` ones (and are fsynced).

Each CLI case runs the real command in a subprocess, like tests/cli/test_cli_errors.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.cli.cli_runner import cli_env, run_case



class Case(NamedTuple):
    name: str
    argv: list[str]  # "{tmp}" is the module's scratch folder; a first item "-m" runs that module instead of the CLI
    expected: str  # must appear in the single error line
    absent: tuple[str, ...] = ()  # paths that must not exist afterwards
    not_in_stderr: tuple[str, ...] = ()  # words that must not appear anywhere on stderr


CKPT = "{tmp}/tiny.pt"
SUFFIXES = "must end in .pt, .pth or .safetensors"
FOLDER_SLASH = "ends with a path separator, so it names a folder; give the file to write"
NOT_A_CHECKPOINT = "it is not a DisDepth checkpoint (a corrupt copy or a file of another format)"
CASES = [
    # A: a release file no loader would open
    Case("release-output-onnx", ["release", "--checkpoint", CKPT, "--output", "{tmp}/rel.onnx"],
         f"--output {{tmp}}/rel.onnx {SUFFIXES} (a DisDepth checkpoint), e.g. rel.pt", absent=("{tmp}/rel.onnx",)),
    Case("release-output-no-suffix", ["release", "--checkpoint", CKPT, "--output", "{tmp}/relx"],
         f"--output {{tmp}}/relx {SUFFIXES}", absent=("{tmp}/relx",)),
    Case("training.release-output-engine", ["-m", "training.release", "--checkpoint", CKPT, "--output", "{tmp}/rel.engine"],
         SUFFIXES, absent=("{tmp}/rel.engine",)),
    # B: a trailing separator names a folder
    Case("release-output-trailing-slash", ["release", "--checkpoint", CKPT, "--output", "{tmp}/newdir/"],
         f"--output {{tmp}}/newdir/ {FOLDER_SLASH}, e.g. {{tmp}}/newdir/model.pt", absent=("{tmp}/newdir",)),
    Case("ghost-eval-save-json-trailing-slash", ["ghost-eval", "--checkpoint", CKPT, "--save-json", "{tmp}/ndir/"],
         f"--save-json {{tmp}}/ndir/ {FOLDER_SLASH}, e.g. {{tmp}}/ndir/ghost.json", absent=("{tmp}/ndir",)),
    # D: intrinsics checked before the model loads; no empty --out left behind
    Case("predict-fx-nan", ["predict", "{tmp}/img.png", "--model", CKPT, "--backend", "torch", "--out", "{tmp}/out_nan",
                            "--fx", "nan", "--fy", "50", "--cx", "32", "--cy", "24"],
         "--fx nan --fy 50 --cx 32 --cy 24: invalid focal length fx=nan fy=50 (must be finite and > 0)",
         absent=("{tmp}/out_nan",), not_in_stderr=("camera_info",)),
    Case("predict-fy-negative", ["predict", "{tmp}/img.png", "--model", CKPT, "--out", "{tmp}/out_neg",
                                 "--fx", "50", "--fy", "-50", "--cx", "32", "--cy", "24"],
         "invalid focal length fx=50 fy=-50 (must be finite and > 0)", absent=("{tmp}/out_neg",)),
    Case("predict-cx-inf", ["predict", "{tmp}/img.png", "--model", CKPT, "--out", "{tmp}/out_inf",
                            "--fx", "50", "--fy", "50", "--cx", "inf", "--cy", "24"],
         "invalid principal point cx=inf cy=24 (must be finite)", absent=("{tmp}/out_inf",)),
    Case("predict-no-readable-frame", ["predict", "{tmp}/broken_images", "--model", CKPT, "--backend", "torch",
                                       "--out", "{tmp}/out_none", "--no-progress"],
         "no frame could be read from {tmp}/broken_images", absent=("{tmp}/out_none",)),
    # E: FFmpeg's own lines do not precede the error
    Case("predict-corrupt-video", ["predict", "{tmp}/fake.mp4", "--model", CKPT, "--out", "{tmp}/out_video"],
         "cannot open video {tmp}/fake.mp4 (not a video", absent=("{tmp}/out_video",), not_in_stderr=("moov", "[mov")),
    # F: not a checkpoint, without torch's weights_only=False advice
    Case("release-checkpoint-png", ["release", "--checkpoint", "{tmp}/img.png", "--output", "{tmp}/r.pt"],
         f"cannot read checkpoint {{tmp}}/img.png (corrupt, truncated or not a PyTorch file): {NOT_A_CHECKPOINT}",
         absent=("{tmp}/r.pt",), not_in_stderr=("weights_only", "Weights only")),
    Case("ghost-eval-checkpoint-png", ["ghost-eval", "--checkpoint", "{tmp}/img.png", "--no-progress"],
         NOT_A_CHECKPOINT, not_in_stderr=("weights_only", "Weights only")),
    # G: a negative image count is a parse error, before anything loads
    Case("ghost-eval-max-images-negative", ["ghost-eval", "--checkpoint", CKPT, "--max-images", "-1"],
         "argument --max-images: -1 is out of range: expected an integer >= 0", not_in_stderr=("training config",)),
    Case("ghost-eval-max-images-not-int", ["ghost-eval", "--checkpoint", CKPT, "--max-images", "ten"],
         "argument --max-images: 'ten' is not an integer"),
]


def _materialise(tmp: Path, tiny_checkpoint: Path) -> None:
    import cv2
    import numpy as np

    shutil.copy(tiny_checkpoint, tmp / "tiny.pt")
    cv2.imwrite(str(tmp / "img.png"), np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    (tmp / "broken_images").mkdir()
    (tmp / "broken_images" / "a.png").write_bytes(b"not a PNG at all")
    (tmp / "fake.mp4").write_bytes(b"garbage, not a video")


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("review_fixes")
    _materialise(tmp, tiny_checkpoint)
    env = cli_env(unset=("DISDEPTH_DEBUG", "OPENCV_FFMPEG_LOGLEVEL", "OPENCV_FFMPEG_DEBUG"))

    def run(case: Case) -> subprocess.CompletedProcess:
        return run_case(case.argv, tmp, env)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return tmp, dict(zip((case.name for case in CASES), pool.map(run, CASES)))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_mistake_is_one_line_and_writes_nothing(case: Case, results) -> None:
    tmp, outcomes = results
    out = outcomes[case.name]
    fill = lambda text: text.replace("{tmp}", str(tmp))  # noqa: E731
    assert out.returncode == 2, f"exit {out.returncode}: {out.stdout[-1500:]}{out.stderr[-1500:]}"
    assert "Traceback" not in out.stderr + out.stdout, out.stderr[-3000:]
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "error: " in lines[0], f"expected one error line, got:\n{out.stderr[-3000:]}"
    assert fill(case.expected) in lines[0], lines[0]
    assert "unexpected" not in lines[0], f"a user error reached the safety net: {lines[0]}"
    for words in case.not_in_stderr:
        assert words not in out.stderr, out.stderr
    for path in case.absent:
        assert not Path(fill(path)).exists(), f"{fill(path)} was written"


# --- the pieces on their own -----------------------------------------------------------------------


@pytest.mark.parametrize("path, is_folder, refused", [
    ("{tmp}/newdir/", False, True),
    ("{tmp}/newdir" + os.sep, False, True),
    ("{tmp}/sub/m.json/", False, True),
    ("{tmp}/newdir/", True, False),  # a rosbag2 output is a folder: "out/" is fine
    ("{tmp}/model.pt", False, False),
])
def test_check_output_file_refuses_a_path_written_as_a_folder(tmp_path, path, is_folder, refused) -> None:
    from disdepth_core.output_paths import OutputPathError, check_output_file

    path = path.replace("{tmp}", str(tmp_path))
    if refused:
        with pytest.raises(OutputPathError, match="ends with a path separator, so it names a folder"):
            check_output_file(path, "--output", is_folder=is_folder)
    else:
        assert check_output_file(path, "--output", is_folder=is_folder) == Path(path)
    assert list(tmp_path.iterdir()) == []


class Pickled:
    """A Python object: torch.load(weights_only=True) refuses its class."""


def test_checkpoint_with_pickled_objects_is_named_without_torchs_advice(tmp_path) -> None:
    import torch

    from disdepth_core.models.checkpoint import CheckpointError, read_checkpoint

    path = tmp_path / "model_object.pt"
    torch.save({"model": Pickled()}, path)
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a DisDepth checkpoint: it holds pickled Python objects ("), message
    assert "Pickled" in message and "weights_only" not in message and "\n" not in message


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask-022", "umask-027"])
def test_safetensors_and_pt_outputs_get_the_same_mode_and_are_fsynced(tmp_path, tiny_checkpoint, monkeypatch, umask) -> None:
    """mkstemp makes 0600; both formats end as 0666 & ~umask (a node running as another user reads them)."""
    from disdepth_core.models import checkpoint
    from disdepth_core.models.checkpoint import load_model, read_checkpoint, save_checkpoint

    model, _ = load_model(tiny_checkpoint)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    previous = os.umask(umask)
    try:
        modes = {}
        for suffix in (".pt", ".safetensors"):
            synced.clear()
            path = tmp_path / f"model{suffix}"
            save_checkpoint(path, model, model.cfg, {"dataset": "nyu"})
            modes[suffix] = path.stat().st_mode & 0o777
            assert synced, f"{suffix}: nothing was fsynced"
    finally:
        os.umask(previous)
    assert modes[".pt"] == modes[".safetensors"] == 0o666 & ~umask, {k: oct(v) for k, v in modes.items()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "model.safetensors"]  # no temp file left
    assert read_checkpoint(tmp_path / "model.safetensors")["meta"] == {"dataset": "nyu"}
