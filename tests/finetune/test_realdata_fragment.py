"""The real 50-frame room recording (``shared/realdata/sun3d_3dmatch_fragment1``) as a driver bag and through the command.

The frames stay outside the repository; without them these tests skip with the reason.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from disdepth_core.bags.rgbd_writer import write_rgbd_bag
from disdepth_cli import main
from disdepth_core.data.recordings import RecordingOptions, open_recording
from disdepth_core.rgbd_recording import RgbdFrame
from tests.realdata import realdata_root

from .helpers import TOPICS

ROOT = realdata_root()
FRAGMENT = ROOT / "sun3d_3dmatch_fragment1" if ROOT else None
pytestmark = pytest.mark.skipif(FRAGMENT is None or not FRAGMENT.is_dir(),
                                reason="real RGB-D frames not found (shared/realdata beside the repository or $DISDEPTH_REALDATA); "
                                       "they stay outside the repository")
SHIPPED = "models/demo/model.pt"


def test_the_recording_as_a_driver_bag_reads_back_exactly(tmp_path):
    with open_recording(FRAGMENT, RecordingOptions()) as folder:
        frames = [f for f in folder.frames() if isinstance(f, RgbdFrame)]
    assert len(frames) == 50 and folder.info.K[0, 0] == pytest.approx(570.342205)
    bag = write_rgbd_bag(frames, tmp_path / "bag", "mcap", colour="raw")
    with open_recording(bag, RecordingOptions(TOPICS.color, TOPICS.depth)) as recording:
        back = list(recording.frames())
    assert [f.index for f in back] == list(range(50)) and recording.info.K[0, 0] == pytest.approx(570.342205)
    for a, b in zip(frames, back):
        np.testing.assert_array_equal(a.rgb, b.rgb)
        np.testing.assert_array_equal(np.round(a.depth * 1000), np.round(b.depth * 1000))  # millimetres, exactly


def test_finetune_on_the_room_judges_the_last_ten_frames_like_the_node(tmp_path):
    """Two steps only (the recipe's numbers are in docs/finetune.md): the report's 'before' is the
    shipped model on the held-out frames with the node's defaults, the figure the target is set against."""
    out = tmp_path / "run"
    assert main(["finetune", str(FRAGMENT), "--model", SHIPPED, "--out", str(out), "--iterations", "2", "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    held = metrics["heldout"]
    assert metrics["frames"]["train"] == 35 and metrics["frames"]["gap"] == 5  # 1.7 s at 30 Hz: the gap is 10 % of the frames
    assert held["frames_evaluated"] == 10
    assert [row["index"] for row in held["per_frame"]] == list(range(40, 50))
    assert held["before"]["abs_rel"] == pytest.approx(0.1529, abs=0.001)  # shipped model, PNG colour, 120x160, no rescale
    assert held["set_constant"]["depth_m"] == pytest.approx(3.333, abs=0.001)
    assert held["set_constant"]["abs_rel"] == pytest.approx(0.3281, abs=0.001)
    assert metrics["camera"]["fx"] == pytest.approx(570.342205) and metrics["train_focal"] == pytest.approx(570.342205 / 4)
