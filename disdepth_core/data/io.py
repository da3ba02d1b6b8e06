"""Image and depth-map readers with errors that name the offending file.

OpenCV's ``imread`` returns ``None`` instead of raising, which turns a missing file into a
confusing ``NoneType`` error deep in a DataLoader worker; these wrappers fail early and say
which path was wrong and why.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from disdepth_core.quiet_decode import imdecode_quiet


class ImageDecodeWarning(UserWarning):
    """The image decoded, but its decoder complained (e.g. an incorrect colour profile)."""


def _imread(path: str | Path, flags: int) -> np.ndarray:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    # imdecode from bytes handles non-ASCII paths on every platform, unlike cv2.imread.
    data = np.fromfile(path, dtype=np.uint8)
    if not data.size:
        raise ValueError(f"image file is empty (0 bytes): {path}")
    # The codec's own stderr lines (libpng) are folded into the error instead of printed.
    image, decoder_lines = imdecode_quiet(data, flags)
    detail = "; ".join(decoder_lines)
    if image is None:
        reason = f"corrupt or truncated: {detail}" if detail else "corrupt or unsupported format"
        raise ValueError(f"could not decode image file ({reason}): {path}")
    if detail:
        warnings.warn(f"{path}: decoder warning: {detail}", ImageDecodeWarning, stacklevel=3)
    return image


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a colour image as ``[H, W, 3]`` uint8 in RGB order (OpenCV loads BGR).

    Grey-scale files are expanded to three channels so every model input has the same layout.
    """
    image = _imread(path, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def read_depth_png(path: str | Path, scale: float) -> np.ndarray:
    """Read a uint16 depth PNG and return metres as float32 ``[H, W]`` (``value / scale``).

    KITTI stores ``metres * 256`` and NYU (BTS sync layout) millimetres, both with 0 meaning
    "no measurement"; 0 stays 0 here. Any other dtype or channel count is rejected, because a
    depth map silently re-encoded as 8-bit or RGB would train on garbage.
    """
    if not scale > 0:
        raise ValueError(f"depth scale must be positive, got {scale!r} (reading {path})")
    depth = _imread(path, cv2.IMREAD_UNCHANGED)
    if depth.dtype != np.uint16 or depth.ndim != 2:
        raise ValueError(
            f"depth file must be a single-channel uint16 PNG, found dtype {depth.dtype} "
            f"shape {tuple(depth.shape)}: {os.fspath(path)}"
        )
    return depth.astype(np.float32) / np.float32(scale)
