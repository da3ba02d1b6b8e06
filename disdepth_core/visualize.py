"""Depth colourisation and comparison panels (numpy + OpenCV only, no torch).

Used by the demo picture, TensorBoard images and (later) the node's ``/depth/image_color``
output, so every view of a depth map in the project looks the same.
"""

from __future__ import annotations

import cv2
import numpy as np


def colorize_depth(depth: np.ndarray, min_depth: float, max_depth: float, invalid_color: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Map metres to an RGB uint8 image (near = bright/yellow, far = dark/purple, invalid = black).

    The log-scaled range makes near structure readable indoors and outdoors alike.
    """
    depth = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > min_depth) & (depth < max_depth)
    # Protocol minimums (1e-3 m) would spend most of the colour range on depths no camera
    # sees; two decades below the maximum covers every real scene.
    near = max(min_depth, max_depth / 100.0, 1e-3)
    lo, hi = np.log(near), np.log(max_depth)
    safe = np.where(valid, depth, max_depth)
    scaled = 1.0 - (np.log(np.clip(safe, near, max_depth)) - lo) / max(hi - lo, 1e-6)
    rgb = cv2.applyColorMap(np.clip(scaled * 255.0, 0, 255).astype(np.uint8), cv2.COLORMAP_PLASMA)[..., ::-1]
    rgb = np.ascontiguousarray(rgb)
    rgb[~valid] = invalid_color
    return rgb


def colorize_error(pred: np.ndarray, gt: np.ndarray, max_rel_error: float = 0.5) -> np.ndarray:
    """Absolute relative error |pred-gt|/gt as a heat map (black where GT is invalid)."""
    valid = np.isfinite(gt) & (gt > 0)
    rel = np.where(valid, np.abs(pred - gt) / np.where(valid, gt, 1.0), 0.0)
    scaled = np.clip(rel / max_rel_error, 0.0, 1.0)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    rgb = np.ascontiguousarray(rgb)
    rgb[~valid] = 0
    return rgb


def comparison_panel(rgb: np.ndarray, pred: np.ndarray, gt: np.ndarray | None, min_depth: float, max_depth: float) -> np.ndarray:
    """RGB | predicted depth | ground truth | error, side by side (GT panels omitted if None)."""
    height, width = rgb.shape[:2]

    def fit(img: np.ndarray) -> np.ndarray:
        if img.shape[:2] != (height, width):
            img = cv2.resize(img, (width, height), interpolation=cv2.INTER_NEAREST)
        return img

    panels = [rgb, fit(colorize_depth(pred, min_depth, max_depth))]
    if gt is not None:
        panels += [fit(colorize_depth(gt, min_depth, max_depth)), fit(colorize_error(fit_depth(pred, gt.shape), gt))]
    return np.concatenate(panels, axis=1)


def fit_depth(depth: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resize a depth map to ``shape`` (bilinear), used when prediction and GT differ in size."""
    if depth.shape == tuple(shape):
        return depth
    return cv2.resize(depth.astype(np.float32), (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)
