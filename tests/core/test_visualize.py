"""Depth colourisation used by the demo picture, TensorBoard and /depth/image_color."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.visualize import colorize_depth, comparison_panel

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


def test_near_is_brighter_than_far_and_invalid_is_black():
    depth = np.array([[0.5, 2.0, 8.0, np.nan, 0.0, 20.0]], np.float32)
    rgb = colorize_depth(depth, 1e-3, 10.0)
    assert rgb.shape == (1, 6, 3) and rgb.dtype == np.uint8
    brightness = rgb.astype(int).sum(axis=2)[0]
    assert brightness[0] > brightness[1] > brightness[2]
    assert (rgb[0, 3:] == 0).all()  # NaN, zero and beyond-range pixels


def test_typical_indoor_depths_use_a_wide_part_of_the_colour_map():
    """1 m and 5 m must look clearly different even with the protocol's 1e-3 m minimum."""
    rgb = colorize_depth(np.array([[1.0, 5.0]], np.float32), 1e-3, 10.0).astype(int)
    assert np.abs(rgb[0, 0] - rgb[0, 1]).sum() > 150


def test_comparison_panel_layout():
    rgb = np.zeros((4, 6, 3), np.uint8)
    pred = np.full((2, 3), 2.0, np.float32)  # other size: resized into the panel
    gt = np.full((4, 6), 2.5, np.float32)
    assert comparison_panel(rgb, pred, gt, 1e-3, 10.0).shape == (4, 24, 3)
    assert comparison_panel(rgb, pred, None, 1e-3, 10.0).shape == (4, 12, 3)
