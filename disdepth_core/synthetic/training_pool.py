"""A pool of synthetic RGB-D frames rendered for one camera, to mix into fine-tuning batches.

Fine-tuning on one recording moves a model towards that recording's rooms; mixing in scenes of
the kind the shipped model was trained on (``--synthetic-mix``) keeps some of what it knew. The
frames are rendered at the cache size with the *recording's* focal length, so their depth is
consistent with the real frames' (a synthetic frame at another focal length would teach another
size-to-distance relation). Deterministic by seed; stored like the frame cache (``rgb.u8``,
``depth.f16``, ``pool.json`` written last), and like it rendered by one process at a time
(:mod:`disdepth_core.folder_build`) while others wait for it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from disdepth_core.folder_build import build_lock, publish_folder

POOL_VERSION = 1
INDOOR_LAYOUTS = "rooms,corridors,small_rooms"
FRAMES_PER_SCENE = 8


def ensure_synthetic_pool(root: str | Path, count: int, size_hw: tuple[int, int], focal: float, kind: str = "nyu",
                          seed: int = 0, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb [N,H,W,3] uint8, depth [N,H,W] float16)`` memory maps of the pool in ``root`` (rendered if missing)."""
    root = Path(root)
    key = {"version": POOL_VERSION, "count": int(count), "size_hw": list(size_hw), "focal": round(float(focal), 4),
           "kind": kind, "seed": int(seed)}
    meta = root / "pool.json"
    if not _pool_is_current(meta, key):
        with build_lock(root):
            if not _pool_is_current(meta, key):  # another process may have rendered it while this one waited
                if root.exists() and not meta.is_file() and any(root.iterdir()):
                    raise ValueError(f"{root} exists and is not a synthetic pool; move it away (it is rebuilt there)")
                _render(root, key, progress)
    height, width = size_hw
    rgb = np.memmap(root / "rgb.u8", dtype=np.uint8, mode="r", shape=(count, height, width, 3))
    depth = np.memmap(root / "depth.f16", dtype=np.float16, mode="r", shape=(count, height, width))
    return rgb, depth


def _pool_is_current(meta: Path, key: dict[str, Any]) -> bool:
    try:
        return meta.is_file() and json.loads(meta.read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def _render(root: Path, key: dict[str, Any], progress: bool) -> None:
    from tqdm import tqdm

    from .camera_effects import apply_camera_effects, frame_rng
    from .dataset_writer import MAX_DEPTH, scene_seeds
    from .render import render_scene
    from .scene_builder import build_scene

    height, width = key["size_hw"]
    count, kind = key["count"], key["kind"]
    seeds, _ = scene_seeds(key["seed"], -(-count // FRAMES_PER_SCENE), 0)  # the generator's training scenes
    tmp = root.with_name(f".{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    written = 0
    with open(tmp / "rgb.u8", "wb") as rgb_file, open(tmp / "depth.f16", "wb") as depth_file, \
            tqdm(total=count, desc="synthetic scenes", unit="frame", disable=not progress, dynamic_ncols=True) as bar:
        for scene_seed in seeds:
            scene = build_scene(kind, scene_seed, INDOOR_LAYOUTS if kind == "nyu" else "rooms")
            for index in range(min(FRAMES_PER_SCENE, count - written)):
                frame = render_scene(scene, index, height, width, float(key["focal"]))
                rgb = apply_camera_effects(frame.rgb, frame_rng(scene_seed, index))
                depth = np.where(np.isfinite(frame.depth) & (frame.depth > 0) & (frame.depth <= MAX_DEPTH[kind]), frame.depth, 0.0)
                rgb_file.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
                depth_file.write(depth.astype(np.float16).tobytes())
                written += 1
                bar.update(1)
    (tmp / "pool.json").write_text(json.dumps({"key": key}))
    publish_folder(tmp, root, lambda: _pool_is_current(root / "pool.json", key))
