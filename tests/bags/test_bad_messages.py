"""Issue 20, cause 4: bag tools survive bad messages and say honestly what they did.

Real rosbag2 files with a camera_info per frame (some with a negative, zero, NaN or infinite
focal length, or a zero size), 32FC1/16UC1 ground truth that is entirely invalid, and topics
with no message at all. Each bad camera_info is rejected by the node's rule, counted and named
once; the last valid K stays in use (the metrics equal those of a clean bag); ``--write-bag``
reports what it wrote; metrics.json never holds a NaN.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from disdepth_core.bags.writer import BagWriter, MessageFactory
from disdepth_cli import main

REPO = Path(__file__).resolve().parents[2]
START = 1_700_000_000 * 10**9
K = np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]])
GOOD = 60.0


def write_bag(path: Path, focals=(GOOD,) * 4, sizes=None, gt: float | list[float] = 2.0, encoding: str = "16UC1") -> Path:
    """48x64 rgb8 frames on /cam/image, each after a camera_info (fx from ``focals``) on /cam/info, GT on /cam/depth."""
    factory = MessageFactory()
    rng = np.random.default_rng(0)
    gts = gt if isinstance(gt, list) else [gt] * len(focals)
    with BagWriter(path, "sqlite3") as writer:
        for i, fx in enumerate(focals):
            stamp = START + i * 100_000_000
            header = factory.header(stamp, "cam")
            info = factory.camera_info(K, (sizes or [(48, 64)] * len(focals))[i], header)
            info.k = np.array([fx, 0.0, 31.5, 0.0, 60.0, 23.5, 0.0, 0.0, 1.0])
            writer.add("/cam/info", "sensor_msgs/msg/CameraInfo", info, stamp)
            writer.add("/cam/image", "sensor_msgs/msg/Image",
                       factory.image(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), "rgb8", header), stamp)
            depth = np.full((48, 64), gts[i], np.float32)
            writer.add("/cam/depth", "sensor_msgs/msg/Image", factory.depth_image(depth, header, encoding), stamp)
    return path


def evaluate(bag: Path, model: Path, out: Path, *extra: str) -> tuple[int, dict, str]:
    code = main(["bag-eval", str(bag), "--model", str(model), "--image-topic", "/cam/image", "--depth-topic", "/cam/depth",
                 "--out", str(out), "--no-progress", *extra])
    text = (out / "metrics.json").read_text() if code == 0 else "{}"
    return code, json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in metrics.json")), text


CAMERA_INFO_CASES = [
    # (name, focals, sizes, the rejection reason named once)
    ("negative focal", (GOOD, -60.0, GOOD, -60.0), None, "invalid focal length fx=-60 fy=60 (must be finite and > 0)"),
    ("zero focal", (GOOD, 0.0, GOOD, GOOD), None, "invalid focal length fx=0 fy=60 (must be finite and > 0)"),
    ("NaN focal", (GOOD, math.nan, math.nan, GOOD), None, "invalid focal length fx=nan fy=60 (must be finite and > 0)"),
    ("infinite focal", (GOOD, math.inf, GOOD, GOOD), None, "invalid focal length fx=inf fy=60 (must be finite and > 0)"),
    ("zero size", (GOOD,) * 4, [(48, 64), (0, 0), (48, 64), (48, 64)], "zero size 0x0"),
]


@pytest.fixture(scope="module")
def clean_metrics(tiny_checkpoint, tmp_path_factory) -> dict:
    """The same frames with valid camera_info throughout, depth rescaled by the focal length."""
    tmp = tmp_path_factory.mktemp("clean")
    code, report, _ = evaluate(write_bag(tmp / "bag"), tiny_checkpoint, tmp / "out", "--camera-info-topic", "/cam/info",
                               "--focal-rescale")
    assert code == 0
    return report["metrics"]


@pytest.mark.parametrize("name,focals,sizes,reason", CAMERA_INFO_CASES, ids=[c[0] for c in CAMERA_INFO_CASES])
def test_a_bad_camera_info_is_rejected_counted_and_the_last_valid_k_kept(tiny_checkpoint, tmp_path, capsys, clean_metrics,
                                                                         name, focals, sizes, reason):
    bag = write_bag(tmp_path / "bag", focals, sizes)
    code, report, _ = evaluate(bag, tiny_checkpoint, tmp_path / "out", "--camera-info-topic", "/cam/info", "--focal-rescale",
                               "--write-bag", str(tmp_path / "with_depth"))
    printed = capsys.readouterr().out
    assert code == 0
    bad = sum(1 for fx in focals if not (math.isfinite(fx) and fx > 0)) + sum(1 for s in sizes or [] if 0 in s)
    assert report["camera_info"] == {"rejected": {reason: bad}, "frames_without_valid": 0}
    assert printed.count(reason) == 1 and f"ignored {bad} camera_info message(s) on /cam/info: {reason}" in printed
    assert report["metrics"] == pytest.approx(clean_metrics)  # every frame used the last valid K, rescaled like the clean bag
    assert "/depth/image for 4 frame(s) and /depth/camera_info + /depth/points for 4" in printed
    from disdepth_core.bags.reader import BagReader

    with BagReader(tmp_path / "with_depth") as written:
        assert (written.counts["/depth/image"], written.counts["/depth/camera_info"], written.counts["/depth/points"]) == (4, 4, 4)


def test_no_valid_camera_info_at_all_is_said_and_nothing_pretended(tiny_checkpoint, tmp_path, capsys):
    bag = write_bag(tmp_path / "bag", (-60.0, 0.0, math.nan, math.inf))
    code, report, _ = evaluate(bag, tiny_checkpoint, tmp_path / "out", "--camera-info-topic", "/cam/info", "--focal-rescale",
                               "--write-bag", str(tmp_path / "with_depth"))
    printed = capsys.readouterr().out
    assert code == 0 and report["camera_info"]["frames_without_valid"] == 4
    assert ("4 of 4 frames had no valid camera_info on /cam/info before them: --focal-rescale left their depth unscaled; "
            "--write-bag wrote no /depth/camera_info or /depth/points for them") in printed
    assert "/depth/image for 4 frame(s) and /depth/camera_info + /depth/points for 0" in printed
    from disdepth_core.bags.reader import BagReader

    with BagReader(tmp_path / "with_depth") as written:
        assert written.counts["/depth/image"] == 4 and "/depth/points" not in written.counts


def test_focal_rescale_without_a_camera_info_topic_is_refused(tiny_checkpoint, tmp_path, capsys):
    assert main(["bag-eval", str(write_bag(tmp_path / "bag")), "--model", str(tiny_checkpoint), "--image-topic", "/cam/image",
                 "--focal-rescale", "--out", str(tmp_path / "out")]) == 2
    assert "--focal-rescale needs --camera-info-topic" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


GT_CASES = [
    # (name, per-frame GT value, encoding, frames with valid GT, warning)
    ("all NaN 32FC1", math.nan, "32FC1", 0, "no frame had valid ground truth: all 4 ground-truth images on /cam/depth have no pixel"),
    ("all inf 32FC1", math.inf, "32FC1", 0, "no frame had valid ground truth"),
    ("all beyond the range", 1e4, "32FC1", 0, "no frame had valid ground truth"),
    ("all zero 16UC1", 0.0, "16UC1", 0, "no frame had valid ground truth"),
    ("half NaN", [2.0, math.nan, 2.0, math.nan], "32FC1", 2, "2 of 4 ground-truth images on /cam/depth have no pixel"),
]


@pytest.mark.parametrize("name,gt,encoding,valid,warning", GT_CASES, ids=[c[0] for c in GT_CASES])
def test_ground_truth_without_a_valid_pixel_is_not_counted_as_ground_truth(tiny_checkpoint, tmp_path, capsys, name, gt,
                                                                           encoding, valid, warning):
    bag = write_bag(tmp_path / "bag", gt=gt, encoding=encoding)
    code, report, text = evaluate(bag, tiny_checkpoint, tmp_path / "out")
    printed = capsys.readouterr().out
    assert code == 0 and "NaN" not in text.replace(warning, "")
    frames = report["frames"]
    assert (frames["with_ground_truth"], frames["ground_truth_without_valid_pixels"]) == (valid, 4 - valid)
    assert f"4 evaluated, {valid} with ground truth" in printed and warning in printed
    if valid:
        assert report["metrics"]["n_images"] == valid
    else:
        assert report["metrics"] == {} and "abs_rel" not in printed
        assert "No frame had valid ground truth" in (tmp_path / "out" / "report.html").read_text()


def _empty_topics_bag(path: Path) -> Path:
    """A bag whose topics are registered but hold no message."""
    with BagWriter(path, "sqlite3") as writer:
        writer.connection("/cam/image", "sensor_msgs/msg/Image")
        writer.connection("/cam/info", "sensor_msgs/msg/CameraInfo")
    return path


def test_an_empty_image_topic_is_nothing_to_evaluate(tiny_checkpoint, tmp_path, capsys):
    bag = _empty_topics_bag(tmp_path / "bag")
    assert main(["bag-eval", str(bag), "--model", str(tiny_checkpoint), "--image-topic", "/cam/image",
                 "--out", str(tmp_path / "out")]) == 2
    assert "nothing to evaluate: image topic /cam/image of bag" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra", [["--loop"], ["--loop", "--topics", "/cam/info"], []])
def test_bag_play_with_nothing_to_play_says_so_and_exits(tmp_path, extra):
    """Was a busy loop at full CPU with --loop; a real subprocess with a deadline."""
    pytest.importorskip("rclpy")
    bag = _empty_topics_bag(tmp_path / "bag")
    env = {**os.environ, "PYTHONPATH": str(REPO), "ROS_DOMAIN_ID": "0", "ROS_LOCALHOST_ONLY": "1"}
    env.pop("DISDEPTH_DEBUG", None)
    out = subprocess.run([sys.executable, "-m", "disdepth_cli", "bag-play", str(bag), *extra], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr[-2000:]
    assert out.stderr.startswith("error: nothing to play: topic") and "hold no message" in out.stderr
