"""Bad node configuration and bad camera input through a real ``depth_node`` subprocess (issue 11).

The model is the tiny hand-built ONNX of the export tests (depth = |mean channel|, range
0.001..10 m in its metadata) run by ONNX Runtime: the node starts in seconds and the arithmetic
on the output is exact, so mono16 scaling can be compared pixel for pixel.
"""

from __future__ import annotations

import platform
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from disdepth_core import image_decoding  # noqa: E402
from disdepth_ros import messages  # noqa: E402
from disdepth_ros.harness.node_process import NodeProcess, unique_domain_id  # noqa: E402
from tests.export.trt_fakes import tiny_disdepth_onnx  # noqa: E402

from .node_fixtures import running_node  # noqa: E402

H, W = 48, 64
K = np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 23.5], [0.0, 0.0, 1.0]])
ONNX_PARAMS = {"backend": "onnxruntime", "device": "cpu"}


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("node_errors") / "tiny.onnx"
    tiny_disdepth_onnx(path, height=H, width=W)
    return path


def test_bad_configuration_exits_2_with_one_clear_line(tiny_onnx, tmp_path):
    """Params-file mistakes are caught before rcl; unknown names and an impossible depth range at start."""
    files = {"typo": "/**:\n  ros__parameters:\n    max_detph: 5.0\n",
             "no_level": "depth_node:\n  max_depth: 5.0\n",
             "malformed": "depth_node:\n  ros__parameters:\n    max_depth: [5.0\n"}
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    model = {"model_path": str(tiny_onnx), **ONNX_PARAMS}
    cases = [
        ({}, "typo", "params file", "line 3: unknown parameter 'max_detph' (did you mean 'max_depth'?) under '/**'"),
        ({}, "no_level", "params file", "line 2: 'max_depth' sits directly under 'depth_node' without the 'ros__parameters' level"),
        ({}, "malformed", "params file", "malformed YAML at line 4, column 1"),
        ({**model, "max_detph": 5.0}, None, "invalid parameters", "unknown parameter 'max_detph' (did you mean 'max_depth'?)"),
        ({**model, "min_depth": 12.0}, None, "invalid parameters",
         "min_depth 12 m is at or above the model's maximum depth 10 m (from its metadata)"),
    ]
    procs = [NodeProcess(unique_domain_id(40 + i), params, params_file=str(tmp_path / f"{f}.yaml") if f else None)
             for i, (params, f, _, _) in enumerate(cases)]
    for proc, (_, _, prefix, expected) in zip(procs, cases):
        proc.proc.wait(timeout=90)
        rc, _, err = proc.stop()
        errors = [line for line in err.splitlines() if "[ERROR]" in line]
        assert rc == 2 and "Traceback" not in err and "RCLError" not in err, err[-2000:]
        assert len(errors) == 1 and prefix in errors[0] and expected in errors[0], err[-2000:]


def test_camera_info_checks_depth_range_on_change_mono16_bits_and_sim_time(tiny_onnx):
    """One running node (use_sim_time on, /clock arriving late) goes through the run-time cases."""
    params = {**ONNX_PARAMS, "use_sim_time": True, "diagnostics_period": 0.3}
    with running_node(tiny_onnx, 45, params) as (proc, client):
        # 1. sim time without /clock: a warning after a few seconds (diagnostics cannot run yet)
        deadline = time.monotonic() + 20
        while "no /clock message arrived" not in proc.stderr_so_far() and time.monotonic() < deadline:
            client.spin_for(0.2)
        assert "use_sim_time is true but no /clock message arrived within 3 s" in proc.stderr_so_far()
        assert not client.received["diagnostics"]
        clock_pub = client.node.create_publisher(Clock, "/clock", 10)
        client.node.create_timer(0.05, lambda: clock_pub.publish(Clock(clock=client.stamp_now())))

        # 2. a valid camera_info: diagnostics (running now) say which K is used
        rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
        assert client.publish_until(lambda: "fx" in client.diagnostics().get("intrinsics in use", ""), rgb, K, timeout=30)
        assert client.diagnostics()["intrinsics in use"].startswith("fx 60.00 fy 60.00 cx 31.50 cy 23.50 for the 64x48 depth")
        # ... and which cloud it publishes (a 48x64 network on a 48x64 image: auto keeps every pixel)
        assert client.spin_until(lambda: client.diagnostics().get("point cloud", "").startswith(
            "64x48 points (stride 1, auto: the network's output resolution), point_step 12"), 10), client.diagnostics()
        diag = client.diagnostics()
        wall = [float(v) for v in diag["outside inference ms p50/p95/max"].split("/")]
        cpu = [float(v) for v in diag["outside inference CPU ms p50/p95/max"].split("/")]
        assert 0 < cpu[0] and 0 < wall[0] and wall[0] <= wall[1] <= wall[2], diag
        if platform.libc_ver()[0] == "glibc":  # the node keeps freed per-frame buffers (disdepth_core.malloc_tuning)
            assert "malloc tuning on: blocks up to 32 MB reuse freed memory" in proc.stderr_so_far()

        # 3. a negative focal length is rejected per message: counted, logged, the last good K stays
        bad = K.copy()
        bad[0, 0] = -60.0
        client.publish(rgb, bad)
        assert client.spin_until(lambda: "invalid focal length fx=-60" in proc.stderr_so_far(), 10)
        assert client.spin_until(lambda: int(client.diagnostics().get("bad messages", 0)) >= 1, 10)
        assert "fx 60.00" in client.diagnostics()["intrinsics in use"]

        # 4. camera_info with another aspect ratio than the image: a warning, and K is reported as scaled
        info = CameraInfo(height=H, width=H, distortion_model="plumb_bob")  # 48x48 for a 64x48 image
        info.k = [float(v) for v in K.reshape(-1)]
        for _ in range(3):
            info.header.stamp = client.stamp_now()
            client.info_pub.publish(info)
            client.publish(rgb, None)
            client.spin_for(0.3)
        assert client.spin_until(lambda: "camera_info is 48x48" in proc.stderr_so_far(), 10), proc.stderr_so_far()[-2000:]
        assert client.spin_until(lambda: "scaled" in client.diagnostics().get("intrinsics in use", ""), 10)

        # 5. the depth range is validated against the model's on change
        result = client.set_parameters({"min_depth": 12.0})
        assert result and not result[0].successful and "at or above the model's maximum depth 10 m" in result[0].reason
        assert client.set_parameters({"min_depth": 0.01})[0].successful
        # ... and a live change of the wrong type names both types (rclpy alone: "expected '3' got '2'")
        for change, reason in (({"min_depth": 5}, "min_depth must be a double, got int 5 (write 5.0: ROS does not turn an "
                                                  "int into a double)"),
                               ({"mono16_bits": "12"}, "mono16_bits must be an int, got string '12'"),
                               ({"publish_color": 1}, "publish_color must be a bool, got int 1"),
                               ({"output_encoding": 16}, "output_encoding must be a string, got int 16")):
            result = client.set_parameters(change)
            assert result and not result[0].successful and result[0].reason == reason, (change, result)

        # 6. 12-bit data in mono16: with mono16_bits 12 the network sees the same frame as the 8-bit one
        gray = rgb[..., 0]
        depth_8 = _depth_for(client, messages.array_to_image(gray, "mono8"))
        depth_12_wrong = _depth_for(client, messages.array_to_image(gray.astype(np.uint16) << 4, "mono16"))
        assert client.set_parameters({"mono16_bits": 12})[0].successful
        depth_12 = _depth_for(client, messages.array_to_image(gray.astype(np.uint16) << 4, "mono16"))
        np.testing.assert_array_equal(depth_12, depth_8)
        assert np.nanmax(np.abs(depth_12_wrong - depth_8)) > 0.1  # the old >> 8: a different (dark) image
        assert client.set_parameters({"mono16_bits": 17})[0].successful is False


def _depth_for(client, msg) -> np.ndarray:
    """Publish ``msg`` (new stamp each try) until the depth image carrying its stamp arrives."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        msg.header.stamp = client.stamp_now()
        client.image_pub.publish(msg)
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if client.spin_until(lambda: any((m.header.stamp.sec, m.header.stamp.nanosec) == stamp for _, m in client.received["depth"]), 1.0):
            return next(image_decoding.image_to_depth(m) for _, m in reversed(client.received["depth"])
                        if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp)
    raise AssertionError("no depth image for the published frame")
