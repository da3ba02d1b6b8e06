"""On-disk layouts for synthetic datasets, byte-compatible with the real NYU/KITTI trees.

Why a separate module: the dataset readers are written against these exact paths, split
lines and depth encodings, so the format lives in one small place that both the
generator and any reader-side test can consult.

NYU (BTS "sync"):  ``train|test/<scene>/rgb_%05d.jpg`` (JPEG q95) and
``sync_depth_%05d.png`` (uint16, mm); split line ``<scene>/rgb.. <scene>/sync_depth.. f``.
KITTI (Eigen): ``raw/2011_09_26/<drive>/image_02/data/%010d.png`` and
``gt/<drive>/proj_depth/groundtruth/image_02/%010d.png`` (uint16, metres * 256); split
line ``<image rel. raw/> <depth rel. gt/> f``.  Depth 0 means invalid in both.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from .camera_effects import apply_camera_effects, frame_rng
from .render import intrinsics, render_scene, resolve_size
from .scene_builder import build_scene, parse_layouts

GENERATOR_VERSION = "1.0.0"
DEPTH_SCALE = {"nyu": 1000.0, "kitti": 256.0}
MAX_DEPTH = {"nyu": 10.0, "kitti": 80.0}
MIN_DEPTH = 1e-3
KITTI_DATE = "2011_09_26"
_JPEG = [int(cv2.IMWRITE_JPEG_QUALITY), 95]
_PNG = [int(cv2.IMWRITE_PNG_COMPRESSION), 1]


def encode_depth(depth: np.ndarray, scale: float, max_depth: float) -> np.ndarray:
    """Metres -> uint16 ``round(d * scale)``; beyond ``max_depth`` or non-finite -> 0."""
    d = np.asarray(depth, np.float64)
    d = np.where(np.isfinite(d) & (d > 0.0) & (d <= max_depth), d, 0.0)
    return np.clip(np.round(d * scale), 0, 65535).astype(np.uint16)


def nyu_paths(scene: str, index: int) -> tuple[str, str]:
    """(rgb, depth) paths relative to the split folder (``train/`` or ``test/``)."""
    return f"{scene}/rgb_{index:05d}.jpg", f"{scene}/sync_depth_{index:05d}.png"


def kitti_paths(drive: int, index: int) -> tuple[str, str]:
    """(rgb relative to ``raw/``, depth relative to ``gt/``) for one KITTI-style frame."""
    name = f"{KITTI_DATE}_drive_{drive:04d}_sync"
    return (f"{KITTI_DATE}/{name}/image_02/data/{index:010d}.png",
            f"{name}/proj_depth/groundtruth/image_02/{index:010d}.png")


def lidar_rows(height: int, focal: float, beams: int = 64) -> np.ndarray:
    """Boolean [H] mask of image rows hit by a 64-beam LiDAR (+2 deg .. -24.8 deg).

    Mimics the sparsity of real KITTI ground truth: scan lines spread over the lower part
    of the image, nothing above the top beam.
    """
    rows = np.zeros(height, bool)
    elevations = np.radians(np.linspace(2.0, -24.8, beams))
    v = np.round(height / 2.0 - focal * np.tan(elevations)).astype(np.int64)
    rows[v[(v >= 0) & (v < height)]] = True
    return rows


def _imwrite(path: Path, image: np.ndarray, params: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, params):
        raise OSError(f"cv2.imwrite failed for {path}")


TEST_SCENE_OFFSET = 9000


def scene_seeds(seed: int, n_train_scenes: int, n_test_scenes: int) -> tuple[list[int], list[int]]:
    """Per-scene seeds from two independent SeedSequence spawns, guaranteed disjoint."""
    train_ss, test_ss = np.random.SeedSequence(int(seed)).spawn(2)
    train = [int(s) for s in train_ss.generate_state(n_train_scenes, np.uint64)] if n_train_scenes else []
    taken = set(train)
    test = [int(s) for s in test_ss.generate_state(n_test_scenes + 16, np.uint64) if int(s) not in taken]
    return train, test[:n_test_scenes]


def write_dataset(out_dir: Path, kind: str, n_train: int, n_test: int, seed: int, height: int, width: int,
                  focal: float, frames_per_scene: int, progress: bool, sparse: bool,
                  camera_effects: bool = False, layouts: str = "rooms") -> Path:
    """Render and write every frame, the split files and ``meta.yaml``; returns the root.

    ``camera_effects`` passes each RGB frame through a randomly set up camera (exposure,
    white balance, blur, noise: :mod:`.camera_effects`); depth is never changed.
    ``layouts`` (nyu): comma-separated indoor layouts, see ``scene_builder.build_scene``.
    """
    root = Path(out_dir) / kind
    (root / "splits").mkdir(parents=True, exist_ok=True)
    scale, max_depth = DEPTH_SCALE[kind], MAX_DEPTH[kind]
    n_tr_sc, n_te_sc = math.ceil(n_train / frames_per_scene), math.ceil(n_test / frames_per_scene)
    seeds = dict(zip(("train", "test"), scene_seeds(seed, n_tr_sc, n_te_sc)))
    keep_rows = lidar_rows(height, focal) if sparse else None
    counts = {"train": n_train, "test": n_test}
    bar = tqdm(total=n_train + n_test, disable=not progress, desc=f"synthetic {kind}", unit="frame")
    if n_tr_sc >= TEST_SCENE_OFFSET:
        raise ValueError(f"at most {TEST_SCENE_OFFSET - 1} training scenes are supported, got {n_tr_sc}")
    for split in ("train", "test"):
        # Test scenes are numbered from a fixed offset so names never collide with training
        # scenes AND the test split is byte-identical whatever n_train is (the demo relies on it).
        number = 0 if split == "train" else TEST_SCENE_OFFSET
        lines: list[str] = []
        remaining = counts[split]
        for scene_seed in seeds[split]:
            number += 1
            scene = build_scene(kind, scene_seed, layouts)
            for index in range(min(frames_per_scene, remaining)):
                frame = render_scene(scene, index, height, width, focal)
                depth = frame.depth if keep_rows is None else np.where(keep_rows[:, None], frame.depth, 0.0)
                rgb = apply_camera_effects(frame.rgb, frame_rng(scene_seed, index)) if camera_effects else frame.rgb
                bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                png = encode_depth(depth, scale, max_depth)
                if kind == "nyu":
                    name = f"{scene.name_prefix}_{number:04d}"
                    rgb_rel, depth_rel = nyu_paths(name, index)
                    _imwrite(root / split / rgb_rel, bgr, _JPEG)
                    _imwrite(root / split / depth_rel, png, _PNG)
                else:
                    rgb_rel, depth_rel = kitti_paths(number, index)
                    _imwrite(root / "raw" / rgb_rel, bgr, _PNG)
                    _imwrite(root / "gt" / depth_rel, png, _PNG)
                lines.append(f"{rgb_rel} {depth_rel} {focal:.4f}")
                remaining -= 1
                bar.update(1)
        (root / "splits" / f"{split}.txt").write_text("".join(line + "\n" for line in lines))
    bar.close()
    write_meta(root, kind, height, width, focal, seed, frames_per_scene, sparse,
               {"train": n_train, "test": n_test, "train_scenes": n_tr_sc, "test_scenes": n_te_sc}, camera_effects, layouts)
    return root


def write_meta(root: Path, kind: str, height: int, width: int, focal: float, seed: int,
               frames_per_scene: int, sparse: bool, counts: dict[str, int], camera_effects: bool = False,
               layouts: str = "rooms") -> None:
    """``meta.yaml``: everything a reader needs to decode the tree without guessing."""
    k = intrinsics(height, width, focal)
    dirs = {"train": ("train", "train"), "test": ("test", "test")} if kind == "nyu" else \
        {"train": ("raw", "gt"), "test": ("raw", "gt")}
    meta = {
        "generator": "disdepth_core.synthetic.render",
        "generator_version": GENERATOR_VERSION,
        "kind": kind,
        "layout": "bts_nyu_sync" if kind == "nyu" else "kitti_eigen",
        "height": int(height),
        "width": int(width),
        "focal": float(focal),
        "cx": float(k[0, 2]),
        "cy": float(k[1, 2]),
        "K": [[float(x) for x in row] for row in k],
        "min_depth": MIN_DEPTH,
        "max_depth": MAX_DEPTH[kind],
        "depth_scale": DEPTH_SCALE[kind],
        "depth_definition": "z-depth along the optical axis in metres; 0 = invalid",
        "seed": int(seed),
        "frames_per_scene": int(frames_per_scene),
        "sparse": bool(sparse),
        "camera_effects": bool(camera_effects),
        "layouts": str(layouts),
        "counts": {key: int(v) for key, v in counts.items()},
        "splits": {"train": "splits/train.txt", "test": "splits/test.txt"},
        "roots": {split: {"rgb": rgb, "depth": dep} for split, (rgb, dep) in dirs.items()},
    }
    (root / "meta.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def generate_dataset(out_dir: str | Path, kind: str, n_train: int, n_test: int, seed: int = 0,
                     height: int | None = None, width: int | None = None, frames_per_scene: int = 10,
                     progress: bool = True, sparse: bool = False, camera_effects: bool = False,
                     layouts: str = "rooms") -> Path:
    """Write a NYU (BTS sync) or KITTI (Eigen) style dataset under ``out_dir/<kind>/``.

    ``n_train``/``n_test`` count frames (split lines); scenes hold ``frames_per_scene``
    consecutive frames of a moving camera.  Train and test scene seeds come from separate
    SeedSequence spawns (and are checked disjoint), so no test view is ever trained on.
    ``sparse`` (kitti only) keeps LiDAR-like scan rows of the ground truth.
    ``camera_effects`` randomises exposure, white balance, gamma, blur, vignetting and noise
    per frame (domain randomisation for synthetic-to-real transfer; still deterministic).
    ``layouts`` (nyu only) is a comma-separated set of ``rooms`` (default), ``corridors``,
    ``small_rooms``; each scene picks one from its seed.  Recorded in ``meta.yaml``.
    """
    h, w, f = resolve_size(kind, height, width)
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if isinstance(frames_per_scene, bool) or not isinstance(frames_per_scene, (int, np.integer)) or frames_per_scene <= 0:
        raise ValueError(f"frames_per_scene must be a positive integer, got {frames_per_scene!r}")
    if sparse and kind != "kitti":
        raise ValueError("sparse ground truth is only supported for kind='kitti'")
    layouts = ",".join(parse_layouts(layouts))
    if kind != "nyu" and layouts != "rooms":
        raise ValueError(f"layouts {layouts!r} apply to kind='nyu' only")
    return write_dataset(Path(out_dir), kind, int(n_train), int(n_test), int(seed), h, w, f,
                         int(frames_per_scene), progress, sparse, bool(camera_effects), layouts)
