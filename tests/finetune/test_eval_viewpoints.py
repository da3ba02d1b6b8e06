"""The viewpoint checks of benchmarks/eval_viewpoints.py move the camera the way they say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "eval_viewpoints.py"
spec = importlib.util.spec_from_file_location("eval_viewpoints", SCRIPT)
eval_viewpoints = importlib.util.module_from_spec(spec)
spec.loader.exec_module(eval_viewpoints)


def test_a_wall_seen_from_closer_and_zoomed():
    K = np.array([[100.0, 0, 79.5], [0, 100.0, 59.5], [0, 0, 1]])
    rgb = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    wall = np.full((120, 160), 3.0, np.float32)
    _, depth = eval_viewpoints.moved(rgb, wall, K, 0.0, 0.0, 0.0)
    assert depth.shape == (60, 80) and np.allclose(depth, 3.0)  # no motion: the same view at half size
    image, depth = eval_viewpoints.moved(rgb, wall, K, 0.0, 1.0, 0.0)
    seen = depth > 0
    assert np.allclose(depth[seen], 2.0) and seen.mean() > 0.99 and image.shape == (60, 80, 3)  # 1 m closer, no cracks
    _, depth = eval_viewpoints.moved(rgb, wall, K, 0.5, 0.0, 0.0)
    assert (depth[:, :5] > 0).all() and not (depth[:, -5:] > 0).any()  # moved right: the right edge has not been seen
    _, depth = eval_viewpoints.zoomed(rgb, wall, 1.5)
    assert depth.shape == (80, 107) and np.allclose(depth, 2.0)
