"""Every ``disdepth`` subcommand with bad input: non-zero exit, one clear error line, no traceback.

Each case runs the real CLI (``python -m disdepth_cli``) in a subprocess with this checkout
on PYTHONPATH. The cases run concurrently once per module (most of the wall time is importing
torch) and each parametrized test then checks its own result, so a failure names its case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from tests.cli.cli_runner import cli_env, run_case
from tests.conftest import tiny_train_config

REPO = Path(__file__).resolve().parents[2]


class Case(NamedTuple):
    name: str
    argv: list[str]  # "{tmp}" is replaced by the module's scratch folder
    expected: str  # must appear in the single error line


CASES = [
    # issue 11's tracebacks
    Case("info-empty-checkpoint", ["info", "--model", "{tmp}/empty.pt"], "is empty (0 bytes)"),
    Case("eval-empty-checkpoint", ["eval", "--config", "{tmp}/cfg.yaml", "--checkpoint", "{tmp}/empty.pt", "--no-progress"],
         "is empty (0 bytes)"),
    Case("export-empty-checkpoint", ["export", "--checkpoint", "{tmp}/empty.pt", "--output", "{tmp}/out.onnx"], "is empty (0 bytes)"),
    Case("bench-empty-checkpoint", ["bench", "{tmp}/empty.pt", "--iters", "1"], "is empty (0 bytes)"),
    Case("train-resume-empty-checkpoint", ["train", "--config", "{tmp}/cfg.yaml", "--resume", "{tmp}/empty.pt", "--no-progress"],
         "is empty (0 bytes)"),
    Case("demo-offline-empty-checkpoint", ["demo", "--offline", "--model", "{tmp}/empty.pt", "--data", "{tmp}/demo_data"],
         "is empty (0 bytes)"),
    Case("train-config-missing", ["train", "--config", "{tmp}/missing.yaml"], "config file not found"),
    Case("train-resume-missing", ["train", "--config", "{tmp}/cfg.yaml", "--resume", "{tmp}/missing.pt"], "checkpoint not found"),
    Case("train-without-config", ["train"], "required: --config"),
    Case("demo-frames-0", ["demo", "--frames", "0"], "argument --frames: 0 is out of range"),
    Case("demo-rate-0", ["demo", "--rate", "0"], "argument --rate: 0 is out of range"),
    Case("demo-rate-nan", ["demo", "--rate", "nan"], "argument --rate: nan is out of range"),
    Case("export-opset-5", ["export", "--checkpoint", "{tmp}/empty.pt", "--output", "{tmp}/o.onnx", "--opset", "5"],
         "argument --opset: 5 is out of range: expected an integer from 11 to"),
    Case("bench-threads-negative", ["bench", "{tmp}/empty.pt", "--threads", "-1"], "argument --threads: -1 is out of range"),
    Case("synth-out-existing-file", ["synth", "--out", "{tmp}/existing.txt", "--train", "1", "--test", "1"], "is an existing file"),
    Case("eval-truncated-png", ["eval", "--config", "{tmp}/cfg_truncated.yaml", "--checkpoint", "{tmp}/tiny.pt", "--no-progress"],
         "could not decode image file (corrupt or truncated"),
    Case("info-missing-file", ["info", "--model", "missing.pt"], "model file not found: missing.pt"),
    Case("demo-offline-missing-model", ["demo", "--offline", "--model", "{tmp}/missing.pt"], "model file not found"),
    # the other obvious ones: missing files, wrong types, out-of-range numbers, wrong combinations
    Case("no-command", [], "required: COMMAND"),
    Case("unknown-command", ["frobnicate"], "invalid choice: 'frobnicate'"),
    Case("info-bad-input-size", ["info", "--model", "resnet18", "--input-size", "352"], "is not of the form HxW"),
    Case("info-onnx-file", ["info", "--model", "{tmp}/existing.onnx"], "is an exported model"),
    Case("synth-negative-train", ["synth", "--out", "{tmp}/s", "--train", "-1"], "argument --train: -1 is out of range"),
    Case("synth-train-not-int", ["synth", "--out", "{tmp}/s", "--train", "ten"], "'ten' is not an integer"),
    Case("synth-zero-size", ["synth", "--out", "{tmp}/s", "--size", "0x64"], "must be positive"),
    Case("synth-nothing", ["synth", "--out", "{tmp}/s", "--train", "0", "--test", "0"], "nothing to generate"),
    Case("synth-frames-per-scene-0", ["synth", "--out", "{tmp}/s", "--frames-per-scene", "0"], "--frames-per-scene: 0 is out of range"),
    Case("eval-missing-config", ["eval", "--config", "{tmp}/missing.yaml", "--checkpoint", "{tmp}/tiny.pt"], "not found"),
    Case("demo-images-negative", ["demo", "--offline", "--images", "-2"], "argument --images: -2 is out of range"),
    Case("export-missing-checkpoint", ["export", "--checkpoint", "{tmp}/missing.pt", "--output", "{tmp}/o.onnx"], "not found"),
    Case("export-onnx-without-checkpoint", ["export", "--output", "{tmp}/o.onnx"], "needs --checkpoint"),
    Case("export-workspace-0", ["export", "--format", "engine", "--onnx", "x.onnx", "--output", "x.engine", "--workspace-mb", "0"],
         "argument --workspace-mb: 0 is out of range"),
    Case("export-opset-not-int", ["export", "--output", "o.onnx", "--opset", "17.5"], "'17.5' is not an integer"),
    Case("bench-missing-model", ["bench", "{tmp}/missing.onnx"], "model file not found"),
    Case("bench-iters-0", ["bench", "{tmp}/empty.pt", "--iters", "0"], "argument --iters: 0 is out of range"),
    Case("bench-unknown-backend", ["bench", "{tmp}/existing.onnx", "--compare", "torch,cuda"], "unknown backend(s) cuda"),
    Case("node-missing-params", ["node", "--params", "{tmp}/missing.yaml"], "params file not found"),
    Case("node-params-typo", ["node", "--params", "{tmp}/params_typo.yaml"],
         "line 3: unknown parameter 'max_detph' (did you mean 'max_depth'?) under 'depth_node'"),
    Case("node-params-no-level", ["node", "--params", "{tmp}/params_no_level.yaml"],
         "line 2: 'max_depth' sits directly under 'depth_node' without the 'ros__parameters' level"),
    Case("node-params-malformed", ["node", "--params", "{tmp}/params_malformed.yaml"], "malformed YAML at line 4, column 1"),
    Case("node-missing-model", ["node", "--model", "{tmp}/missing.pt"], "model file not found"),
    Case("node-empty-model", ["node", "--model", "{tmp}/empty.pt"], "is empty (0 bytes)"),
    # issue 20, cause 6: messages that misled
    Case("synth-seed-negative", ["synth", "--out", "{tmp}/s", "--seed", "-1"],
         "argument --seed: -1 is out of range: expected an integer from 0 to 4294967295"),
    Case("synth-seed-too-large", ["synth", "--bag", "{tmp}/b", "--seed", "4294967296"], "argument --seed: 4294967296 is out of range"),
    Case("synth-size-huge", ["synth", "--out", "{tmp}/s", "--size", "100000x100000"],
         "argument --size: '100000x100000' is out of range: height and width must be at most 4096 pixels"),
    Case("synth-size-one-side-huge", ["synth", "--bag", "{tmp}/b", "--size", "64x50000"], "argument --size: '64x50000' is out of range"),
    Case("demo-offline-out-file", ["demo", "--offline", "--out", "{tmp}/existing.txt"], "--out {tmp}/existing.txt is an existing file"),
    Case("demo-offline-data-file", ["demo", "--offline", "--data", "{tmp}/existing.txt", "--out", "{tmp}/demo_out"],
         "--data {tmp}/existing.txt is an existing file"),
    Case("eval-save-json-under-a-file", ["eval", "--config", "{tmp}/cfg.yaml", "--checkpoint", "{tmp}/tiny.pt", "--save-json",
                                         "{tmp}/existing.txt/m.json"], "{tmp}/existing.txt is a file, not a folder"),
    Case("predict-model-folder", ["predict", "{tmp}/existing.txt", "--model", "{tmp}/good"], "model file {tmp}/good is a folder"),
    Case("bag-eval-model-folder", ["bag-eval", "{tmp}/good", "--model", "{tmp}/good", "--image-topic", "/i", "--out", "{tmp}/be"],
         "model file {tmp}/good is a folder"),
    Case("release-checkpoint-folder", ["release", "--checkpoint", "{tmp}/good", "--output", "{tmp}/r.pt"],
         "checkpoint {tmp}/good is a folder"),
    Case("bench-compare-nothing", ["bench", "{tmp}/existing.onnx", "--compare", ",,,"], "--compare ',,,' names no backend"),
    Case("train-lr-nan", ["train", "--config", "{tmp}/cfg.yaml", "--set", "optim.lr=nan"], "optim.lr must be a finite number, got nan"),
    Case("train-batch-size-0", ["train", "--config", "{tmp}/cfg.yaml", "--set", "optim.batch_size=0"],
         "optim.batch_size must be an integer >= 1, got 0 (from --set optim.batch_size=0)"),
]

SLOW_CASES = {"eval-truncated-png"}


def _materialise(tmp: Path) -> None:
    """Scratch files the cases refer to: broken checkpoints, a config, a dataset with a truncated PNG."""
    import shutil

    from disdepth_core.synthetic.dataset_writer import generate_dataset

    (tmp / "empty.pt").write_bytes(b"")
    (tmp / "existing.txt").write_text("a file, not a folder\n")
    (tmp / "existing.onnx").write_bytes(b"\x08\x07")
    (tmp / "params_typo.yaml").write_text("depth_node:\n  ros__parameters:\n    max_detph: 5.0\n")
    (tmp / "params_no_level.yaml").write_text("depth_node:\n  max_depth: 5.0\n")
    (tmp / "params_malformed.yaml").write_text("depth_node:\n  ros__parameters:\n    max_depth: [5.0\n")
    generate_dataset(tmp / "good", "nyu", n_train=4, n_test=2, seed=1, height=48, width=64, frames_per_scene=2, progress=False)
    shutil.copytree(tmp / "good", tmp / "truncated")
    # NYU-format RGB frames are JPEG; the ground-truth depth maps are 16-bit PNGs: cut those in half.
    depth_pngs = sorted((tmp / "truncated" / "nyu" / "test").rglob("*.png"))
    assert depth_pngs, "synthetic NYU test split has no PNG files"
    for png in depth_pngs:
        data = png.read_bytes()
        png.write_bytes(data[: len(data) // 2])
    for name, root in (("cfg.yaml", tmp / "good"), ("cfg_truncated.yaml", tmp / "truncated")):
        (tmp / name).write_text(yaml.safe_dump(tiny_train_config(root, tmp / f"run_{name}")))


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_checkpoint) -> dict[str, subprocess.CompletedProcess | Path]:
    import shutil

    tmp = tmp_path_factory.mktemp("cli_errors")
    _materialise(tmp)
    shutil.copy(tiny_checkpoint, tmp / "tiny.pt")
    env = cli_env(ROS_DOMAIN_ID="0")

    def run(case: Case) -> subprocess.CompletedProcess:
        return run_case(case.argv, tmp, env)

    # The one case that loads torch and a model starts first; the cheap ones fill the other workers.
    ordered = sorted(CASES, key=lambda case: case.name not in SLOW_CASES)
    with ThreadPoolExecutor(max_workers=3) as pool:
        return {"tmp": tmp, **dict(zip((case.name for case in ordered), pool.map(run, ordered)))}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_one_clear_line(case: Case, results) -> None:
    out = results[case.name]
    stderr = out.stderr
    assert out.returncode != 0, f"exit 0 for {case.argv}: {out.stdout[-1500:]}"
    assert "Traceback" not in stderr and "Traceback" not in out.stdout, stderr[-3000:]
    assert "libpng" not in stderr, stderr[-3000:]
    error_lines = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, f"expected one error line, got:\n{stderr[-3000:]}"
    assert case.expected.replace("{tmp}", str(results["tmp"])) in error_lines[0], error_lines[0]
    assert "unexpected" not in error_lines[0], f"a user error reached the safety net: {error_lines[0]}"


def _cli(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    if "DISDEPTH_DEBUG" not in env:
        full_env.pop("DISDEPTH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "disdepth_cli", *argv], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=120)


def test_debug_switch_and_env_show_the_traceback(tmp_path) -> None:
    """Tracebacks stay one switch away for bug reports: ``--debug`` (either position) or DISDEPTH_DEBUG=1."""
    (tmp_path / "file").write_text("x")
    argv = ["synth", "--out", str(tmp_path / "file")]
    for out in (_cli(["--debug", *argv], tmp_path), _cli([*argv, "--debug"], tmp_path), _cli(argv, tmp_path, DISDEPTH_DEBUG="1")):
        assert out.returncode != 0
        assert "Traceback" in out.stderr and "UserError" in out.stderr, out.stderr[-2000:]


def test_unexpected_exception_is_one_line_naming_the_switch(monkeypatch, capsys) -> None:
    """The safety net: a bug (not a user error) prints its type and message and how to see the traceback."""
    import disdepth_cli as cli
    from disdepth_cli import info
    from disdepth_core.entry_point import EXIT_BUG

    def broken(_args):
        raise RuntimeError("boom\nsecond line of a long library message")

    monkeypatch.setattr(info, "run", broken)
    monkeypatch.delenv("DISDEPTH_DEBUG", raising=False)
    assert cli.main(["info", "--model", "resnet18"]) == EXIT_BUG
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: unexpected RuntimeError: boom second line") and "--debug" in err and "DISDEPTH_DEBUG=1" in err
    monkeypatch.setenv("DISDEPTH_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["info", "--model", "resnet18"])


def test_train_accepts_the_documented_options(monkeypatch, tmp_path) -> None:
    """``disdepth train --config X ...`` reaches training.train's ``run`` with the options parsed by its own parser."""
    import training.train

    import disdepth_cli as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg.yaml").write_text("data: {}\n")
    seen = {}
    monkeypatch.setattr(training.train, "run", lambda args: seen.setdefault("args", args) and 0)
    argv = ["--config", "cfg.yaml", "--resume", "--set", "optim.epochs=2", "--no-progress"]
    assert cli.main(["--debug", "train", *argv, "--debug"]) == 0
    args = seen["args"]
    assert (args.config, args.resume, args.overrides, args.no_progress, args.device) == ("cfg.yaml", "auto", ["optim.epochs=2"], True, "auto")
    assert vars(args) == vars(training.train.build_parser().parse_args([*argv, "--debug"])) | {"command": "train", "handler": args.handler}


def test_truncated_png_error_has_no_raw_decoder_lines(tmp_path, capfd) -> None:
    """The codec's own stderr lines are folded into the ValueError, not printed."""
    import cv2
    import numpy as np

    from disdepth_core.data.io import read_depth_png

    depth = (np.arange(64 * 80, dtype=np.uint32).reshape(64, 80) * 7 % 65535).astype(np.uint16)
    data = cv2.imencode(".png", depth)[1].tobytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"could not decode image file \(corrupt or truncated: .+\): .*cut\.png"):
        read_depth_png(path, 1000.0)
    captured = capfd.readouterr()
    assert "libpng" not in captured.err and "grfmt" not in captured.err, captured.err
    (tmp_path / "ok.png").write_bytes(data)
    assert read_depth_png(tmp_path / "ok.png", 1000.0).shape == (64, 80)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_checkpoint_reader_names_the_file_for_empty_and_corrupt_files(tmp_path, tiny_checkpoint, suffix) -> None:
    """The reader used by info/eval/export/bench/node/train --resume/demo: one clear message per broken file."""
    from disdepth_core.models.checkpoint import CheckpointError, read_checkpoint

    empty, cut, text = tmp_path / f"empty{suffix}", tmp_path / f"cut{suffix}", tmp_path / f"text{suffix}"
    empty.write_bytes(b"")
    cut.write_bytes(tiny_checkpoint.read_bytes()[:5000])
    text.write_text("not a checkpoint\n")
    with pytest.raises(CheckpointError, match=rf"checkpoint .*empty{suffix} is empty \(0 bytes\)"):
        read_checkpoint(empty)
    for path in (cut, text):
        with pytest.raises(CheckpointError, match=rf"cannot read checkpoint .*{path.name} \(corrupt, truncated or not a"):
            read_checkpoint(path)


def test_demo_offline_falls_back_to_the_bundled_recipe(tmp_path, monkeypatch, capsys) -> None:
    """A model without synth.yaml/config.yaml beside it uses the bundled demo's, saying so; else names what is missing."""
    from disdepth_core import bundled_models
    from disdepth_cli.demo_offline import demo_file

    model = tmp_path / "mine" / "model.pt"
    model.parent.mkdir()
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "synth.yaml").write_text("kind: nyu\n")
    monkeypatch.setattr(bundled_models, "demo_dir_candidates", lambda: [bundled])
    assert demo_file(model, "synth.yaml") == bundled / "synth.yaml"
    assert f"note: no synth.yaml beside {model}; using the default demo synth.yaml from {bundled}" in capsys.readouterr().out
    (model.parent / "synth.yaml").write_text("kind: kitti\n")
    assert demo_file(model, "synth.yaml") == model.parent / "synth.yaml"
    with pytest.raises(FileNotFoundError, match=rf"demo --offline needs config.yaml beside {model} or in the bundled demo folder"):
        demo_file(model, "config.yaml")
