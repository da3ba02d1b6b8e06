"""Issue 17 through a real ``depth_node`` subprocess: a live ``sparse_depth`` anchor, its fallbacks, bad
sparse messages, ``/depth/confidence`` and the confidence filter, and the new parameters' start errors.

The model is the tiny hand-built ONNX of the export tests (depth = |mean channel|, confidence =
1 / (1 + depth)) run by ONNX Runtime, so the expected outputs are exact: the node's depth must be
what ``FramePipeline`` gives in this process, times the scale the sparse depth implies.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("onnxruntime")
from builtin_interfaces.msg import Time  # noqa: E402

from disdepth_core import image_decoding, message_layout  # noqa: E402
from disdepth_core.pipeline import FramePipeline, PipelineConfig  # noqa: E402
from disdepth_core.runtime import load_runtime  # noqa: E402
from disdepth_core.scale_anchor import ScaleDecision  # noqa: E402
from disdepth_ros import messages  # noqa: E402
from disdepth_ros.harness.node_process import NodeProcess, unique_domain_id  # noqa: E402
from tests.export.trt_fakes import tiny_disdepth_onnx  # noqa: E402

from .node_fixtures import running_node  # noqa: E402

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

H, W = 48, 64
K = np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]])
RGB = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
ONNX_PARAMS = {"backend": "onnxruntime", "device": "cpu", "diagnostics_period": 0.3}
T0 = 1_700_000_000  # image stamps are set by the test: the anchor's clock is the stamps


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("node_anchor") / "tiny_confidence.onnx"
    tiny_disdepth_onnx(path, height=H, width=W, confidence=True)
    return path


def pipeline_depth(model, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(depth, confidence) of RGB through the node's pipeline in this process, with a fixed anchor scale."""
    anchor = (lambda raw, transform, K_cam: ScaleDecision(scale, "sparse_depth")) if scale != 1.0 else None
    with load_runtime(model, backend="onnxruntime", device="cpu") as runtime:
        result = FramePipeline(runtime).process_rgb(RGB, (K, (H, W)), PipelineConfig(confidence=True), anchor=anchor)
        return result.depth.copy(), result.confidence.copy()


@pytest.fixture(scope="module")
def unanchored(tiny_onnx):
    return pipeline_depth(tiny_onnx)


def stamp(seconds: float) -> Time:
    return Time(sec=T0 + int(seconds), nanosec=int(round((seconds % 1) * 1e9)))


def lidar_band(depth: np.ndarray, factor: float, size: tuple[int, int] = (H, W)) -> np.ndarray:
    """``factor`` x ``depth`` on 3 rows around the centre, every 4th column, NaN elsewhere, at ``size``."""
    h, w = size
    rows = (np.arange(h) + 0.5) * (H / h) - 0.5
    cols = (np.arange(w) + 0.5) * (W / w) - 0.5
    sampled = depth[np.clip(np.rint(rows).astype(int), 0, H - 1)][:, np.clip(np.rint(cols).astype(int), 0, W - 1)]
    band = np.full(size, np.nan, np.float32)
    band[h // 2 - 1:h // 2 + 2, ::4] = factor * sampled[h // 2 - 1:h // 2 + 2, ::4]
    return band


def depth_for(client, seconds: float, rgb: np.ndarray = RGB, timeout: float = 20.0) -> np.ndarray:
    """Publish ``rgb`` stamped ``seconds`` (again until it comes back) and return the node's depth for it."""
    wanted = stamp(seconds)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.publish(rgb, K, stamp=wanted)
        if client.spin_until(lambda: any(m.header.stamp == wanted for _, m in client.received["depth"]), 1.0):
            return next(image_decoding.image_to_depth(m) for _, m in reversed(client.received["depth"]) if m.header.stamp == wanted)
    raise AssertionError(f"no depth image for stamp {seconds}")


def outputs_for(client, seconds: float, keys: tuple[str, ...], timeout: float = 20.0) -> dict:
    """Publish RGB stamped ``seconds`` until every output in ``keys`` came back for it (camera_info may lag
    the first image: the cloud needs it); returns those messages."""
    wanted = stamp(seconds)

    def found() -> dict:
        return {k: m for k in keys for _, m in client.received[k] if m.header.stamp == wanted}

    assert client.publish_until(lambda: len(found()) == len(keys), RGB, K, timeout=timeout, stamp=wanted), found().keys()
    return found()


def diagnostics_after(client, seconds: float = 0.8) -> dict[str, str]:
    client.received["diagnostics"].clear()
    client.spin_until(lambda: len(client.received["diagnostics"]) >= 2, seconds + 5)
    return client.diagnostics()


def test_live_sparse_depth_anchor_fallbacks_and_bad_messages(tiny_onnx, unanchored):
    depth0, _ = unanchored
    params = {**ONNX_PARAMS, "scale_anchor": "sparse_depth", "scale_max_age": 0.5, "scale_hold": 3.0, "scale_min_points": 10}
    with running_node(tiny_onnx, 61, params) as (proc, client):
        # 1. no sparse message yet: published unscaled, diagnostics say why (WARN)
        np.testing.assert_array_equal(depth_for(client, 0.0), depth0)
        diag = diagnostics_after(client)
        assert diag["scale source"] == "none" and "no sparse_depth message received yet" in diag["message"], diag
        assert diag["level"] == "1" and diag["scale anchor"] == "sparse_depth"

        # 2. a 32FC1 band at camera size, twice the prediction: the node's depth is twice the unanchored one
        client.publish_sparse(lidar_band(depth0, 2.0), stamp(10.0), "32FC1")
        client.spin_for(0.5)
        np.testing.assert_array_equal(depth_for(client, 10.0), pipeline_depth(tiny_onnx, 2.0)[0])
        diag = diagnostics_after(client)
        assert (diag["scale"], diag["scale source"], diag["scale points"]) == ("2.0000", "sparse_depth", str(3 * (W // 4))), diag

        # 3. half resolution 16UC1 (millimetres) registered to the image: 1.5 within the millimetre rounding
        client.publish_sparse(lidar_band(depth0, 1.5, (H // 2, W // 2)), stamp(20.0), "16UC1")
        client.spin_for(0.5)
        got = depth_for(client, 20.05)
        assert abs(np.nanmedian(got / depth0) - 1.5) < 2e-3

        # 4. stale anchor: the last scale is held for scale_hold seconds, then no correction, each with a WARN
        held = depth_for(client, 22.0)
        np.testing.assert_allclose(held, got, rtol=1e-6)
        diag = diagnostics_after(client)
        assert diag["scale source"] == "held" and "older than the image (scale_max_age 0.5 s)" in diag["message"], diag
        np.testing.assert_array_equal(depth_for(client, 30.0), depth0)
        diag = diagnostics_after(client)
        assert diag["scale source"] == "none" and "NOT scale-corrected" in diag["message"], diag

        # 5. bad sparse messages: refused and counted (the log line is throttled; diagnostics name the latest
        #    reason), the node keeps publishing; a sparse image of another aspect is a scale problem
        bad = [(messages.array_to_image(RGB, "rgb8"), "sparse_depth encoding 'rgb8' is not a depth encoding"),
               (messages.array_to_image(np.full((H, W), -1.0, np.float32), "32FC1"), "has 3072 negative depth value(s)"),
               (messages.array_to_image(np.zeros((H, W), np.uint16), "16UC1"), "has no valid depth (every pixel is 0 or NaN)")]
        for count, (msg, reason) in enumerate(bad, start=1):
            msg.header.stamp = stamp(40.0)
            client.sparse_pub.publish(msg)
            assert client.spin_until(lambda: reason in diagnostics_after(client, 0.3).get("sparse_depth last bad message", ""), 10)
            assert client.diagnostics()["sparse_depth bad messages"] == str(count)
        assert "ignoring bad sparse_depth message: sparse_depth encoding 'rgb8'" in proc.stderr_so_far()
        client.publish_sparse(lidar_band(depth0, 2.0, (H, H)), stamp(40.0), "32FC1")  # 48x48 for a 64x48 image
        client.spin_for(0.5)
        np.testing.assert_array_equal(depth_for(client, 40.0), depth0)  # held scale expired long ago: none
        diag = diagnostics_after(client)
        assert "aspect 1.000" in diag["message"] and "must be registered to the camera image" in diag["message"], diag

        # 6. a live change of the smoothing: accepted; a bad value: refused with the reason
        assert client.set_parameters({"scale_time_constant": 0.5})[0].successful
        result = client.set_parameters({"min_confidence": 1.5})
        assert result and not result[0].successful and "min_confidence must be in [0, 1]" in result[0].reason


def test_confidence_topic_and_cloud_filter(tiny_onnx, unanchored):
    depth0, confidence0 = unanchored
    params = {**ONNX_PARAMS, "publish_confidence": True, "min_confidence": 0.0, "flying_pixel_angle": 0.0, "points_stride": 1}
    with running_node(tiny_onnx, 62, params, record_confidence=True) as (_, client):
        message = outputs_for(client, 1.0, ("depth", "confidence"))["confidence"]
        assert message.encoding == "32FC1" and (message.height, message.width) == (H, W)
        assert message.header.frame_id == "camera_optical_frame"
        np.testing.assert_array_equal(image_decoding.image_to_depth(message), confidence0)
        assert client.set_parameters({"min_confidence": 0.5})[0].successful
        cloud = outputs_for(client, 2.0, ("depth", "points"))["points"]
        xyz, _ = message_layout.cloud_to_arrays(cloud)
        unsure = confidence0 < 0.5
        assert unsure.any() and (~unsure & np.isfinite(depth0)).any()
        assert np.isnan(xyz[unsure]).all() and np.isfinite(xyz[~unsure & np.isfinite(depth0)]).all()


def test_camera_height_without_a_floor_warns_and_keeps_publishing(tiny_onnx):
    params = {**ONNX_PARAMS, "scale_anchor": "camera_height", "camera_height": 1.2}
    wall = np.full((H, W, 3), 200, np.uint8)  # one depth everywhere: a wall facing the camera, no floor
    with running_node(tiny_onnx, 63, params) as (_, client):
        assert np.isfinite(depth_for(client, 1.0, wall)).all()
        # camera_info and the image travel on two topics: until the first K arrives the reason is the missing K
        assert client.publish_until(lambda: "floor not found" in client.diagnostics().get("message", ""), wall, K), \
            client.diagnostics()
        diag = client.diagnostics()
        assert diag["scale source"] == "none" and diag["level"] == "1", diag


def test_inputs_of_another_camera_are_a_warning_by_frame_id(tiny_onnx, unanchored):
    """camera_info or sparse depth stamped in another optical frame than the image (a wrong remap)
    is a WARN naming both frames; the node keeps publishing, and matching frames clear it."""
    depth0, _ = unanchored
    params = {**ONNX_PARAMS, "scale_anchor": "sparse_depth", "scale_min_points": 10}
    with running_node(tiny_onnx, 64, params) as (_, client):
        depth_for(client, 0.0)  # the node is up and connected
        client.publish_sparse(lidar_band(depth0, 2.0), stamp(1.0), "32FC1", frame_id="lidar_link")
        client.spin_for(0.5)
        seen = {}

        def warned() -> bool:
            seen.update(client.diagnostics())
            message = seen.get("message", "")
            return "camera_info frame_id 'depth_optical_frame'" in message and "sparse_depth frame_id 'lidar_link'" in message

        assert client.publish_until(warned, RGB, K, stamp=stamp(1.0), info_frame_id="depth_optical_frame"), seen
        assert seen["level"] == "1" and "is not the image's 'camera_optical_frame'" in seen["message"]
        client.publish_sparse(lidar_band(depth0, 2.0), stamp(2.0), "32FC1")
        client.spin_for(0.5)
        assert client.publish_until(lambda: "frame_id" not in client.diagnostics().get("message", "frame_id"), RGB, K,
                                    stamp=stamp(2.0)), client.diagnostics()


def test_anchor_and_confidence_parameters_stop_the_node_with_one_line(tiny_onnx):
    model = {"model_path": str(tiny_onnx), **ONNX_PARAMS}
    cases = [({"camera_height": -1.0}, "camera_height must be > 0 and <= 10 m"),
             ({"camera_height": 12.0}, "camera_height must be > 0 and <= 10 m"),
             ({"scale_anchor": "camera_height"}, "scale_anchor camera_height needs camera_height"),
             ({"scale_anchor": "lidar"}, "scale_anchor must be one of none, sparse_depth, camera_height"),
             ({"min_confidence": 1.5}, "min_confidence must be in [0, 1]"),
             ({"scale_max_age": 0.0}, "scale_max_age must be > 0")]
    procs = [NodeProcess(unique_domain_id(64 + i), {**model, **params}) for i, (params, _) in enumerate(cases)]
    for proc, (_, expected) in zip(procs, cases):
        proc.proc.wait(timeout=90)
        rc, _, err = proc.stop()
        errors = [line for line in err.splitlines() if "[ERROR]" in line]
        assert rc == 2 and "Traceback" not in err, err[-2000:]
        assert len(errors) == 1 and "invalid parameters" in errors[0] and expected in errors[0], err[-2000:]
