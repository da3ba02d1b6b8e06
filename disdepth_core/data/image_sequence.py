"""RGB-D frames from a folder of colour + depth images (TUM, ScanNet, SUN3D / 3DMatch style).

For users whose recordings are image sequences rather than rosbags. Layouts recognised:

* one folder of ``NAME.color.png|jpg`` + ``NAME.depth.png`` (3DMatch, SUN3D fragments, 7-Scenes)
  or any names that differ only by a colour/depth word (``rgb_00001.jpg`` + ``sync_depth_00001.png``);
* a colour subfolder (``rgb``, ``color``, ``colour``, ``image``, ``images``) beside ``depth``,
  paired by file name, or for numeric names (TUM's timestamps) by the nearest time within
  ``max_dt`` seconds.

Depth is a single-channel uint16 PNG of ``depth_scale`` units per metre (1000 = millimetres;
TUM's 5000 is picked automatically when the folder has TUM's ``depth.txt``), 0 = no
measurement. Intrinsics come from ``camera-intrinsics.txt`` (3x3), ScanNet's
``intrinsic/intrinsic_color.txt`` (4x4), ``intrinsics.txt`` (3x3 or ``fx fy cx cy``), or the
command line. Problems are :class:`RecordingError` lines before any work; an unreadable frame
is skipped and counted.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from disdepth_core.rgbd_recording import (
    RecordingError,
    RecordingInfo,
    RgbdFrame,
    SkippedFrame,
    intrinsics_matrix,
    registered_frame,
    same_aspect,
)

from .io import read_rgb

COLOR_DIRS = ("rgb", "color", "colour", "image", "images")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
INTRINSICS_FILES = ("camera-intrinsics.txt", "intrinsic/intrinsic_color.txt", "intrinsics.txt")
TUM_DEPTH_SCALE = 5000.0
FOLDER_RATE_HZ = 30.0  # stamps for names that are not times: frame order at a typical camera rate
_ROLE_WORDS = re.compile(r"(sync_depth|depth|colour|color|rgb|image)", re.IGNORECASE)


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _pair_key(name: str) -> str:
    """A file name without its colour/depth word and extension: what a colour file and its depth share."""
    stem = name.rsplit(".", 1)[0]
    return re.sub(r"[._-]+", "_", _ROLE_WORDS.sub("", stem)).strip("_")


def _as_time(stem: str) -> Optional[float]:
    try:
        return float(stem)
    except ValueError:
        return None


def is_image_sequence(path: Path) -> bool:
    """Whether ``path`` looks like a folder of colour + depth images (rather than a rosbag2)."""
    if not path.is_dir() or (path / "metadata.yaml").is_file():
        return False
    if any((path / name).is_dir() for name in COLOR_DIRS) and (path / "depth").is_dir():
        return True
    return any("depth" in p.name.lower() and p.suffix.lower() == ".png" for p in path.iterdir())


class ImageSequenceRecording:
    """A folder of RGB-D image pairs; same interface as :class:`disdepth_core.bags.rgbd_frames.BagRecording`."""

    def __init__(self, path: str | Path, intrinsics: Optional[tuple[float, float, float, float]] = None,
                 depth_scale: Optional[float] = None, max_dt: float = 0.02) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise RecordingError(f"recording {self.path} is not a folder of RGB-D images or a rosbag2")
        self.skipped: Counter = Counter()
        self.read_error: Optional[str] = None
        self.pairs, layout, tum = self._find_pairs(float(max_dt))
        if not self.pairs:
            raise RecordingError(f"no colour + depth image pairs found in {self.path} (expected NAME.color.png + "
                                 f"NAME.depth.png, or {'/'.join(COLOR_DIRS)} + depth subfolders)")
        self.depth_scale = float(depth_scale) if depth_scale else (TUM_DEPTH_SCALE if tum else 1000.0)
        rgb, depth = self._probe()
        self.size_hw = rgb.shape[:2]
        K, source = self._intrinsics(intrinsics)
        self.K = K
        note = f"uint16 PNG / {self.depth_scale:g} per metre"
        if depth.shape != self.size_hw:
            note += f" at {depth.shape[1]}x{depth.shape[0]} (resized to the colour size)"
        self.info = RecordingInfo(str(self.path), f"image folder ({layout})", len(self.pairs), self.size_hw, K, source, note)

    # ---------------------------------------------------------------- layout
    def _find_pairs(self, max_dt: float) -> tuple[list[tuple[Path, Path, Optional[float]]], str, bool]:
        root = self.path
        color_dir = next((root / name for name in COLOR_DIRS if (root / name).is_dir()), None)
        if color_dir is not None and (root / "depth").is_dir():
            colors = sorted((p for p in color_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: _natural_key(p.name))
            depths = sorted((p for p in (root / "depth").iterdir() if p.suffix.lower() == ".png"), key=lambda p: _natural_key(p.name))
            tum = (root / "depth.txt").is_file()
            return self._pair_by_stem(colors, depths, max_dt), f"{color_dir.name}/ + depth/", tum
        files = sorted((p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: _natural_key(p.name))
        depths = {_pair_key(p.name): p for p in files if "depth" in p.name.lower() and p.suffix.lower() == ".png"}
        pairs = [(p, depths[_pair_key(p.name)], None) for p in files
                 if "depth" not in p.name.lower() and _pair_key(p.name) in depths]
        return pairs, "colour + depth files side by side", False

    @staticmethod
    def _pair_by_stem(colors: list[Path], depths: list[Path], max_dt: float) -> list[tuple[Path, Path, Optional[float]]]:
        by_stem = {p.stem: p for p in depths}
        if all(p.stem in by_stem for p in colors):
            return [(p, by_stem[p.stem], _as_time(p.stem)) for p in colors]
        times = [_as_time(p.stem) for p in depths]
        if any(t is None for t in times) or any(_as_time(p.stem) is None for p in colors):
            return [(p, by_stem[p.stem], None) for p in colors if p.stem in by_stem]
        order = sorted(range(len(depths)), key=lambda i: times[i])
        sorted_times = [times[i] for i in order]
        pairs = []
        for color in colors:
            t = _as_time(color.stem)
            pos = bisect.bisect_left(sorted_times, t)
            best = min((c for c in (pos - 1, pos) if 0 <= c < len(order)), key=lambda c: abs(sorted_times[c] - t), default=None)
            if best is not None and abs(sorted_times[best] - t) <= max_dt:
                pairs.append((color, depths[order[best]], t))
        return pairs

    # ---------------------------------------------------------------- checks
    def _read_depth(self, path: Path) -> np.ndarray:
        import cv2

        from disdepth_core.quiet_decode import imdecode_quiet

        raw, _ = imdecode_quiet(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise ValueError(f"cannot decode depth image {path.name}")
        if raw.dtype == np.uint8:
            raise RecordingError(f"depth image {path} is 8-bit: 8 bits cannot hold metric depth (a preview?); use the "
                                 "sensor's 16-bit depth PNGs")
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise RecordingError(f"depth image {path} is {raw.dtype} with shape {tuple(raw.shape)}; expected a "
                                 "single-channel uint16 PNG")
        return raw.astype(np.float32) / np.float32(self.depth_scale)

    def _probe(self) -> tuple[np.ndarray, np.ndarray]:
        color, depth_path, _ = self.pairs[0]
        try:
            rgb = read_rgb(color)
        except (FileNotFoundError, ValueError) as err:
            raise RecordingError(f"cannot read the first colour image of {self.path}: {err}") from None
        try:
            depth = self._read_depth(depth_path)
        except RecordingError:
            raise
        except ValueError as err:
            raise RecordingError(f"cannot read the first depth image of {self.path}: {err}") from None
        if depth.shape != rgb.shape[:2] and not same_aspect(depth.shape, rgb.shape[:2]):
            raise RecordingError(f"depth images in {self.path} are {depth.shape[1]}x{depth.shape[0]} but the colour images "
                                 f"are {rgb.shape[1]}x{rgb.shape[0]}: not the same view; register depth to colour first")
        return rgb, depth

    def _intrinsics(self, given: Optional[tuple[float, float, float, float]]) -> tuple[np.ndarray, str]:
        if given is not None:
            return intrinsics_matrix(*given), "given on the command line"
        for name in INTRINSICS_FILES:
            path = self.path / name
            if path.is_file():
                try:
                    values = np.loadtxt(path, dtype=np.float64).reshape(-1)
                except ValueError as err:
                    raise RecordingError(f"cannot read intrinsics file {path}: {err}") from None
                if values.size == 4:
                    return intrinsics_matrix(*values), str(path.name)
                if values.size in (9, 16):
                    m = values.reshape(3, 3) if values.size == 9 else values.reshape(4, 4)[:3, :3]
                    return intrinsics_matrix(m[0, 0], m[1, 1], m[0, 2], m[1, 2]), str(name)
                raise RecordingError(f"intrinsics file {path} has {values.size} numbers; expected a 3x3 or 4x4 matrix or fx fy cx cy")
        raise RecordingError(f"no camera intrinsics for {self.path}: no {' / '.join(INTRINSICS_FILES)} there; pass "
                             "--fx --fy --cx --cy")

    # ---------------------------------------------------------------- frames
    def frames(self, wanted: Optional[set[int]] = None) -> Iterator[Union[RgbdFrame, SkippedFrame]]:
        for index, (color, depth_path, seconds) in enumerate(self.pairs):
            if wanted is not None and index not in wanted:
                continue
            stamp = int(round((seconds if seconds is not None else index / FOLDER_RATE_HZ) * 1e9))
            item = self._frame(index, stamp, color, depth_path)
            if isinstance(item, SkippedFrame):
                self.skipped[item.reason] += 1
            yield item

    def _frame(self, index: int, stamp: int, color: Path, depth_path: Path) -> Union[RgbdFrame, SkippedFrame]:
        try:
            rgb = read_rgb(color)
            depth = self._read_depth(depth_path)
        except (FileNotFoundError, ValueError) as err:  # RecordingError is a ValueError too
            return SkippedFrame(index, f"unreadable image: {str(err).split(': ')[0]}")
        if rgb.shape[:2] != tuple(self.size_hw):
            return SkippedFrame(index, f"image size changed to {rgb.shape[1]}x{rgb.shape[0]}")
        return registered_frame(index, stamp, rgb, depth, self.K)

    def close(self) -> None:
        """Nothing to release (files are opened per frame)."""

    def __enter__(self) -> "ImageSequenceRecording":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

