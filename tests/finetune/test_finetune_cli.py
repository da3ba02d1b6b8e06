"""``disdepth finetune`` end to end on tiny real recordings, Ctrl-C + --resume, and every refusal as one line."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from disdepth_cli import main

from .helpers import TOPICS, image_folder, room_frames, tiny_bag

TOPIC_ARGS = ["--image-topic", TOPICS.compressed, "--depth-topic", TOPICS.depth]


def finetune(*args: str) -> int:
    return main(["finetune", *map(str, args), "--no-progress"])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recordings")
    return {"sqlite3": tiny_bag(root / "bag_sqlite3", "sqlite3", colour="jpeg"),
            "mcap": tiny_bag(root / "bag_mcap", "mcap", colour="raw"),
            "folder": image_folder(root / "frames")}


@pytest.mark.parametrize("kind", ["sqlite3", "mcap", "folder"])
def test_end_to_end(recordings, tiny_checkpoint, tmp_path, kind):
    """A real run: the released model loads in every runtime path, and the report covers the held-out frames."""
    out = tmp_path / "run"
    topics = [] if kind == "folder" else ["--image-topic", TOPICS.compressed if kind == "sqlite3" else TOPICS.color,
                                          "--depth-topic", TOPICS.depth]
    assert finetune(recordings[kind], "--model", tiny_checkpoint, *topics, "--out", out, "--iterations", 3) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "frames.csv", "metrics.json", "model.pt", "report.html"]
    from disdepth_core.runtime import load_runtime

    runtime = load_runtime(out / "model.pt")  # what the node, predict and bench load
    meta = runtime.metadata
    assert (meta.input_height, meta.input_width) == (64, 96) and meta.train_focal == pytest.approx(129.6 * 96 / 144)
    assert runtime.infer(np.zeros((1, 3, 64, 96), np.float32)).shape == (1, 1, 64, 96)
    from disdepth_core.pipeline import FramePipeline, PipelineConfig

    frame = room_frames()[0]  # the recording's own camera: the node's focal_rescale leaves depth as predicted
    result = FramePipeline(runtime).process_rgb(frame.rgb, (frame.K, (96, 144)), PipelineConfig(focal_rescale=True, points=False))
    assert result.focal_factor == pytest.approx(1.0)
    metrics = json.loads((out / "metrics.json").read_text())
    held = metrics["heldout"]
    assert metrics["training"]["iterations"] == 3 and metrics["frames"] == {
        "cached": 24, "train": 17, "heldout": 5, "gap": 2, "skipped": 0, "skipped_reasons": {}, "every_kth": 1,
        "val_fraction": 0.2, "cache_size": [96, 144]}
    assert held["frames_evaluated"] == 5 and len(held["per_frame"]) == 5 and held["protocol"]["focal_rescale"] is False
    assert held["before"]["n_images"] == held["after"]["n_images"] == 5 and held["set_constant"]["depth_m"] > 0
    assert metrics["camera"] == {"fx": pytest.approx(129.6), "fy": pytest.approx(129.6), "cx": 72.0, "cy": 48.0,
                                 "width": 144, "height": 96}
    page = (out / "report.html").read_text()
    assert "Per held-out frame" in page and "after: fine-tuned" in page and page.count("<img ") >= 6
    if kind == "mcap":  # bag-eval and export take the released file as it is
        assert main(["bag-eval", str(recordings[kind]), "--model", str(out / "model.pt"), "--image-topic", TOPICS.color,
                     "--depth-topic", TOPICS.depth, "--max-dt", "0.02", "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
        assert main(["export", "--checkpoint", str(out / "model.pt"), "--format", "onnx", "--output", str(tmp_path / "m.onnx")]) == 0


def test_ctrl_c_saves_and_resume_continues_at_the_exact_step(recordings, tiny_checkpoint, tmp_path, monkeypatch, capsys):
    """An interrupted and resumed run ends with the same weights as an uninterrupted one."""
    from training.trainer import Trainer

    args = [recordings["sqlite3"], "--model", tiny_checkpoint, *TOPIC_ARGS, "--iterations", 6]
    assert finetune(*args, "--out", tmp_path / "straight") == 0
    original = Trainer.step

    def step(self, batch, epoch):
        losses = original(self, batch, epoch)
        if self.global_step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the run
        return losses

    monkeypatch.setattr(Trainer, "step", step)
    assert finetune(*args, "--out", tmp_path / "cut") == 130
    assert "repeat the command with --resume" in capsys.readouterr().out
    assert (tmp_path / "cut" / "last.pt").is_file() and not (tmp_path / "cut" / "model.pt").exists()
    monkeypatch.setattr(Trainer, "step", original)
    # Resumed after the folder moved, named relative to another working directory (review finding:
    # the run's own location used to count as "other arguments").
    (tmp_path / "cut").rename(tmp_path / "moved")
    monkeypatch.chdir(tmp_path)
    assert finetune(*args, "--out", "moved", "--resume") == 0
    assert "resumed from" in capsys.readouterr().out
    straight = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)["state_dict"]
    resumed = torch.load(tmp_path / "moved" / "model.pt", weights_only=True)["state_dict"]
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert json.loads((tmp_path / "moved" / "metrics.json").read_text())["training"]["iterations"] == 6


def test_minutes_become_iterations_measured_here(recordings, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    assert finetune(recordings["folder"], "--model", tiny_checkpoint, "--out", out, "--minutes", 0.05) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("[finetune] --minutes"))
    iterations = int(line.split("-> ")[1].split()[0])
    assert iterations >= 10 and json.loads((out / "metrics.json").read_text())["training"]["iterations"] == iterations
    assert f"max_iters_per_epoch: {iterations}" in (out / "config.yaml").read_text()  # what --resume would continue


def _checkpoint_like(path: Path, tiny_checkpoint: Path, **changes) -> Path:
    payload = torch.load(tiny_checkpoint, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)
    return path


def test_bad_input_is_one_line_before_any_work(recordings, tiny_checkpoint, tmp_path, capsys):
    bag = recordings["sqlite3"]
    good = ["--model", tiny_checkpoint, *TOPIC_ARGS]
    (tmp_path / "taken").mkdir()
    teacher = _checkpoint_like(tmp_path / "teacher.pt", tiny_checkpoint,
                               model_config={"backbone": "swin_nano_patch4_window7", "lg_conv": False})
    distilled = _checkpoint_like(tmp_path / "distilled.pt", tiny_checkpoint,
                                 training_state={"train_config": {"distill": {"enabled": True, "method": "disdepth"}}})
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    (tmp_path / "a_file").write_text("x")
    cases = [
        ((bag, *good, "--out", tmp_path / "taken"), "already exists; choose a new folder"),
        ((bag, *good, "--out", bag / "run"), "would write into (or over) the input"),
        ((bag, *good, "--out", tmp_path / "a_file" / "run"), "is a file, not a folder"),
        ((bag, *good, "--out", "/proc/disdepth_finetune_test"), "cannot write in folder /proc"),
        ((bag, "--model", teacher, *TOPIC_ARGS, "--out", tmp_path / "o1"), "teacher, not a depth student"),
        ((bag, "--model", distilled, *TOPIC_ARGS, "--out", tmp_path / "o2"), "release its student first"),
        ((bag, "--model", tmp_path / "model.onnx", *TOPIC_ARGS, "--out", tmp_path / "o3"), "is an exported model (.onnx)"),
        ((bag, "--model", tmp_path / "nope.pt", *TOPIC_ARGS, "--out", tmp_path / "o4"), "model file not found"),
        ((bag, "--model", tiny_checkpoint, "--image-topic", "/rgb", "--depth-topic", TOPICS.depth, "--out", tmp_path / "o5"),
         f"image topic '/rgb' is not in bag {bag}; its topics: "),
        ((bag, *good, "--out", tmp_path / "o6", "--fx", "500"), "give all four of --fx --fy --cx --cy, or none"),
        ((bag, *good, "--out", tmp_path / "o7", "--device", "cuda:7"), "--device cuda:7"),
        ((bag, *good, "--out", tmp_path / "o8", "--resume"), "holds no fine-tuning run"),
    ]
    for args, expected in cases:
        assert finetune(*args) == 2, args
        assert expected in error_line(capsys), (args, expected)
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 9))


def test_unregistered_and_too_short_recordings_are_refused(tiny_checkpoint, tmp_path, capsys):
    unaligned = tiny_bag(tmp_path / "unaligned", count=2, colour="jpeg", unregistered=True)
    assert finetune(unaligned, "--model", tiny_checkpoint, "--image-topic", TOPICS.compressed, "--depth-topic",
                    TOPICS.raw_depth, "--out", tmp_path / "o1") == 2
    assert "is not registered to colour" in error_line(capsys)
    short = tiny_bag(tmp_path / "short", count=6, colour="jpeg")
    assert finetune(short, "--model", tiny_checkpoint, *TOPIC_ARGS, "--out", tmp_path / "o2") == 2
    assert "6 usable RGB-D pairs" in error_line(capsys)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
