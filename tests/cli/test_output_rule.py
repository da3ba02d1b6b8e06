"""Issue 20, cause 1: no command writes over one of its inputs or an earlier result.

Each case runs the real command in a subprocess (``python -m disdepth_cli`` or the
``python -m training.*`` form the issue names), checks the exit status, exactly one error
line with the expected words and no traceback, and compares the sha256 of every file the
case protects before and after (and that nothing was written where nothing may be). The paths
are made up per case, so the rule is what is tested, not a file name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
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
    argv: list[str]  # "{tmp}" is the module's scratch folder; a first item "-m" runs that module instead of the CLI
    expected: str  # must appear in the single error line
    kept: tuple[str, ...] = ()  # files whose bytes must not change
    absent: tuple[str, ...] = ()  # paths that must not exist afterwards


CKPT = "{tmp}/run/ckpt.pt"
CASES = [
    Case("release-over-its-checkpoint", ["release", "--checkpoint", CKPT, "--output", CKPT],
         "is the same file as --checkpoint", kept=(CKPT,)),
    Case("training.release-over-its-checkpoint", ["-m", "training.release", "--checkpoint", "{tmp}/run/last.pt",
                                                  "--output", "{tmp}/run/last.pt"],
         "is the same file as --checkpoint", kept=("{tmp}/run/last.pt",)),
    Case("release-over-a-hard-link-of-it", ["release", "--checkpoint", CKPT, "--output", "{tmp}/hardlink.pt"],
         "is the same file as --checkpoint", kept=(CKPT,)),
    Case("release-over-a-symlink-to-it", ["release", "--checkpoint", CKPT, "--output", "{tmp}/symlink.pt"],
         "is the same file as --checkpoint", kept=(CKPT,)),
    Case("release-over-an-existing-file", ["release", "--checkpoint", CKPT, "--output", "{tmp}/other.pt"],
         "already exists; choose a new path or delete it", kept=("{tmp}/other.pt", CKPT)),
    Case("release-write-config-folder-missing", ["release", "--checkpoint", CKPT, "--output", "{tmp}/r1.pt",
                                                "--write-config", "{tmp}/no/such/c.yaml"],
         "--write-config folder", absent=("{tmp}/r1.pt",)),
    Case("release-write-config-without-train-config", ["release", "--checkpoint", CKPT, "--output", "{tmp}/r2.pt",
                                                      "--write-config", "{tmp}/c2.yaml"],
         "records no training config", absent=("{tmp}/r2.pt", "{tmp}/c2.yaml")),
    Case("release-write-config-is-the-output", ["release", "--checkpoint", CKPT, "--output", "{tmp}/r3.pt",
                                               "--write-config", "{tmp}/r3.pt"],
         "--write-config", absent=("{tmp}/r3.pt",)),
    Case("export-over-its-checkpoint", ["export", "--checkpoint", CKPT, "--output", CKPT],
         "is the same file as --checkpoint", kept=(CKPT,)),
    Case("export-over-an-existing-onnx", ["export", "--checkpoint", CKPT, "--output", "{tmp}/robot.onnx"],
         "already exists", kept=("{tmp}/robot.onnx",)),
    Case("export-engine-over-an-existing-intermediate-onnx", ["export", "--format", "engine", "--checkpoint", CKPT,
                                                             "--output", "{tmp}/robot.engine"],
         "build from it with --onnx", kept=("{tmp}/robot.onnx",), absent=("{tmp}/robot.engine",)),
    Case("train-over-a-finished-run", ["train", "--config", "{tmp}/run.yaml", "--no-progress"],
         "already holds a run (last.pt and best.pt)", kept=("{tmp}/run/best.pt", "{tmp}/run/last.pt")),
    Case("train-out-dir-over-a-finished-run", ["-m", "training.train", "--config", "{tmp}/fresh.yaml", "--out-dir",
                                               "{tmp}/run", "--no-progress"],
         "continue it with --resume, or give a fresh --out-dir", kept=("{tmp}/run/best.pt", "{tmp}/run/last.pt")),
    Case("train-resume-another-checkpoint-into-a-run", ["train", "--config", "{tmp}/run.yaml", "--resume", CKPT,
                                                       "--no-progress"],
         "holds another run's last.pt and best.pt", kept=("{tmp}/run/best.pt", "{tmp}/run/last.pt")),
    Case("eval-save-json-over-an-existing-file", ["eval", "--config", "{tmp}/run.yaml", "--checkpoint", CKPT,
                                                 "--save-json", "{tmp}/m.json"],
         "already exists", kept=("{tmp}/m.json",)),
    Case("eval-save-json-over-its-config", ["eval", "--config", "{tmp}/run.yaml", "--checkpoint", CKPT,
                                           "--save-json", "{tmp}/run.yaml"],
         "is the same file as --config", kept=("{tmp}/run.yaml",)),
    Case("predict-out-is-the-input-folder", ["predict", "{tmp}/images", "--model", CKPT, "--out", "{tmp}/images"],
         "is also the input folder", kept=("{tmp}/images/a.png", "{tmp}/images/a.jpg"), absent=("{tmp}/images/a_png_depth.png",)),
    Case("predict-out-holds-earlier-outputs", ["predict", "{tmp}/images", "--model", CKPT, "--out", "{tmp}/predicted"],
         "already holds a_png_depth.png", kept=("{tmp}/predicted/a_png_depth.png",), absent=("{tmp}/predicted/a_jpg_depth.png",)),
    Case("bag-eval-out-holds-a-report", ["bag-eval", "{tmp}/bag", "--model", CKPT, "--image-topic", "/cam/image",
                                        "--out", "{tmp}/report"],
         "already holds metrics.json", kept=("{tmp}/report/metrics.json",)),
    Case("bag-eval-write-bag-over-the-input-bag", ["bag-eval", "{tmp}/bag", "--model", CKPT, "--image-topic", "/cam/image",
                                                  "--out", "{tmp}/report2", "--write-bag", "{tmp}/bag"],
         "is the same file as the input bag", kept=("{tmp}/bag/metadata.yaml",), absent=("{tmp}/report2",)),
    Case("bag-eval-out-is-the-bag-folder", ["bag-eval", "{tmp}/bag", "--model", CKPT, "--image-topic", "/cam/image",
                                           "--out", "{tmp}/bag"],
         "is also the input bag", absent=("{tmp}/bag/metrics.json",)),
    Case("synth-out-holds-a-dataset", ["synth", "--out", "{tmp}/dataset", "--dataset", "nyu", "--train", "1", "--test", "1"],
         "already holds nyu", kept=("{tmp}/dataset/nyu/splits/test.txt",)),
    Case("synth-bag-over-an-existing-bag", ["synth", "--bag", "{tmp}/bag", "--test", "1"],
         "already exists", kept=("{tmp}/bag/metadata.yaml",)),
    Case("ghost-eval-save-json-over-an-existing-file", ["ghost-eval", "--checkpoint", CKPT, "--save-json", "{tmp}/m.json"],
         "already exists", kept=("{tmp}/m.json",)),
    Case("demo-offline-out-is-a-file", ["demo", "--offline", "--out", "{tmp}/m.json"], "is an existing file; give a folder",
         kept=("{tmp}/m.json",)),
]
if importlib.util.find_spec("tensorrt") is None:
    CASES.append(Case("export-engine-without-tensorrt-writes-nothing",
                      ["export", "--format", "engine", "--checkpoint", CKPT, "--output", "{tmp}/fresh/robot.engine"],
                      "needs the tensorrt package", absent=("{tmp}/fresh/robot.onnx", "{tmp}/fresh")))


def _materialise(tmp: Path, tiny_checkpoint: Path) -> None:
    """The inputs and earlier results the cases protect."""
    import cv2
    import numpy as np

    from disdepth_core.bags.writer import BagWriter, MessageFactory

    run = tmp / "run"
    run.mkdir()
    for name in ("ckpt.pt", "last.pt", "best.pt"):
        shutil.copy(tiny_checkpoint, run / name)
    os.link(run / "ckpt.pt", tmp / "hardlink.pt")
    (tmp / "symlink.pt").symlink_to(run / "ckpt.pt")
    (tmp / "other.pt").write_bytes(b"an earlier release")
    (tmp / "robot.onnx").write_bytes(b"an ONNX the user keeps")
    (tmp / "m.json").write_text('{"earlier": "metrics"}\n')
    for name, out_dir in (("run.yaml", run), ("fresh.yaml", tmp / "fresh_run")):
        (tmp / name).write_text(yaml.safe_dump(tiny_train_config(tmp / "data", out_dir)))
    images = tmp / "images"
    images.mkdir()
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(images / "a.png"), rgb)
    cv2.imwrite(str(images / "a.jpg"), rgb)
    (tmp / "predicted").mkdir()
    (tmp / "predicted" / "a_png_depth.png").write_bytes(b"an earlier depth PNG")
    (tmp / "report").mkdir()
    (tmp / "report" / "metrics.json").write_text("{}\n")
    (tmp / "dataset" / "nyu" / "splits").mkdir(parents=True)
    (tmp / "dataset" / "nyu" / "splits" / "test.txt").write_text("rgb.jpg depth.png 518.8\n")
    factory = MessageFactory()
    with BagWriter(tmp / "bag", "sqlite3") as writer:
        writer.add("/cam/image", "sensor_msgs/msg/Image", factory.image(rgb, "rgb8", factory.header(1, "cam")), 1)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def outcome(tmp_path_factory, tiny_checkpoint):
    tmp = tmp_path_factory.mktemp("output_rule")
    _materialise(tmp, tiny_checkpoint)
    env = cli_env()
    paths = {case.name: [Path(p.replace("{tmp}", str(tmp))) for p in case.kept] for case in CASES}
    before = {name: {p: _sha(p) for p in kept} for name, kept in paths.items()}

    def run(case: Case) -> subprocess.CompletedProcess:
        return run_case(case.argv, tmp, env)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip((case.name for case in CASES), pool.map(run, CASES)))
    return tmp, results, before


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_an_output_never_replaces_an_input_or_an_earlier_result(case: Case, outcome) -> None:
    tmp, results, before = outcome
    out = results[case.name]
    assert out.returncode == 2, f"exit {out.returncode}: {out.stdout[-1500:]}{out.stderr[-1500:]}"
    assert "Traceback" not in out.stderr + out.stdout, out.stderr[-3000:]
    error_lines = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and case.expected in error_lines[0], out.stderr[-3000:]
    for path, digest in before[case.name].items():
        assert _sha(path) == digest, f"{path} changed"
    for absent in case.absent:
        assert not Path(absent.replace("{tmp}", str(tmp))).exists(), f"{absent} was written"


@pytest.mark.parametrize("argv, expected", [
    (["release", "--checkpoint", "{ckpt}", "--output", "{folder}/model.pt"], "--output: cannot write in folder {folder}: "),
    (["train", "--config", "{config}", "--out-dir", "{folder}/run", "--no-progress"],
     "log.out_dir '{folder}/run' is not a writable folder: "),
    (["predict", "{images}", "--model", "{ckpt}", "--out", "{folder}/predicted"], "--out: cannot write in folder {folder}: "),
])
def test_an_unwritable_folder_is_one_line_naming_it(tmp_path, tiny_checkpoint, argv, expected) -> None:
    """/sys takes no regular file, not even from root: a real unwritable folder on Linux."""
    import tempfile

    folder = "/sys"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pytest.skip(f"{folder} is writable here")
    except OSError:
        pass
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "x.png").write_bytes(b"not read: the output check comes first")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny_train_config(tmp_path / "data", tmp_path / "run")))
    fill = {"{ckpt}": str(tiny_checkpoint), "{folder}": folder, "{config}": str(config), "{images}": str(tmp_path / "images")}
    argv = [_fill(arg, fill) for arg in argv]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("DISDEPTH_DEBUG", None)
    out = subprocess.run([sys.executable, "-m", "disdepth_cli", *argv], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=300)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.startswith("error: " + _fill(expected, fill)), out.stderr


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def test_predict_names_same_stem_images_apart(tmp_path, tiny_checkpoint, capsys) -> None:
    """``a.png`` and ``a.jpg`` get two outputs; the report counts what was written."""
    import cv2
    import numpy as np

    from disdepth_cli import main

    images = tmp_path / "in"
    images.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.png", "a.jpg", "a_png.bmp", "b.png"):
        cv2.imwrite(str(images / name), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(images), "--model", str(tiny_checkpoint), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*_depth.png")) == ["a_jpg_depth.png", "a_png_2_depth.png", "a_png_depth.png",
                                                              "b_depth.png"]
    assert "wrote depth for 4 frame(s)" in printed and "a.png -> a_png_*" in printed
    # A second run into the same folder keeps the first run's files and says how to proceed.
    first = {p.name: _sha(p) for p in out.iterdir()}
    assert main(["predict", str(images), "--model", str(tiny_checkpoint), "--out", str(out), "--no-progress"]) == 2
    assert "already holds" in capsys.readouterr().err
    assert {p.name: _sha(p) for p in out.iterdir()} == first


def test_predict_never_reads_its_own_outputs(tmp_path, tiny_checkpoint, capsys) -> None:
    """Run twice with --out = the input folder: refused both times, the folder is as it was."""
    import cv2
    import numpy as np

    from disdepth_cli import main

    images = tmp_path / "frames"
    images.mkdir()
    cv2.imwrite(str(images / "f0.png"), np.full((40, 56, 3), 90, np.uint8))
    listing = {p.name: _sha(p) for p in images.iterdir()}
    for _ in range(2):
        assert main(["predict", str(images), "--model", str(tiny_checkpoint), "--out", str(images) + "/.", "--no-progress"]) == 2
        assert "is also the input folder" in capsys.readouterr().err
    assert {p.name: _sha(p) for p in images.iterdir()} == listing


def test_same_file_sees_links_and_the_demo_writes_beside_an_earlier_run(tmp_path) -> None:
    from disdepth_core.output_paths import paths_beside_earlier_run, same_file

    (tmp_path / "a").write_text("x")
    os.link(tmp_path / "a", tmp_path / "hard")
    (tmp_path / "soft").symlink_to(tmp_path / "a")
    assert same_file(tmp_path / "a", tmp_path / "hard") and same_file(tmp_path / "soft", tmp_path / "a")
    assert same_file(tmp_path / "new", tmp_path / "sub" / ".." / "new") and not same_file(tmp_path / "a", tmp_path / "b")
    names = ("demo.png", "bag_eval")
    paths, note = paths_beside_earlier_run(tmp_path, names)
    assert paths == {"demo.png": tmp_path / "demo.png", "bag_eval": tmp_path / "bag_eval"} and note is None
    (tmp_path / "bag_eval").mkdir()
    (tmp_path / "demo-2.png").write_text("a second run's")
    paths, note = paths_beside_earlier_run(tmp_path, names)
    assert paths == {"demo.png": tmp_path / "demo-3.png", "bag_eval": tmp_path / "bag_eval-3"}
    assert note and "bag_eval" in note and "demo-3.png, bag_eval-3 beside them" in note
