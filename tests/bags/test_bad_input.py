"""Bad bags and bad frames: one clear line each; bad frames are skipped and counted, the run goes on."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, IMAGE_TOPIC, INFO_TOPIC
from disdepth_core.bags.writer import BagWriter, MessageFactory
from disdepth_cli import main

START = 1_700_000_000 * 10**9


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


def write_bag(path, frames=4, depth_offset_ns=0, depth_hw=(48, 64), bad_frame=None, storage="sqlite3"):
    """rgb8 48x64 frames on /cam/image, 16UC1 GT on /cam/depth (stamps shifted by ``depth_offset_ns``)."""
    factory = MessageFactory()
    rng = np.random.default_rng(0)
    with BagWriter(path, storage) as writer:
        for i in range(frames):
            stamp = START + i * 100_000_000
            rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            image = factory.image(rgb, "rgb8", factory.header(stamp, "cam"))
            if i == bad_frame:
                image.data = image.data[:-7]  # a driver bug: data shorter than height * step
            writer.add("/cam/image", "sensor_msgs/msg/Image", image, stamp)
            depth = np.full(depth_hw, 2.0, np.float32)
            writer.add("/cam/depth", "sensor_msgs/msg/Image",
                       factory.depth_image(depth, factory.header(stamp + depth_offset_ns, "cam"), "16UC1"), stamp + depth_offset_ns)
    return path


def run_eval(bag, model, out, *extra) -> int:
    return main(["bag-eval", str(bag), "--model", str(model), "--out", str(out), "--no-progress", *extra])


def test_missing_topic_lists_the_topics(synthetic_bag, tiny_checkpoint, tmp_path, capsys):
    assert run_eval(synthetic_bag, tiny_checkpoint, tmp_path, "--image-topic", "/camera/rgb") == 2
    line = error_line(capsys)
    assert "image topic '/camera/rgb' is not in bag" in line and f"{COMPRESSED_TOPIC} (CompressedImage, 6)" in line


def test_unknown_message_type_for_the_role(synthetic_bag, tiny_checkpoint, tmp_path, capsys):
    assert run_eval(synthetic_bag, tiny_checkpoint, tmp_path, "--image-topic", INFO_TOPIC) == 2
    assert "has message type sensor_msgs/msg/CameraInfo, expected sensor_msgs/msg/Image or" in error_line(capsys)
    assert run_eval(synthetic_bag, tiny_checkpoint, tmp_path, "--image-topic", IMAGE_TOPIC, "--depth-topic", COMPRESSED_TOPIC) == 2
    assert "ground-truth depth topic" in error_line(capsys)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_truncated_corrupt_or_missing_bag(synthetic_bag, tiny_checkpoint, tmp_path, capsys, damage):
    bag = tmp_path / "damaged"
    if damage != "missing":
        shutil.copytree(synthetic_bag, bag)
        storage = next(p for p in bag.iterdir() if p.suffix in (".db3", ".mcap"))
        if damage == "truncate":
            storage.write_bytes(storage.read_bytes()[: storage.stat().st_size // 2])
        else:
            storage.write_bytes(b"not a bag at all" * 100)
    assert run_eval(bag, tiny_checkpoint, tmp_path / "out", "--image-topic", COMPRESSED_TOPIC) == 2
    line = error_line(capsys)
    assert ("bag not found" in line) if damage == "missing" else ("truncated/corrupt" in line or "truncated or corrupt" in line), line


def test_existing_output_bag_is_refused(synthetic_bag, tiny_checkpoint, tmp_path, capsys):
    assert run_eval(synthetic_bag, tiny_checkpoint, tmp_path / "out", "--image-topic", COMPRESSED_TOPIC,
                    "--write-bag", str(synthetic_bag)) == 2
    assert "is the same file as the input bag" in error_line(capsys)  # issue 20: an input is named as such
    (tmp_path / "earlier").mkdir()
    assert run_eval(synthetic_bag, tiny_checkpoint, tmp_path / "out", "--image-topic", COMPRESSED_TOPIC,
                    "--write-bag", str(tmp_path / "earlier")) == 2
    assert "already exists; choose a new path or delete it" in error_line(capsys)


def test_no_ground_truth_within_tolerance_then_max_dt_pairs(tiny_checkpoint, tmp_path, capsys):
    bag = write_bag(tmp_path / "offset", depth_offset_ns=5_000_000)  # depth stamped 5 ms after the image
    assert run_eval(bag, tiny_checkpoint, tmp_path / "exact", "--image-topic", "/cam/image", "--depth-topic", "/cam/depth") == 0
    out = capsys.readouterr().out
    assert "warning: no ground truth within --max-dt 0 s for any of 4 images on /cam/depth" in out
    exact = json.loads((tmp_path / "exact" / "metrics.json").read_text())
    assert exact["frames"]["without_ground_truth"] == 4 and exact["frame_count"] == 4
    assert run_eval(bag, tiny_checkpoint, tmp_path / "near", "--image-topic", "/cam/image", "--depth-topic", "/cam/depth",
                    "--max-dt", "0.01") == 0
    near = json.loads((tmp_path / "near" / "metrics.json").read_text())
    assert near["frames"]["with_ground_truth"] == 4 and near["metrics"]["n_images"] == 4


def test_size_mismatch_and_bad_frame_are_skipped_and_counted(tiny_checkpoint, tmp_path, capsys):
    bag = write_bag(tmp_path / "sizes", depth_hw=(24, 32))
    assert run_eval(bag, tiny_checkpoint, tmp_path / "s", "--image-topic", "/cam/image", "--depth-topic", "/cam/depth") == 0
    assert "warning: skipped 4 frame(s): image 64x48 and ground truth 32x24 differ in size" in capsys.readouterr().out
    bag = write_bag(tmp_path / "bad", bad_frame=1, storage="mcap")
    assert run_eval(bag, tiny_checkpoint, tmp_path / "b", "--image-topic", "/cam/image", "--depth-topic", "/cam/depth") == 0
    report = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert report["frames"]["images_read"] == 4 and report["frames"]["evaluated"] == 3 and report["frames"]["skipped"] == 1
    (reason,) = report["frames"]["skipped_reasons"]
    assert reason.startswith("bad image: data has 9209 bytes, expected height*step")


def test_negative_counts_are_rejected(tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--config", "c.yaml", "--checkpoint", str(tiny_checkpoint), "--max-images", "-3"])
    assert exit_info.value.code == 2
    assert "argument --max-images: -3 is out of range: expected an integer >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bag-eval", "x", "--model", "m.pt", "--image-topic", "/i", "--max-dt", "-1"])
    assert "argument --max-dt: -1 is out of range: expected a finite number >= 0" in capsys.readouterr().err
