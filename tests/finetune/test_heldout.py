"""The held-out report with a frame the protocol cannot score (all its depth beyond the model's range)."""

from __future__ import annotations

import json

import numpy as np

from disdepth_core.bags.rgbd_writer import write_rgbd_bag
from disdepth_core.data.frame_cache import HELDOUT, build_frame_cache
from disdepth_core.data.recordings import RecordingOptions, open_recording
from disdepth_core.rgbd_recording import RgbdFrame

from .helpers import TOPICS, image_folder, room_frames

RUN_INFO = {"model": {"start": "tiny.pt", "result": "model.pt"}, "recordings": {"describe": ["a bag"]},
            "frames": {"train": 8, "gap": 11, "heldout": 5, "val_fraction": 0.2, "skipped": 0},
            "training": {"iterations": 1, "batch_size": 2, "device": "cpu", "wall_s": 1.0, "images_per_s": 2.0,
                         "synthetic_mix": 0.0}}


def test_a_held_out_frame_with_depth_only_beyond_the_range_is_reported_unscored(tmp_path, tiny_checkpoint):
    """Review finding: the set constant's metrics raised EmptyMaskError on such a frame, after
    training, and --resume repeated the crash. It is now a frame without valid ground truth, for
    the models and the constant alike, as bag-eval counts it."""
    from training.finetune.heldout import evaluate_heldout
    from training.finetune.report import write_finetune_report

    frames = list(room_frames(24))
    last = frames[-1]
    frames[-1] = RgbdFrame(last.index, last.stamp_ns, last.rgb, np.full_like(last.depth, 12.0), last.K)  # all beyond 10 m
    bag = write_rgbd_bag(frames, tmp_path / "bag", colour="jpeg")
    options = RecordingOptions(TOPICS.compressed, TOPICS.depth)
    with open_recording(bag, options) as recording:
        cache = build_frame_cache(tmp_path / "cache", [recording], (48, 72), {"test": 1}, progress=False, log=lambda _: None)
    assert len(cache.indices(HELDOUT)) == 5
    held = evaluate_heldout(cache, options, [("before", str(tiny_checkpoint)), ("after", str(tiny_checkpoint))],
                            samples=2, progress=False, log=lambda _: None)
    result = held.result
    assert [f["index"] for f in result.frames] == [19, 20, 21, 22, 23]
    assert [f["has_gt"] for f in result.frames] == [True] * 4 + [False]
    assert result.gt_without_valid_pixels == 1 and "1 of 5 held-out frames" in result.warnings[0]
    assert all(m.metrics[-1] is None and m.accumulator.n_images == 4 for m in result.models)
    assert held.constant_metrics[-1] is None and all(m is not None for m in held.constant_metrics[:-1])
    assert held.constant_depth < 10 and np.isfinite(held.constant_mean()["abs_rel"])
    assert result.storage == "sqlite3" and len(result.samples) == 2
    assert result.stage_s["predict"] > 0  # the bag-eval scoring step: its stage times too

    paths = write_finetune_report(tmp_path, held, RUN_INFO)
    metrics = json.loads(paths["metrics"].read_text())["heldout"]
    assert metrics["per_frame"][-1] == {"recording": 0, "index": 23, "stamp_s": metrics["per_frame"][-1]["stamp_s"],
                                        "t_s": metrics["per_frame"][-1]["t_s"], "before": None, "after": None,
                                        "constant": None}
    assert metrics["before"]["n_images"] == 4
    page = paths["report"].read_text()
    assert "<td>23</td>" in page and "<td>-</td>" in page


def test_an_image_folder_is_named_images_in_the_report(tmp_path, tiny_checkpoint):
    from training.finetune.heldout import evaluate_heldout

    folder = image_folder(tmp_path / "frames", count=24)
    options = RecordingOptions()
    with open_recording(folder, options) as recording:
        cache = build_frame_cache(tmp_path / "cache", [recording], (48, 72), {"test": 1}, progress=False, log=lambda _: None)
    held = evaluate_heldout(cache, options, [("before", str(tiny_checkpoint)), ("after", str(tiny_checkpoint))],
                            samples=0, progress=False, log=lambda _: None)
    assert held.result.storage == "images" and all(f["has_gt"] for f in held.result.frames)
    assert held.result.gt_without_valid_pixels == 0 and not held.result.warnings
