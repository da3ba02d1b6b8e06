"""Small real rosbag2 files (written with rosbags, both storages) for the bag tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from disdepth_core.bags.synthetic import write_synthetic_bag

FRAMES, SIZE, SEED, PER_SCENE = 6, (96, 128), 5, 3


@pytest.fixture(scope="session", params=["sqlite3", "mcap"])
def synthetic_bag(request, tmp_path_factory) -> Path:
    """6 synthetic frames at 96x128 (rgb8, JPEG, camera_info, 16UC1 GT) in each storage format."""
    out = tmp_path_factory.mktemp(f"bag_{request.param}") / "synthetic"
    return write_synthetic_bag(out, "nyu", frames=FRAMES, seed=SEED, height=SIZE[0], width=SIZE[1],
                               frames_per_scene=PER_SCENE, storage=request.param, progress=False)
