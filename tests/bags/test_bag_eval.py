"""``disdepth bag-eval`` and ``synth --bag`` on real rosbag2 files in both storage formats."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from disdepth_core.bags.reader import BagReader
from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, IMAGE_TOPIC, INFO_TOPIC
from disdepth_cli import main
from disdepth_core.image_decoding import image_to_depth

from .conftest import FRAMES, PER_SCENE, SEED, SIZE

TOPICS = ["--image-topic", COMPRESSED_TOPIC, "--depth-topic", DEPTH_TOPIC, "--camera-info-topic", INFO_TOPIC]


def bag_eval(bag, model, out, *extra) -> dict:
    assert main(["bag-eval", str(bag), "--model", str(model), "--out", str(out), "--no-progress", *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_synth_bag_has_the_four_streams(synthetic_bag):
    with BagReader(synthetic_bag) as bag:
        assert bag.topics == {IMAGE_TOPIC: "sensor_msgs/msg/Image", COMPRESSED_TOPIC: "sensor_msgs/msg/CompressedImage",
                              INFO_TOPIC: "sensor_msgs/msg/CameraInfo", DEPTH_TOPIC: "sensor_msgs/msg/Image"}
        assert all(bag.counts[t] == FRAMES for t in bag.topics)
        depth = next(bag.messages([DEPTH_TOPIC]))
        gt = image_to_depth(bag.deserialize(depth))
        assert gt.shape == SIZE and np.nanmax(gt) <= 10.0 and np.isfinite(gt).mean() > 0.5
    meta = yaml.safe_load((synthetic_bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    # Humble parses version 8 (QoS as a YAML string); version 9's QoS list breaks it.
    assert meta["version"] == 8
    assert all(isinstance(t["topic_metadata"]["offered_qos_profiles"], str) for t in meta["topics_with_message_count"])


def test_bag_eval_matches_dataset_eval(synthetic_bag, tiny_checkpoint, tmp_path, capsys):
    """Same frames (the dataset's JPEGs are the bag's compressed images), same numbers."""
    from disdepth_core.synthetic.dataset_writer import generate_dataset

    root = generate_dataset(tmp_path / "data", "nyu", n_train=0, n_test=FRAMES, seed=SEED, height=SIZE[0], width=SIZE[1],
                            frames_per_scene=PER_SCENE, progress=False)
    config = {"name": "same-frames", "data": {"name": "nyu", "data_root": str(root / "test"), "test_split": str(root / "splits/test.txt"),
                                              "train_split": str(root / "splits/test.txt"), "eval_crop": None, "max_depth": 10.0,
                                              "train_height": 64, "train_width": 96},
              "model": {"backbone": "ghostnet_100"}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    assert main(["eval", "--config", str(tmp_path / "cfg.yaml"), "--checkpoint", str(tiny_checkpoint), "--no-progress",
                 "--save-json", str(tmp_path / "eval.json")]) == 0
    assert "evaluated at model input 64x96 (resize)" in capsys.readouterr().out
    dataset_metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    report = bag_eval(synthetic_bag, tiny_checkpoint, tmp_path / "out", *TOPICS, "--min-depth", "0.001", "--max-depth", "10")
    assert report["frame_count"] == FRAMES and report["frames"]["with_ground_truth"] == FRAMES
    assert report["resolution"] == "model input 64x96 (resize)"
    for name in ("abs_rel", "rmse", "d1", "silog", "n_images"):
        assert report["metrics"][name] == pytest.approx(dataset_metrics[name], rel=1e-6, abs=1e-9), name
    with (tmp_path / "out" / "frames.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == FRAMES and float(rows[0]["latency_ms"]) > 0
    assert np.mean([float(r["abs_rel"]) for r in rows]) == pytest.approx(report["metrics"]["abs_rel"], rel=1e-5)


def test_compare_write_bag_and_no_ground_truth(synthetic_bag, tiny_checkpoint, tmp_path):
    out_bag = tmp_path / "with_depth"
    report = bag_eval(synthetic_bag, tiny_checkpoint, tmp_path / "cmp", *TOPICS, "--compare", str(tiny_checkpoint),
                      "--full-resolution", "--write-bag", str(out_bag), "--samples", "2")
    labels = [m["label"] for m in report["models"]]
    assert len(labels) == 2 and labels[0] != labels[1]
    assert report["models"][0]["metrics"]["abs_rel"] == pytest.approx(report["models"][1]["metrics"]["abs_rel"])
    assert report["resolution"] == "full resolution"
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert html.count("<svg") >= 5 and html.count("data:image/png;base64,") == 2 * (1 + 2 + 1 + 2)
    with BagReader(out_bag) as bag:
        assert set(bag.topics) >= {IMAGE_TOPIC, COMPRESSED_TOPIC, INFO_TOPIC, DEPTH_TOPIC, "/depth/image", "/depth/camera_info",
                                   "/depth/points"}
        assert bag.counts["/depth/image"] == bag.counts["/depth/points"] == FRAMES
        cloud = bag.deserialize(next(bag.messages(["/depth/points"])))
        depth_msg = bag.deserialize(next(bag.messages(["/depth/image"])))
        assert (cloud.height, cloud.width, cloud.point_step) == (*SIZE, 12)  # the node's cloud: network resolution, unpadded
        assert depth_msg.encoding == "32FC1" and depth_msg.header.stamp.sec == 1_700_000_000
        assert np.isfinite(image_to_depth(depth_msg)).mean() > 0.9
    assert yaml.safe_load((out_bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["version"] == 8
    # without ground truth: latency and depth statistics only, still a report
    plain = bag_eval(synthetic_bag, tiny_checkpoint, tmp_path / "plain", "--image-topic", IMAGE_TOPIC, "--samples", "1")
    assert plain["metrics"] == {} and plain["frame_count"] == FRAMES
    assert plain["models"][0]["latency_ms"]["p50"] > 0 and plain["models"][0]["depth_stats"]["median_of_frame_medians_m"] > 0
