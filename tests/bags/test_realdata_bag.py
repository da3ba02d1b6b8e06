"""Real sensor frames through bag-eval: JPEG compressed colour and 16UC1 depth from three RGB-D cameras."""

from __future__ import annotations

import json

import numpy as np
import pytest

from disdepth_cli import main

from .realdata import DEPTH_TOPIC, IMAGE_TOPIC, INFO_TOPIC, find_realdata, write_realdata_bag

REALDATA = find_realdata()
pytestmark = pytest.mark.skipif(REALDATA is None, reason="real RGB-D frames not found (shared/realdata beside the repository "
                                                          "or $DISDEPTH_REALDATA); they stay outside the repository")


def test_real_frames_bag_eval(tiny_checkpoint, tmp_path):
    bag = write_realdata_bag(REALDATA, tmp_path / "real", storage="mcap")
    out = tmp_path / "report"
    assert main(["bag-eval", str(bag), "--model", str(tiny_checkpoint), "--image-topic", IMAGE_TOPIC, "--depth-topic", DEPTH_TOPIC,
                 "--camera-info-topic", INFO_TOPIC, "--out", str(out), "--no-progress", "--samples", "3"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["frames"] == {"images_read": 3, "evaluated": 3, "with_ground_truth": 3, "without_ground_truth": 0,
                                "ground_truth_without_valid_pixels": 0, "skipped": 0, "skipped_reasons": {}}
    metrics = report["metrics"]
    assert metrics["n_images"] == 3 and all(np.isfinite(metrics[k]) for k in ("abs_rel", "rmse", "d1"))
    assert (out / "report.html").stat().st_size > 10_000
