"""Small real RGB-D recordings for the fine-tuning tests: rendered rooms written as a driver records them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from disdepth_core.bags.rgbd_writer import RgbdTopics, write_rgbd_bag
from disdepth_core.rgbd_recording import RgbdFrame

TOPICS = RgbdTopics()
SIZE = (96, 144)  # the tiny test student's input is 64x96 (same 2:3 aspect)


@lru_cache(maxsize=4)
def room_frames(count: int = 24, size: tuple[int, int] = SIZE, seed: int = 4) -> tuple[RgbdFrame, ...]:
    """``count`` frames of synthetic rooms (4 per room) with exact depth and intrinsics."""
    from disdepth_core.synthetic.render import render_scene
    from disdepth_core.synthetic.scene_builder import build_scene

    height, width = size
    focal = 0.9 * width
    frames = []
    for i in range(count):
        scene = build_scene("nyu", seed * 1000 + i // 4, "rooms")
        frame = render_scene(scene, i % 4, height, width, focal)
        depth = np.where(np.isfinite(frame.depth) & (frame.depth > 0) & (frame.depth < 10), frame.depth, 0).astype(np.float32)
        frames.append(RgbdFrame(i, i, frame.rgb, depth, frame.K))
    return tuple(frames)


def tiny_bag(path: Path, storage: str = "sqlite3", count: int = 24, **options) -> Path:
    """A driver-like bag (rgb8 + JPEG colour, aligned 16UC1 depth, camera_info) of ``count`` room frames."""
    return write_rgbd_bag(room_frames(count), path, storage, **options)


def image_folder(path: Path, count: int = 24, intrinsics: bool = True, depth_dtype=np.uint16,
                 scale: float = 1000.0, names: Optional[tuple[str, str]] = None) -> Path:
    """A 3DMatch-style folder: ``frame-N.color.png`` + ``frame-N.depth.png`` (+ ``camera-intrinsics.txt``)."""
    path.mkdir(parents=True)
    color_name, depth_name = names or ("frame-{:06d}.color.png", "frame-{:06d}.depth.png")
    for frame in room_frames(count):
        cv2.imwrite(str(path / color_name.format(frame.index)), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
        depth = np.clip(np.round(frame.depth * scale), 0, np.iinfo(depth_dtype).max).astype(depth_dtype)
        cv2.imwrite(str(path / depth_name.format(frame.index)), depth)
    if intrinsics:
        np.savetxt(path / "camera-intrinsics.txt", room_frames(count)[0].K)
    return path
