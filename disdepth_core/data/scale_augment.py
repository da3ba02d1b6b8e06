"""Focal-consistent scale augmentation: zoom the image by ``s``, divide its depth by ``s``.

A camera of focal length ``f`` sees an object of size ``S`` at depth ``Z`` as ``f * S / Z``
pixels. Enlarging the image by ``s`` while the focal length the network assumes stays ``f``
shows the object as it would look from ``Z / s``: so the depth target is ``Z / s``. Training on
such views teaches the network to read distance from apparent size, which a recording made
from one stretch of a room cannot teach on its own (a network fine-tuned without it learns the
recording's typical distance and is wrong wherever the robot stands closer or farther).
Zooming out (``s < 1``) needs a crop smaller than the full view, so that a wider window exists.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def draw_zoom(rng: np.random.Generator, low: float, high: float) -> float:
    """A zoom factor, log-uniform in ``[low, high]`` (as likely to halve as to double the distance)."""
    if high <= low:
        return float(low)
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def zoom_crop(rgb: np.ndarray, depth: np.ndarray, out_hw: tuple[int, int], view_scale: tuple[float, float], zoom: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """A randomly placed ``out_hw`` network input seen at ``zoom``, and its depth; returns the zoom used.

    ``view_scale`` is (y, x) network pixels per pixel of ``rgb`` at zoom 1 (the node's view: the
    whole frame resized to the model input). The window is ``out_hw / (view_scale * zoom)``
    pixels of ``rgb``. When the frame is too small for that window the zoom is raised until the
    window fits on both axes, one zoom for both, so the image is never stretched; the zoom used
    (returned, and what depth is divided by) is the horizontal one, as ``train_focal`` is fx.
    """
    height, width = depth.shape[:2]
    out_h, out_w = out_hw
    zoom = max(zoom, out_h / (view_scale[0] * height), out_w / (view_scale[1] * width))
    win_h = min(height, max(1, int(round(out_h / (view_scale[0] * zoom)))))
    win_w = min(width, max(1, int(round(out_w / (view_scale[1] * zoom)))))
    top = int(rng.integers(0, height - win_h + 1))
    left = int(rng.integers(0, width - win_w + 1))
    used = out_w / (view_scale[1] * win_w)
    window = rgb[top:top + win_h, left:left + win_w]
    depth_window = depth[top:top + win_h, left:left + win_w]
    shrinking = win_h > out_h and win_w > out_w
    out_rgb = cv2.resize(np.ascontiguousarray(window), (out_w, out_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    out_depth = cv2.resize(np.ascontiguousarray(depth_window, dtype=np.float32), (out_w, out_h), interpolation=cv2.INTER_NEAREST)
    return out_rgb, out_depth / np.float32(used), used
