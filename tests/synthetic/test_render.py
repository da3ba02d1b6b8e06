"""Tests for the synthetic RGB-D generator: exact geometry, determinism and on-disk formats."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from disdepth_core.synthetic.dataset_writer import generate_dataset, lidar_rows, scene_seeds
from disdepth_core.synthetic.render import SyntheticFrame, render_frame, render_primitives, render_scene
from disdepth_core.synthetic.scene_builder import build_scene
from disdepth_core.synthetic.scenes import Camera, Material, make_box, make_plane, make_sphere

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

H, W = 96, 128
FLAT = Material("flat", np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], np.float32))


def _render(prims, camera=None, focal=100.0, max_depth=math.inf):
    return render_primitives(prims, camera or Camera.look((0.0, 0.0, 0.0)), H, W, focal, max_depth=max_depth)


# ----------------------------------------------------------------------------- geometry


def test_fronto_parallel_plane_depth_is_exact():
    plane = make_plane((0.0, 0.0, 3.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0), FLAT)
    rgb, depth = _render([plane])
    assert depth.dtype == np.float32 and rgb.dtype == np.uint8
    assert np.all(depth == np.float32(3.0))  # z-depth, not ray length: constant over the image
    _, depth2 = _render([plane], Camera.look((0.4, -0.2, 1.0)))
    np.testing.assert_allclose(depth2, 2.0, rtol=0, atol=1e-6)


def test_floor_depth_follows_pinhole_geometry():
    """Camera 1.5 m above a floor, looking level: rows below cy see z = 1.5 f / (v - cy)."""
    f = 100.0
    floor = make_plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), FLAT)
    _, depth = _render([floor], Camera.look((0.0, 1.5, 0.0)), focal=f)
    cy = H / 2.0
    rows = np.arange(H)
    below = rows > cy
    expected = 1.5 * f / (rows[below] - cy)
    np.testing.assert_allclose(depth[below], np.repeat(expected[:, None], W, axis=1), rtol=1e-5)
    assert np.all(depth[rows <= cy] == 0.0)  # at/above the horizon nothing is hit


def test_sphere_and_box_centre_depths():
    cy, cx = H // 2, W // 2  # the principal point is (W/2, H/2): this pixel looks along the axis
    _, depth = _render([make_sphere((0.0, 0.0, 5.0), 1.0, FLAT)])
    assert depth[cy, cx] == pytest.approx(4.0, abs=1e-5)
    assert depth[0, 0] == 0.0  # corner rays miss the sphere
    _, depth = _render([make_box((0.0, 0.0, 4.0), (2.0, 2.0, 2.0), FLAT, yaw=math.pi / 4)])
    assert depth[cy, cx] == pytest.approx(4.0 - math.sqrt(2.0), abs=1e-5)  # vertical edge on axis


def test_z_buffer_keeps_nearest_and_max_depth_invalidates():
    wall = make_plane((0.0, 0.0, 12.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0), FLAT)
    box = make_box((0.0, 0.0, 3.0), (1.0, 1.0, 1.0), FLAT)
    _, depth = _render([wall, box], max_depth=10.0)
    cy, cx = H // 2, W // 2
    assert depth[cy, cx] == pytest.approx(2.5, abs=1e-6)  # front face of the box
    assert depth[0, 0] == 0.0  # wall beyond max_depth -> invalid
    _, depth_far = _render([box, wall], max_depth=20.0)  # order must not matter
    assert depth_far[cy, cx] == pytest.approx(2.5, abs=1e-6) and depth_far[0, 0] == pytest.approx(12.0)


# ----------------------------------------------------------------------------- render_frame


@pytest.mark.parametrize("kind,max_depth", [("nyu", 10.0), ("kitti", 80.0)])
def test_render_frame_types_and_valid_range(kind, max_depth):
    frame = render_frame(kind, 3, 0, H, W)
    assert isinstance(frame, SyntheticFrame)
    assert frame.rgb.shape == (H, W, 3) and frame.rgb.dtype == np.uint8
    assert frame.depth.shape == (H, W) and frame.depth.dtype == np.float32
    assert frame.K.shape == (3, 3) and frame.K.dtype == np.float64
    focal = {"nyu": 518.8579 * W / 640, "kitti": 721.5377 * W / 1242}[kind]
    np.testing.assert_allclose(frame.K, [[focal, 0, W / 2], [0, focal, H / 2], [0, 0, 1]])
    d = frame.depth
    assert np.all(np.isfinite(d))
    assert np.all((d == 0.0) | ((d > 0.0) & (d <= max_depth)))
    assert np.mean(d > 0) > 0.4
    assert frame.rgb.std() > 5.0  # textured, not a blank image
    if kind == "kitti":
        assert np.mean(d[: H // 4] == 0.0) > 0.3  # sky at the top is invalid


def test_render_frame_is_deterministic_and_seed_dependent():
    a = render_frame("nyu", 7, 2, H, W)
    b = render_frame("nyu", 7, 2, H, W)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)
    other_seed = render_frame("nyu", 8, 2, H, W)
    assert not np.array_equal(a.depth, other_seed.depth)
    next_frame = render_frame("nyu", 7, 3, H, W)  # the camera moves between frames
    assert not np.array_equal(a.depth, next_frame.depth)
    k1, k2 = render_frame("kitti", 7, 0, H, W), render_frame("kitti", 7, 0, H, W)
    assert np.array_equal(k1.rgb, k2.rgb) and np.array_equal(k1.depth, k2.depth)


def test_scenes_vary_with_seed():
    counts = {len(build_scene("nyu", s).primitives) for s in range(8)}
    assert len(counts) > 2  # object count is not a constant layout


@pytest.mark.parametrize("kwargs", [dict(kind="cityscapes"), dict(height=0), dict(width=-4), dict(height=2.5)])
def test_render_frame_rejects_bad_arguments(kwargs):
    args = dict(kind="nyu", seed=0, height=H, width=W)
    args.update(kwargs)
    with pytest.raises(ValueError):
        render_frame(**args)


# ----------------------------------------------------------------------------- datasets


def _read_split(root: Path, name: str) -> list[list[str]]:
    lines = (root / "splits" / f"{name}.txt").read_text().splitlines()
    return [line.split(" ") for line in lines]


def test_nyu_dataset_layout_and_round_trip(tmp_path):
    h, w = 48, 64
    root = generate_dataset(tmp_path, "nyu", n_train=5, n_test=3, seed=11, height=h, width=w,
                            frames_per_scene=2, progress=False)
    assert root == tmp_path / "nyu"
    meta = yaml.safe_load((root / "meta.yaml").read_text())
    focal = 518.8579 * w / 640
    assert meta["kind"] == "nyu" and meta["depth_scale"] == 1000.0 and meta["max_depth"] == 10.0
    assert (meta["height"], meta["width"]) == (h, w) and meta["focal"] == pytest.approx(focal)
    assert (meta["cx"], meta["cy"]) == (w / 2, h / 2) and meta["counts"]["train"] == 5
    train, test = _read_split(root, "train"), _read_split(root, "test")
    assert len(train) == 5 and len(test) == 3
    for split, rows in (("train", train), ("test", test)):
        for rgb_rel, depth_rel, f in rows:
            assert float(f) == pytest.approx(focal, abs=1e-4) and f == f"{focal:.4f}"
            assert rgb_rel.split("/")[1].startswith("rgb_") and depth_rel.split("/")[1].startswith("sync_depth_")
            assert (root / split / rgb_rel).is_file() and (root / split / depth_rel).is_file()
    train_scenes = {r[0].split("/")[0] for r in train}
    test_scenes = {r[0].split("/")[0] for r in test}
    assert len(train_scenes) == 3 and len(test_scenes) == 2 and not train_scenes & test_scenes

    # Round trip: first train frame equals a fresh render of the same scene.
    seed0 = scene_seeds(11, 3, 2)[0][0]
    frame = render_scene(build_scene("nyu", seed0), 0, h, w, focal)
    png = cv2.imread(str(root / "train" / train[0][1]), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == (h, w)
    np.testing.assert_allclose(png / 1000.0, frame.depth, atol=0.5 / 1000 + 1e-7)
    jpg = cv2.cvtColor(cv2.imread(str(root / "train" / train[0][0]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.abs(jpg.astype(np.int16) - frame.rgb).mean() < 4.0  # JPEG q95 vs exact render


def test_kitti_dataset_layout_round_trip_and_sparse(tmp_path):
    h, w = 40, 128
    root = generate_dataset(tmp_path, "kitti", n_train=3, n_test=2, seed=5, height=h, width=w,
                            frames_per_scene=2, progress=False)
    focal = 721.5377 * w / 1242
    train, test = _read_split(root, "train"), _read_split(root, "test")
    assert len(train) == 3 and len(test) == 2
    assert train[2][0] == "2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000000.png"
    assert train[2][1] == "2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/0000000000.png"
    drives = [{r[1].split("/")[0] for r in rows} for rows in (train, test)]
    assert not drives[0] & drives[1]
    for rgb_rel, depth_rel, f in train + test:
        assert (root / "raw" / rgb_rel).is_file() and (root / "gt" / depth_rel).is_file()
        assert float(f) == pytest.approx(focal, abs=1e-4)
    seed0 = scene_seeds(5, 2, 1)[0][0]
    frame = render_scene(build_scene("kitti", seed0), 1, h, w, focal)
    png = cv2.imread(str(root / "gt" / train[1][1]), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16
    np.testing.assert_allclose(png / 256.0, frame.depth, atol=0.5 / 256 + 1e-6)
    rgb = cv2.cvtColor(cv2.imread(str(root / "raw" / train[1][0]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(rgb, frame.rgb)  # PNG is lossless
    meta = yaml.safe_load((root / "meta.yaml").read_text())
    assert meta["depth_scale"] == 256.0 and meta["max_depth"] == 80.0 and meta["sparse"] is False

    sparse_root = generate_dataset(tmp_path / "sparse", "kitti", 1, 0, seed=5, height=h, width=w, progress=False, sparse=True)
    sparse = cv2.imread(str(sparse_root / "gt" / _read_split(sparse_root, "train")[0][1]), cv2.IMREAD_UNCHANGED)
    dense = cv2.imread(str(root / "gt" / train[0][1]), cv2.IMREAD_UNCHANGED)  # same scene and frame
    rows = lidar_rows(h, focal)
    assert 0 < rows.sum() < h and not rows[: h // 3].any()  # scan lines only below the top beam
    assert np.all(sparse[~rows] == 0) and np.array_equal(sparse[rows], dense[rows])
    assert 0 < np.count_nonzero(sparse) < np.count_nonzero(dense)


def test_same_seed_gives_byte_identical_files(tmp_path):
    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    kw = dict(n_train=2, n_test=1, height=32, width=48, frames_per_scene=2, progress=False)
    a = files(generate_dataset(tmp_path / "a", "nyu", seed=3, **kw))
    b = files(generate_dataset(tmp_path / "b", "nyu", seed=3, **kw))
    c = files(generate_dataset(tmp_path / "c", "nyu", seed=4, **kw))
    assert a == b
    images = [k for k in a if k.endswith(".png")]
    assert images and any(a[k] != c.get(k) for k in a if k.endswith((".jpg", ".png")))


def test_train_and_test_seeds_are_disjoint():
    train, test = scene_seeds(0, 200, 200)
    assert len(train) == 200 and len(test) == 200 and not set(train) & set(test)
    assert scene_seeds(0, 3, 2)[0] == train[:3]  # growing the dataset keeps earlier scenes


@pytest.mark.parametrize("kwargs", [dict(kind="make3d"), dict(n_train=-1), dict(height=0),
                                   dict(frames_per_scene=0), dict(kind="nyu", sparse=True)])
def test_generate_dataset_rejects_bad_arguments(tmp_path, kwargs):
    args = dict(out_dir=tmp_path, kind="kitti", n_train=1, n_test=1, height=16, width=16, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError):
        generate_dataset(**args)


def test_test_split_does_not_depend_on_training_size(tmp_path):
    """The demo regenerates only the test split; it must equal the one the model was validated on."""
    a = generate_dataset(tmp_path / "a", "nyu", n_train=0, n_test=4, seed=7, height=48, width=64, frames_per_scene=2, progress=False)
    b = generate_dataset(tmp_path / "b", "nyu", n_train=6, n_test=4, seed=7, height=48, width=64, frames_per_scene=2, progress=False)
    assert (a / "splits" / "test.txt").read_text() == (b / "splits" / "test.txt").read_text()
    for line in (a / "splits" / "test.txt").read_text().splitlines():
        rgb = line.split()[0]
        assert (a / "test" / rgb).read_bytes() == (b / "test" / rgb).read_bytes()
