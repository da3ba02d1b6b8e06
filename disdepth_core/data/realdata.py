"""Readers for the real RGB-D frames in ``shared/realdata`` (each set's own depth encoding).

The frames stay outside the repository (their licences are stricter than ours); this module
only knows how to find and decode them, as documented in ``shared/realdata/README.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


def find_realdata_root(start: Path | None = None) -> Path | None:
    """``$DISDEPTH_REALDATA``, else the first ``shared/realdata`` beside ``start`` or one of its parents."""
    env = os.environ.get("DISDEPTH_REALDATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "shared" / "realdata"
        if candidate.is_dir():
            return candidate
    return None


INDOOR, OUTDOOR = "indoor", "outdoor"


@dataclass(frozen=True)
class RealFrame:
    """One real RGB frame and its measured depth (metres, 0 = invalid) at the RGB resolution.

    ``K`` is None where the intrinsics are not published; ``registered`` is False where the
    depth is not aligned with the colour image (then only its range is comparable).
    """

    name: str
    scene: str
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray | None
    registered: bool = True


def _k(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _read(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise FileNotFoundError(f"cannot read real frame file {path}")
    return image


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(_read(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _depth(path: Path) -> np.ndarray:
    return _read(path, cv2.IMREAD_UNCHANGED)


def _tum(root: Path) -> RealFrame:
    d = _depth(root / "TUM_depth.png").astype(np.float32) / 5000.0
    return RealFrame("tum", INDOOR, _rgb(root / "TUM_color.png"), d, _k(525.0, 525.0, 319.5, 239.5))


def _sun3d(root: Path) -> RealFrame:
    raw = _depth(root / "SUN_depth.png").astype(np.uint32)
    d = (((raw >> 3) | (raw << 13)) & 0xFFFF).astype(np.float32) / 1000.0
    return RealFrame("sun3d", INDOOR, _rgb(root / "SUN_color.jpg"), d, _k(570.3, 570.3, 320.0, 240.0))


def _kinect_v2(root: Path) -> RealFrame:
    d = _depth(root / "sample_depth.png").astype(np.float32) / 1000.0
    return RealFrame("kinect_v2", INDOOR, _rgb(root / "sample_rgb.png"), d, None)


def _nyu_raw(root: Path) -> RealFrame:
    disparity = _depth(root / "NYU_depth.pgm").byteswap().astype(np.float64)
    with np.errstate(divide="ignore"):
        d = np.where((disparity < 2047) & (disparity < 1092.5), 351.3 / (1092.5 - disparity), 0.0)
    return RealFrame("nyu_raw", INDOOR, _rgb(root / "NYU_color.ppm"), d.astype(np.float32),
                     _k(518.8579, 519.4696, 325.5824, 253.7362), registered=False)


def _kitti(root: Path) -> RealFrame:
    d = _depth(root / "000008_velo_depth_derived.png").astype(np.float32) / 256.0
    return RealFrame("kitti_000008", OUTDOOR, _rgb(root / "000008.png"), d, _k(721.5377, 721.5377, 609.5593, 172.854))


_SETS = {"tum_rgbd_open3d": _tum, "sun3d_open3d": _sun3d, "kinectv2_emsanet": _kinect_v2,
         "nyu_raw_open3d": _nyu_raw, "kitti_object_000008_mmdet3d": _kitti}


def load_real_frames(root: Path, scene: str | None = None) -> list[RealFrame]:
    """Every real frame with depth under ``root`` (optionally only ``indoor`` or ``outdoor``)."""
    frames = [reader(Path(root) / folder) for folder, reader in _SETS.items() if (Path(root) / folder).is_dir()]
    if not frames:
        raise FileNotFoundError(f"no real RGB-D frames found under {root} (expected {', '.join(_SETS)})")
    return [f for f in frames if scene is None or f.scene == scene]
