"""Decoded RGB-D frames of one or more recordings, cached at training resolution and split by time.

Decoding a 640x480 JPEG and a depth image costs about as much as a training step of a small
student on a CPU, and a fine-tuning run visits each frame dozens of times; so every frame is
decoded once, resized to the cache size (colour: area, depth: nearest, so no depth is blended
across an edge) and kept in two flat files that training reads as memory maps:
``rgb.u8`` (``[N,H,W,3]`` uint8) and ``depth.f16`` (``[N,H,W]`` float16 metres, 0 = none;
float16 keeps 0.05 % relative precision at any range). ``frames.json`` records each frame's
recording, index, stamp and split; it is written last (the folder is built under a temporary
name and renamed), so a half-built cache is never read.

The split is by contiguous time per recording: the last ``val_fraction`` of each recording's
usable frames is held out, and the frames recorded less than :data:`MIN_GAP_S` (1 s) before the
first held-out frame are dropped (the *gap*), so no held-out frame has a near-duplicate
neighbour in training. The gap is never less than 1 % of the frames (at least one frame), and is
just that when the stamps carry no time (missing, all zero or not increasing). It is never more
than :data:`MAX_GAP_FRACTION` (10 %) of the frames either: a recording of a few seconds cannot
spare a whole second of its views (a 50-frame, 1.7 s recording would train on 11 frames instead
of 35), while any recording longer than about 10 s gets the full second. It always leaves
:data:`MIN_TRAIN_FRAMES` to train on.

Several processes may ask for the same cache at once (one per rank under DDP): the build holds
an exclusive lock (``.NAME.lock`` beside the cache while it is held), so one process decodes and
the others wait and then open the finished cache.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np

from disdepth_core.rgbd_recording import Recording, RecordingError, RgbdFrame, intrinsics_differ, scaled_K
from disdepth_core.folder_build import build_lock, publish_folder

CACHE_VERSION = 2  # 2: the gap before the held-out frames is a time (MIN_GAP_S), not 1 % of the frames
MIN_TRAIN_FRAMES = 8
MIN_HELDOUT_FRAMES = 2
MIN_GAP_S = 1.0  # no training frame within this time before a recording's first held-out frame ...
MAX_GAP_FRACTION = 0.1  # ... unless that is more than this share of the recording's frames
TRAIN, HELDOUT, GAP = "train", "heldout", "gap"


@dataclass
class FrameCache:
    """An opened cache: memory-mapped frames plus what is known about them."""

    root: Path
    manifest: dict[str, Any]
    rgb: np.ndarray  # [N,H,W,3] uint8 (read-only memory map)
    depth: np.ndarray  # [N,H,W] float16 metres

    @property
    def frames(self) -> list[dict[str, Any]]:
        return self.manifest["frames"]

    @property
    def size_hw(self) -> tuple[int, int]:
        return tuple(self.manifest["size_hw"])

    @property
    def K(self) -> np.ndarray:
        """Colour intrinsics at the cache size."""
        return np.asarray(self.manifest["K"], dtype=np.float64)

    def indices(self, split: str) -> list[int]:
        return [i for i, frame in enumerate(self.frames) if frame["split"] == split]

    @classmethod
    def open(cls, root: str | Path) -> "FrameCache":
        root = Path(root)
        manifest = json.loads((root / "frames.json").read_text())
        if manifest.get("version") != CACHE_VERSION:
            raise RecordingError(f"frame cache {root} was written by another version; delete it to rebuild")
        n, (h, w) = len(manifest["frames"]), manifest["size_hw"]
        rgb = np.memmap(root / "rgb.u8", dtype=np.uint8, mode="r", shape=(n, h, w, 3)) if n else np.zeros((0, h, w, 3), np.uint8)
        depth = np.memmap(root / "depth.f16", dtype=np.float16, mode="r", shape=(n, h, w)) if n else np.zeros((0, h, w), np.float16)
        return cls(root, manifest, rgb, depth)


def cache_key(sources: list[str], options: dict[str, Any], size_hw: tuple[int, int], val_fraction: float, max_frames: int) -> dict[str, Any]:
    """What the cache content depends on; a cache whose key differs is rebuilt."""
    def fingerprint(path: str) -> list:
        p = Path(path)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        stats = [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files if f.is_file()]
        return [str(p.resolve()), len(stats), sum(s[1] for s in stats), max((s[2] for s in stats), default=0)]

    return {"version": CACHE_VERSION, "sources": [fingerprint(s) for s in sources], "options": options,
            "size_hw": list(size_hw), "val_fraction": float(val_fraction), "max_frames": int(max_frames)}


def cache_is_current(root: str | Path, key: dict[str, Any]) -> bool:
    path = Path(root) / "frames.json"
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def check_one_camera(recordings: list[Recording]) -> None:
    """All recordings must come from one camera setting (same size and intrinsics within 3 %)."""
    first = recordings[0].info
    for rec in recordings[1:]:
        info = rec.info
        if tuple(info.size_hw) != tuple(first.size_hw) or intrinsics_differ(info.K, first.K, first.size_hw[1]):
            raise RecordingError(f"{info.path} ({info.size_hw[1]}x{info.size_hw[0]}, fx {info.K[0, 0]:.1f}) and {first.path} "
                                 f"({first.size_hw[1]}x{first.size_hw[0]}, fx {first.K[0, 0]:.1f}) are from different cameras "
                                 "or settings; fine-tune on one camera at a time")


def split_labels(count: int, val_fraction: float, stamps_ns: Optional[Sequence[int]] = None) -> list[str]:
    """Labels of one recording's ``count`` usable frames in time order: train, then gap, then held out.

    The gap holds the frames less than :data:`MIN_GAP_S` before the first held-out one by
    ``stamps_ns``: never fewer than 1 % of the frames (at least one), never more than
    :data:`MAX_GAP_FRACTION` of them, and it leaves :data:`MIN_TRAIN_FRAMES` to train on where
    the 1 % gap does. Without usable stamps (None, all zero, or not increasing) the gap is the 1 %.
    """
    if val_fraction <= 0:
        return [TRAIN] * count
    held = min(count, max(1, math.ceil(val_fraction * count)))
    gap = min(count - held, max(1, count // 100))
    if _stamps_carry_time(stamps_ns, count) and count - held - gap > 0:
        first_held = stamps_ns[count - held]
        limit_ns = MIN_GAP_S * 1e9 - 1e6  # 1 ms less: a frame exactly 1 s before stays whatever the stamps' rounding
        near = sum(1 for stamp in stamps_ns[:count - held] if first_held - stamp < limit_ns)
        near = min(near, int(MAX_GAP_FRACTION * count))
        gap = max(gap, min(near, count - held - MIN_TRAIN_FRAMES))
    return [TRAIN] * (count - held - gap) + [GAP] * gap + [HELDOUT] * held


def _stamps_carry_time(stamps_ns: Optional[Sequence[int]], count: int) -> bool:
    """Whether ``stamps_ns`` are times to measure the gap with: one per frame, non-decreasing, not all equal."""
    if stamps_ns is None or len(stamps_ns) != count or count < 2:
        return False
    return all(b >= a for a, b in zip(stamps_ns, stamps_ns[1:])) and stamps_ns[-1] > stamps_ns[0]


def build_frame_cache(root: str | Path, recordings: list[Recording], size_hw: tuple[int, int], key: dict[str, Any],
                      val_fraction: float = 0.2, max_frames: int = 3000, progress: bool = True,
                      log: Callable[[str], None] = print) -> FrameCache:
    """Decode every recording (every k-th frame when they hold more than ``max_frames``) into ``root``.

    Raises RecordingError (one line) when too few usable frames remain; bad frames are skipped
    and counted in ``frames.json`` (``skipped``: per recording, per reason). Safe to call from
    several processes at once: one builds, the others wait and open its cache (the same ``key``).
    """
    root = Path(root)
    with build_lock(root):  # one builder at a time (DDP ranks): the others wait, then open what it built
        if cache_is_current(root, key):
            return FrameCache.open(root)
        return _build(root, recordings, size_hw, key, val_fraction, max_frames, progress, log)


def _build(root: Path, recordings: list[Recording], size_hw: tuple[int, int], key: dict[str, Any], val_fraction: float,
           max_frames: int, progress: bool, log: Callable[[str], None]) -> FrameCache:
    from tqdm import tqdm

    if root.exists() and not (root / "frames.json").is_file() and any(root.iterdir()):
        raise RecordingError(f"{root} (the bag dataset's data_root, where decoded frames are cached) exists and is not a "
                             "frame cache; give a new or empty folder")
    check_one_camera(recordings)
    total = sum(rec.info.frames for rec in recordings)
    step = max(1, math.ceil(total / max_frames)) if max_frames > 0 else 1
    if step > 1:
        log(f"[cache] {total} frames in the recording(s): keeping every {step}th (at most {max_frames}; raise --max-frames for more)")
    tmp = root.with_name(f".{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    height, width = size_hw
    frames: list[dict[str, Any]] = []
    skipped: dict[str, dict[str, int]] = {}
    read_errors: dict[str, str] = {}
    bar = tqdm(total=sum(math.ceil(rec.info.frames / step) for rec in recordings), desc="decoding frames", unit="frame",
               disable=not progress, dynamic_ncols=True)
    try:
        with open(tmp / "rgb.u8", "wb") as rgb_file, open(tmp / "depth.f16", "wb") as depth_file:
            for number, rec in enumerate(recordings):
                own: list[dict[str, Any]] = []
                for item in rec.frames(set(range(0, rec.info.frames, step))):
                    bar.update(1)
                    if not isinstance(item, RgbdFrame):
                        continue
                    rgb, depth = resize_frame(item.rgb, item.depth, size_hw)
                    rgb_file.write(np.ascontiguousarray(rgb).tobytes())
                    depth_file.write(depth.astype(np.float16).tobytes())
                    own.append({"source": number, "index": item.index, "stamp_ns": item.stamp_ns})
                _check_usable(rec, own, val_fraction)
                for frame, label in zip(own, split_labels(len(own), val_fraction, [f["stamp_ns"] for f in own])):
                    frame["split"] = label
                frames += own
                skipped[rec.info.path] = dict(Counter(rec.skipped))
                if getattr(rec, "read_error", None):
                    read_errors[rec.info.path] = rec.read_error
    except BaseException:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    bar.close()
    first = recordings[0].info
    manifest = {"version": CACHE_VERSION, "key": key, "size_hw": [height, width],
                "K": scaled_K(first.K, first.size_hw, size_hw).tolist(), "source_K": np.asarray(first.K).tolist(),
                "source_hw": list(first.size_hw), "sources": [rec.info.path for rec in recordings],
                "describe": [rec.info.describe() for rec in recordings],
                "camera_sources": [rec.info.camera_source for rec in recordings], "step": step, "val_fraction": val_fraction,
                "frames": frames, "skipped": skipped, "read_errors": read_errors}
    (tmp / "frames.json").write_text(json.dumps(manifest))
    publish_folder(tmp, root, lambda: cache_is_current(root, key))
    return FrameCache.open(root)


def _check_usable(rec: Recording, frames: list[dict[str, Any]], val_fraction: float) -> None:
    """Enough frames to train and to judge the result, or one line saying what went wrong."""
    skipped = Counter(rec.skipped)
    if not frames and skipped and all("all zero" in reason for reason in skipped):
        raise RecordingError(f"the depth in {rec.info.path} is zero in every frame ({sum(skipped.values())} frames): "
                             "no measured depth was recorded (a depth stream that was off or still starting?)")
    labels = Counter(split_labels(len(frames), val_fraction, [f["stamp_ns"] for f in frames]))
    if labels[TRAIN] < MIN_TRAIN_FRAMES or (val_fraction > 0 and labels[HELDOUT] < MIN_HELDOUT_FRAMES):
        reasons = "; ".join(f"{count} x {reason}" for reason, count in skipped.most_common(3))
        raise RecordingError(f"{rec.info.path} has {len(frames)} usable RGB-D pairs ({labels[TRAIN]} to train on, "
                             f"{labels[HELDOUT]} held out); at least {MIN_TRAIN_FRAMES} + {MIN_HELDOUT_FRAMES} are needed"
                             + (f" (skipped: {reasons})" if reasons else "") + "; record longer or check --max-dt")


def resize_frame(rgb: np.ndarray, depth: np.ndarray, size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Colour (area when shrinking, like the node's preprocessing) and depth (nearest) to ``size_hw``."""
    height, width = size_hw
    if rgb.shape[:2] == (height, width):
        return rgb, depth
    shrinking = height < rgb.shape[0] and width < rgb.shape[1]
    rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)
    return rgb, depth


def default_cache_size(input_hw: tuple[int, int], source_hw: tuple[int, int], factor: float = 2.0) -> tuple[int, int]:
    """``factor`` x the network input (zoom augmentation up to ``factor`` needs no upsampling), but
    never more pixels than the recording has."""
    scale = min(factor, max(1.0, min(source_hw[0] / input_hw[0], source_hw[1] / input_hw[1])))
    return int(round(input_hw[0] * scale)), int(round(input_hw[1] * scale))

