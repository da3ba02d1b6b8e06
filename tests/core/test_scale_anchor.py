"""The metric scale anchor's parts, without ROS or a model: robust sparse scale, registration to the
network grid, smoothing and fallback, message checks, the floor fit on synthetic rooms with a known
camera height, and the node's thread-safe side (:mod:`disdepth_ros.anchor_input`)."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from disdepth_core.geometry import depth_to_millimetres
from disdepth_core.floor_fit import camera_height_problem, fit_floor, floor_scale, lower_points
from disdepth_core.image_decoding import BadMessageError
from disdepth_core.message_layout import image_layout
from disdepth_core.runtime.preprocess import make_transform
from disdepth_core.scale_anchor import (AnchorSettings, ScaleTracker, SparseSample, anchor_frame, robust_scale,
                                        sample_network, sparse_from_message, sparse_scale)
from disdepth_core.scale_estimate import ScaleEstimate
from disdepth_core.sparse_simulation import lidar_band

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

SECOND = 1_000_000_000


def message(pixels: np.ndarray, encoding: str, stamp_ns: int = 0) -> SimpleNamespace:
    layout = image_layout(pixels, encoding)
    header = SimpleNamespace(stamp=SimpleNamespace(sec=stamp_ns // SECOND, nanosec=stamp_ns % SECOND),
                             frame_id="camera_optical_frame")
    return SimpleNamespace(header=header, height=layout.height, width=layout.width, encoding=layout.encoding,
                           is_bigendian=layout.is_bigendian, step=layout.step, data=layout.pixels.tobytes())


def test_robust_scale_ignores_outliers_and_needs_points():
    rng = np.random.default_rng(0)
    predicted = rng.uniform(1, 5, 200)
    measured = 1.7 * predicted * np.exp(rng.normal(0, 0.01, 200))
    measured[:30] = rng.uniform(0.1, 20, 30)  # wrong returns: glass, edges, multipath
    estimate = robust_scale(predicted, measured, min_points=20)
    assert estimate.ok and estimate.scale == pytest.approx(1.7, rel=0.005) and 160 <= estimate.points <= 175
    too_few = robust_scale(predicted[:5], measured[:5], min_points=20)
    assert not too_few.ok and "5 usable point(s)" in too_few.problem and "scale_min_points 20" in too_few.problem
    assert robust_scale(np.full(50, 2.0), np.full(50, 3.0), 20).scale == pytest.approx(1.5)  # MAD 0: all inliers


@pytest.mark.parametrize("mode", ["resize", "letterbox"])
def test_sparse_pixels_map_to_the_network_pixel_on_the_same_ray(mode):
    """Any resolution of the camera's aspect maps to the network grid through the frame's own transform."""
    transform = make_transform((480, 640), (120, 160) if mode == "resize" else (128, 128), mode)
    top, left, height, width = transform.content
    raw = np.zeros(transform.dst_hw, np.float32)
    raw[top:top + height, left:left + width] = np.arange(height * width, dtype=np.float32).reshape(height, width) + 1
    sparse = np.full((240, 320), np.nan, np.float32)
    sparse[120, 160] = 7.0  # the image centre at half resolution
    predicted, measured = sample_network(raw, transform, sparse)
    centre = raw[top + height // 2, left + width // 2]
    assert measured.tolist() == [7.0] and abs(predicted[0] - centre) <= width + 1  # within one network pixel


def test_sparse_scale_registration_and_aspect():
    transform = make_transform((96, 128), (48, 64))
    gt = np.add.outer(np.linspace(1, 2, 96), np.linspace(0, 2, 128)).astype(np.float32)  # a smooth scene
    raw = gt[::2, ::2] / 2.0  # the network predicts half the true depth
    band = lidar_band(gt[::2, ::2])  # registered at half resolution
    estimate = sparse_scale(raw, transform, band, 10)
    assert estimate.ok and estimate.scale == pytest.approx(2.0, rel=0.01)
    wrong = sparse_scale(raw, transform, lidar_band(np.ones((96, 96), np.float32)), 10)
    assert not wrong.ok and "sparse_depth is 96x96 (aspect 1.000) but the image is 128x96 (aspect 1.333)" in wrong.problem


def test_sparse_messages_both_encodings_and_refusals():
    depth = np.zeros((4, 6), np.float32)
    depth[1, 2] = 1.234
    mm = sparse_from_message(message(depth_to_millimetres(np.where(depth > 0, depth, np.nan)), "16UC1"))
    m32 = sparse_from_message(message(np.where(depth > 0, depth, np.nan).astype(np.float32), "32FC1"))
    for decoded in (mm, m32):
        assert decoded[1, 2] == pytest.approx(1.234, abs=1e-3) and np.isnan(decoded).sum() == 23
    inf = np.full((4, 6), np.inf, np.float32)
    inf[0, 0] = 2.0
    assert np.isfinite(sparse_from_message(message(inf, "32FC1"))).sum() == 1  # +inf: no return, not a measurement
    for pixels, encoding, reason in ((np.zeros((4, 6, 3), np.uint8), "rgb8", "encoding 'rgb8' is not a depth encoding"),
                                     (np.zeros((4, 6), np.uint16), "16UC1", "has no valid depth"),
                                     (np.full((4, 6), np.nan, np.float32), "32FC1", "has no valid depth"),
                                     (-depth, "32FC1", "1 negative depth value(s)"),
                                     (np.full((4, 6), -np.inf, np.float32), "32FC1", "24 negative depth value(s)")):
        with pytest.raises(BadMessageError, match=re.escape(reason)):
            sparse_from_message(message(pixels, encoding))


def test_tracker_smooths_holds_then_falls_back():
    tracker = ScaleTracker(AnchorSettings(mode="sparse_depth", time_constant=1.0, hold=2.0))
    first = tracker.update(0, ScaleEstimate(2.0, 50), "sparse_depth")
    assert (first.scale, first.source, first.points, first.problem) == (2.0, "sparse_depth", 50, "")
    second = tracker.update(SECOND, ScaleEstimate(4.0, 50), "sparse_depth")  # one time constant later
    alpha = 1 - math.exp(-1)
    assert second.scale == pytest.approx(math.exp((1 - alpha) * math.log(2) + alpha * math.log(4)))
    held = tracker.update(2 * SECOND, ScaleEstimate(float("nan"), 0, "too few"), "sparse_depth")
    assert held.source == "held" and held.scale == second.scale and "too few; holding the last scale" in held.problem
    gone = tracker.update(4 * SECOND, ScaleEstimate(float("nan"), 0, "too few"), "sparse_depth")
    assert (gone.scale, gone.source) == (1.0, "none") and "NOT scale-corrected" in gone.problem
    restarted = tracker.update(-10 * SECOND, ScaleEstimate(float("nan"), 0, "x"), "sparse_depth")  # a looped bag
    assert restarted.source == "none" and tracker.scale is None
    per_frame = ScaleTracker(AnchorSettings(mode="sparse_depth"))
    per_frame.update(0, ScaleEstimate(2.0, 9), "sparse_depth")
    assert per_frame.update(SECOND // 10, ScaleEstimate(3.0, 9), "sparse_depth").scale == 3.0  # time constant 0


@pytest.mark.parametrize("source,scale,hint", [("sparse_depth", 1000.0, "millimetres published as 32FC1"),
                                               ("sparse_depth", 0.001, "millimetres published as 32FC1"),
                                               ("camera_height", 50.0, "no floor in view")])
def test_an_implausible_scale_is_a_problem_not_a_correction(source, scale, hint):
    """Review finding: millimetres sent as 32FC1 gave scale 1000, and every depth pixel left the range with status OK."""
    tracker = ScaleTracker(AnchorSettings(mode=source, hold=2.0))
    good = tracker.update(0, ScaleEstimate(1.3, 50), source)
    bad = tracker.update(SECOND, ScaleEstimate(scale, 50), source)
    assert good.scale == 1.3 and bad.source == "held" and bad.scale == 1.3
    assert "implausible" in bad.problem and hint in bad.problem
    assert tracker.update(SECOND, ScaleEstimate(19.0, 50), source).scale == 19.0  # a large but possible correction


def test_anchor_frame_staleness_and_missing_messages():
    transform = make_transform((48, 64), (48, 64))
    raw = np.full((48, 64), 2.0, np.float32)
    band = lidar_band(np.full((48, 64), 3.0, np.float32))
    tracker = ScaleTracker(AnchorSettings(mode="sparse_depth", max_age=0.5, min_points=10))
    fresh = anchor_frame(tracker, 10 * SECOND, SparseSample(band, 10 * SECOND - SECOND // 5), raw, transform, None)
    assert fresh.scale == pytest.approx(1.5) and fresh.source == "sparse_depth" and fresh.points == 48
    stale = anchor_frame(tracker, 12 * SECOND, SparseSample(band, 10 * SECOND), raw, transform, None)
    assert stale.source == "held" and "the nearest sparse_depth is 2.00 s older than the image" in stale.problem
    ahead = anchor_frame(tracker, 12 * SECOND, SparseSample(band, 13 * SECOND), raw, transform, None)
    assert "1.00 s ahead of the image" in ahead.problem
    missing = anchor_frame(ScaleTracker(AnchorSettings(mode="sparse_depth")), 0, None, raw, transform, None)
    assert missing.source == "none" and missing.problem.startswith("no sparse_depth message received yet")
    refused = anchor_frame(ScaleTracker(AnchorSettings(mode="sparse_depth")), 0, None, raw, transform, None, "bad encoding")
    assert refused.problem.startswith("the sparse_depth message was refused: bad encoding")
    assert anchor_frame(ScaleTracker(), 0, None, raw, transform, None).scale == 1.0  # mode none
    with pytest.raises(ValueError, match="scale anchor must be one of none, sparse_depth, camera_height"):
        AnchorSettings(mode="lidar")


def synthetic_floor(tilt_deg: float = 0.0, height: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """Exact depth of a level floor ``height`` below a 120x160 camera pitched down by ``tilt_deg`` (f = 130)."""
    K = np.array([[130.0, 0, 79.5], [0, 130.0, 59.5], [0, 0, 1]])
    v, u = np.mgrid[0:120, 0:160].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    pitch = math.radians(tilt_deg)
    down = np.array([0.0, math.cos(pitch), math.sin(pitch)])  # the world's down axis in the camera frame
    along = rays @ down
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(along > 1e-6, height / along, np.nan)
    return depth.astype(np.float32), K


@pytest.mark.parametrize("tilt", [0.0, 20.0])
def test_floor_fit_recovers_the_camera_height(tilt):
    depth, K = synthetic_floor(tilt)
    plane, problem = fit_floor(lower_points(depth, K, (0, 0, 120, 160)))
    assert problem == "" and plane.distance == pytest.approx(1.3, rel=1e-3)
    transform = make_transform((120, 160), (120, 160))
    estimate = floor_scale(depth / 2.5, transform, K, 1.3)  # a prediction 2.5x too near
    assert estimate.ok and estimate.scale == pytest.approx(2.5, rel=1e-3)


def test_floor_fit_refuses_walls_and_bad_heights():
    wall = np.full((120, 160), 3.0, np.float32)
    _, K = synthetic_floor()
    plane, problem = fit_floor(lower_points(wall, K, (0, 0, 120, 160)))
    assert plane is None and problem.startswith("floor not found: no plane below the camera within 30 deg of level")
    transform = make_transform((120, 160), (120, 160))
    assert "needs camera_info" in floor_scale(wall, transform, None, 1.2).problem
    for bad in (0.0, -1.0, 10.5, float("nan")):
        assert "camera_height must be > 0 and <= 10 m" in camera_height_problem(bad)
    assert camera_height_problem(10.0) is None


def test_floor_fit_on_synthetic_rooms_with_known_camera_height():
    """Ground-truth depth of the generator's rooms: where a floor is found, it is at the camera's height."""
    from disdepth_core.synthetic.render import render_scene, resolve_size
    from disdepth_core.synthetic.scene_builder import build_scene

    h, w, f = resolve_size("nyu", 120, 160)
    errors = []
    for seed in range(12):
        scene = build_scene("nyu", seed, "corridors")
        frame = render_scene(scene, 0, h, w, f)
        plane, _ = fit_floor(lower_points(np.where(frame.depth > 0, frame.depth, np.nan), frame.K, (0, 0, h, w)))
        if plane is not None:
            errors.append(plane.distance / scene.path.camera(0).position[1] - 1.0)
    assert len(errors) >= 8 and np.median(np.abs(errors)) < 0.03, errors


def test_node_side_keeps_recent_messages_and_counts():
    pytest.importorskip("rclpy")  # the module is part of the node package (it imports no rclpy itself)
    from disdepth_ros.anchor_input import AnchorInput

    anchor = AnchorInput(AnchorSettings(mode="sparse_depth", min_points=10))
    band = lidar_band(np.full((48, 64), 3.0, np.float32))
    for stamp in (1, 2, 3):
        assert anchor.on_sparse_depth(message(band, "32FC1", stamp * SECOND)) is None
    assert anchor.on_sparse_depth(message(np.zeros((48, 64), np.uint16), "16UC1")).endswith("(every pixel is 0 or NaN)")
    header = SimpleNamespace(stamp=SimpleNamespace(sec=2, nanosec=100))
    bound = anchor.anchor_for(header)
    assert bound.args[1].stamp_ns == 2 * SECOND  # the nearest in stamp, not the latest
    decision = bound(np.full((48, 64), 1.0, np.float32), make_transform((48, 64), (48, 64)), None)
    assert anchor.record(decision) == "" and decision.scale == pytest.approx(3.0)
    values, warnings = anchor.diagnostics()
    assert dict(values)["scale"] == "3.0000" and dict(values)["sparse_depth bad messages"] == "1" and warnings == []
    assert AnchorInput(AnchorSettings()).anchor_for(header) is None
