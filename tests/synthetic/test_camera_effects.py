"""Camera effects (domain randomisation) of the synthetic generator: deterministic, depth untouched."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from disdepth_core.synthetic.dataset_writer import generate_dataset
from disdepth_core.synthetic.render import render_frame
from disdepth_core.synthetic.camera_effects import apply_camera_effects, frame_rng


def _digest(root) -> str:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes() for p in files)).hexdigest()


def test_effects_are_reproducible_per_frame_and_vary_between_frames():
    rgb = render_frame("nyu", 3, 0, 60, 80).rgb
    a = apply_camera_effects(rgb, frame_rng(3, 0))
    assert np.array_equal(a, apply_camera_effects(rgb, frame_rng(3, 0)))
    b = apply_camera_effects(rgb, frame_rng(3, 1))
    assert not np.array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == rgb.shape
    # The image changes (exposure, colour, noise) but stays the same picture.
    diffs = [np.abs(apply_camera_effects(rgb, frame_rng(s, 0)).astype(int) - rgb).mean() for s in range(8)]
    assert min(diffs) > 0.5 and max(diffs) > 5.0
    assert np.corrcoef(a.reshape(-1).astype(float), rgb.reshape(-1).astype(float))[0, 1] > 0.5


def test_dataset_with_effects_is_deterministic_and_depth_is_unchanged(tmp_path):
    kw = dict(kind="nyu", n_train=2, n_test=1, seed=5, height=48, width=64, frames_per_scene=2, progress=False)
    plain = generate_dataset(tmp_path / "plain", **kw)
    fx1 = generate_dataset(tmp_path / "fx1", camera_effects=True, **kw)
    fx2 = generate_dataset(tmp_path / "fx2", camera_effects=True, **kw)
    assert _digest(fx1) == _digest(fx2)
    depth = sorted(plain.rglob("sync_depth_*.png"))
    assert depth and all(np.array_equal(cv2.imread(str(p), cv2.IMREAD_UNCHANGED),
                                        cv2.imread(str(fx1 / p.relative_to(plain)), cv2.IMREAD_UNCHANGED)) for p in depth)
    rgb = sorted(plain.rglob("rgb_*.jpg"))
    assert any(not np.array_equal(cv2.imread(str(p)), cv2.imread(str(fx1 / p.relative_to(plain)))) for p in rgb)
    assert "camera_effects: true" in (fx1 / "meta.yaml").read_text()
