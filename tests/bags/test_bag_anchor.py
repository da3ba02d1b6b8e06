"""``bag-eval --sparse-depth-topic`` / ``--camera-height`` and ``confidence_sparsification`` on real rosbag2 files.

The anchor is the node's code (:func:`disdepth_core.scale_anchor.anchor_frame`); these tests check
what bag-eval makes of it: anchored metrics beside the unanchored ones of the same inferences,
the scale per frame, every fallback and refused sparse message as a warning, and the curve.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from disdepth_cli import main
from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, INFO_TOPIC, SPARSE_TOPIC, write_synthetic_bag
from disdepth_core.bags.writer import BagWriter, MessageFactory
from disdepth_core.sparse_simulation import lidar_band_millimetres
from disdepth_core.synthetic.render import render_frame

TOPICS = ["--image-topic", COMPRESSED_TOPIC, "--depth-topic", DEPTH_TOPIC, "--camera-info-topic", INFO_TOPIC]
FRAMES = 6


@pytest.fixture(scope="module")
def band_bag(tmp_path_factory):
    return write_synthetic_bag(tmp_path_factory.mktemp("anchor") / "band", "nyu", frames=FRAMES, seed=5, height=96, width=128,
                               frames_per_scene=3, progress=False, sparse_band=True)


def bag_eval(bag, model, out, *extra) -> dict:
    assert main(["bag-eval", str(bag), "--model", str(model), "--backend", "torch", "--out", str(out), "--no-progress",
                 *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_sparse_anchor_metrics_beside_the_unanchored_ones(band_bag, tiny_checkpoint, tmp_path):
    plain = bag_eval(band_bag, tiny_checkpoint, tmp_path / "plain", *TOPICS)
    anchored = bag_eval(band_bag, tiny_checkpoint, tmp_path / "anchored", *TOPICS, "--sparse-depth-topic", SPARSE_TOPIC)
    model = anchored["models"][0]
    assert plain["anchor"] == {"mode": "none"} and "unanchored_metrics" not in plain["models"][0]
    assert anchored["anchor"]["mode"] == "sparse_depth" and anchored["anchor"]["sparse_depth_topic"] == SPARSE_TOPIC
    # the same inferences: unanchored = the plain run; a random-weight model is far off scale, the anchor fixes most of it
    for name in ("abs_rel", "rmse", "d1"):
        assert model["unanchored_metrics"][name] == pytest.approx(plain["metrics"][name], rel=1e-5), name
    assert anchored["metrics"]["abs_rel"] < 0.6 * plain["metrics"]["abs_rel"]
    assert model["scale"]["frames_by_source"] == {"sparse_depth": FRAMES} and model["scale"]["p50"] > 0
    with (tmp_path / "anchored" / "frames.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["scale_source"] for r in rows] == ["sparse_depth"] * FRAMES and float(rows[0]["scale"]) > 0
    html = (tmp_path / "anchored" / "report.html").read_text()
    assert "Metric scale anchor: sparse_depth" in html and "anchor scale over time" in html


def test_confidence_sparsification_key_and_curve(band_bag, tiny_checkpoint, tmp_path):
    report = bag_eval(band_bag, tiny_checkpoint, tmp_path / "curve", *TOPICS)
    curve = report["confidence_sparsification"]
    assert [point["coverage"] for point in curve] == [1.0, 0.75, 0.5, 0.25]
    assert curve == report["models"][0]["confidence_sparsification"]
    # coverage 1.0 scores every pixel the protocol scores: exactly the overall abs_rel (per frame, then averaged)
    assert curve[0]["abs_rel"] == pytest.approx(report["metrics"]["abs_rel"], rel=1e-6)
    assert all(np.isfinite(point["abs_rel"]) for point in curve)
    html = (tmp_path / "curve" / "report.html").read_text()
    assert "Confidence sparsification" in html and 'aria-label="confidence sparsification"' in html


def test_bad_sparse_messages_and_stale_stamps_are_warnings(tiny_checkpoint, tmp_path):
    """A bag whose sparse topic has a good band, a negative message, and one stamped 0.9 s before its image
    (frame 0 pairs the good one, frame 1 the refused one, frame 2 the stale one: nearest stamps)."""
    factory, bag = MessageFactory(), tmp_path / "bad_sparse"
    start = 1_700_000_000 * 10**9
    with BagWriter(bag, "sqlite3") as writer:
        for i in range(3):
            frame = render_frame("nyu", 11, i, 96, 128)
            stamp = start + i * 10**9
            header = factory.header(stamp, "camera")
            sparse = lidar_band_millimetres(frame.depth)
            sparse_stamp = stamp if i != 2 else stamp - 9 * 10**8
            if i == 1:
                sparse_msg = factory.image(np.full((96, 128), -1.0, np.float32), "32FC1", header)
            else:
                sparse_msg = factory.image(sparse, "16UC1", factory.header(sparse_stamp, "camera"))
            writer.add(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", factory.camera_info(frame.K, (96, 128), header), stamp)
            writer.add(SPARSE_TOPIC, "sensor_msgs/msg/Image", sparse_msg, stamp)
            writer.add("/rgb", "sensor_msgs/msg/Image", factory.image(frame.rgb, "rgb8", header), stamp)
            writer.add(DEPTH_TOPIC, "sensor_msgs/msg/Image", factory.depth_image(frame.depth, header, "16UC1"), stamp)
    report = bag_eval(bag, tiny_checkpoint, tmp_path / "out", "--image-topic", "/rgb", "--depth-topic", DEPTH_TOPIC,
                      "--camera-info-topic", INFO_TOPIC, "--sparse-depth-topic", SPARSE_TOPIC)
    sources = report["models"][0]["scale"]["frames_by_source"]
    assert sources == {"sparse_depth": 1, "held": 2}, sources  # frame 1: its sparse message refused; frame 2: stale
    warnings = "\n".join(report["warnings"])
    assert f"ignored 1 sparse depth message(s) on {SPARSE_TOPIC}: sparse_depth has 12288 negative depth value(s)" in warnings
    assert "scale anchor fell back on 1 frame(s): the nearest sparse_depth is 0.90 s older than the image" in warnings
    assert "scale anchor fell back on 1 frame(s): the sparse_depth message was refused: sparse_depth has 12288" in warnings


def test_camera_height_option_checks_and_runs(band_bag, tiny_checkpoint, tmp_path, capsys):
    assert main(["bag-eval", str(band_bag), "--model", str(tiny_checkpoint), "--image-topic", COMPRESSED_TOPIC,
                 "--camera-height", "1.2"]) == 2
    assert "--camera-height fits the floor in the predicted cloud, which needs the intrinsics" in capsys.readouterr().err
    assert main(["bag-eval", str(band_bag), "--model", str(tiny_checkpoint), *TOPICS, "--camera-height", "11"]) == 2
    assert "--camera-height must be > 0 and <= 10 m" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bag-eval", str(band_bag), "--model", str(tiny_checkpoint), *TOPICS, "--camera-height", "1.2",
              "--sparse-depth-topic", SPARSE_TOPIC])
    report = bag_eval(band_bag, tiny_checkpoint, tmp_path / "height", *TOPICS, "--camera-height", "1.2")
    assert report["anchor"]["mode"] == "camera_height" and report["anchor"]["camera_height_m"] == 1.2
    assert sum(report["models"][0]["scale"]["frames_by_source"].values()) == FRAMES
