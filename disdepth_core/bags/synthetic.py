"""``disdepth synth --bag``: the synthetic test scenes as a rosbag2 with ground truth.

Topics (a 10 Hz camera): ``/camera/color/image_raw`` (rgb8), ``/camera/color/image_raw/compressed``
(JPEG, quality 95: the same bytes as the NYU-format dataset's files), ``/camera/color/camera_info``
and ``/camera/depth/image_raw`` (16UC1 millimetres like real RGB-D drivers, or 32FC1 metres), and with
``sparse_band`` ``/scan/depth`` (a 2D LiDAR simulated from the ground truth and projected into the
camera, 16UC1: :mod:`disdepth_core.sparse_simulation`, the scale anchor's input). The
frames are those of ``disdepth synth``'s test split for the same seed, size and scene length, so
``disdepth eval`` on the dataset and ``disdepth bag-eval`` on the bag score the same pixels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from tqdm import tqdm

from .reader import CAMERA_INFO_TYPE, COMPRESSED_TYPE, IMAGE_TYPE
from .writer import BagWriter, MessageFactory

IMAGE_TOPIC = "/camera/color/image_raw"
COMPRESSED_TOPIC = IMAGE_TOPIC + "/compressed"
INFO_TOPIC = "/camera/color/camera_info"
DEPTH_TOPIC = "/camera/depth/image_raw"
SPARSE_TOPIC = "/scan/depth"
FRAME_ID = "camera_color_optical_frame"
START_NS = 1_700_000_000 * 1_000_000_000
JPEG_QUALITY = 95


def write_synthetic_bag(out: str | Path, kind: str = "nyu", frames: int = 20, seed: int = 0, height: Optional[int] = None,
                        width: Optional[int] = None, frames_per_scene: int = 10, storage: str = "sqlite3",
                        rate_hz: float = 10.0, depth_encoding: str = "16UC1", progress: bool = True,
                        layouts: str = "rooms", sparse_band: bool = False) -> Path:
    """Render ``frames`` test-split frames and write them; returns the bag path."""
    from disdepth_core.synthetic.render import render_scene, resolve_size
    from disdepth_core.synthetic.scene_builder import build_scene
    from disdepth_core.synthetic.dataset_writer import MAX_DEPTH, scene_seeds

    if frames <= 0 or frames_per_scene <= 0:
        raise ValueError(f"frames and frames_per_scene must be positive, got {frames} and {frames_per_scene}")
    if rate_hz <= 0:
        raise ValueError(f"rate must be > 0 Hz, got {rate_hz}")
    if depth_encoding not in ("16UC1", "32FC1"):
        raise ValueError(f"depth encoding must be 16UC1 or 32FC1, got {depth_encoding!r}")
    h, w, focal = resolve_size(kind, height, width)
    _, seeds = scene_seeds(seed, 0, math.ceil(frames / frames_per_scene))
    factory = MessageFactory()
    period_ns = int(round(1e9 / rate_hz))
    bar = tqdm(total=frames, desc=f"synthetic bag ({storage})", unit="frame", disable=not progress)
    written = 0
    with BagWriter(out, storage) as writer:
        for scene_seed in seeds:
            scene = build_scene(kind, scene_seed, layouts)
            for index in range(min(frames_per_scene, frames - written)):
                frame = render_scene(scene, index, h, w, focal)
                stamp = START_NS + written * period_ns
                header = factory.header(stamp, FRAME_ID)
                bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
                ok, jpeg = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                depth = np.where(np.isfinite(frame.depth) & (frame.depth > 0) & (frame.depth <= MAX_DEPTH[kind]),
                                 frame.depth, np.nan).astype(np.float32)
                writer.add(INFO_TOPIC, CAMERA_INFO_TYPE, factory.camera_info(frame.K, (h, w), header), stamp)
                writer.add(IMAGE_TOPIC, IMAGE_TYPE, factory.image(frame.rgb, "rgb8", header), stamp)
                writer.add(COMPRESSED_TOPIC, COMPRESSED_TYPE, factory.compressed(jpeg.tobytes(), "rgb8; jpeg compressed bgr8", header), stamp)
                gt_header = factory.header(stamp, "camera_depth_optical_frame")
                writer.add(DEPTH_TOPIC, IMAGE_TYPE, factory.depth_image(depth, gt_header, depth_encoding), stamp)
                if sparse_band:
                    from disdepth_core.sparse_simulation import lidar_band_millimetres

                    writer.add(SPARSE_TOPIC, IMAGE_TYPE, factory.image(lidar_band_millimetres(depth), "16UC1", header), stamp)
                written += 1
                bar.update(1)
            if written >= frames:
                break
    bar.close()
    return Path(out)
