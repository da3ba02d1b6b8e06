"""A real depth_node round trip with the ONNX Runtime backend and no torch anywhere.

This is the robot's path (TensorRT aside, which cannot run here): ``make test`` runs it again in
``.venv-humble`` (Python 3.10, numpy 1.x, no torch installed), so a numpy-2-only call or a torch
import on the runtime path fails CI instead of a robot. The node's depth must equal, bit for bit,
what the same ONNX model gives through ``FramePipeline`` in this process, and its cloud must be
the back-projection of that depth with the published intrinsics, less the points the default
cloud filters drop (:mod:`disdepth_core.cloud_filters`; this one-output model has no confidence).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("onnxruntime")
from disdepth_core.synthetic.render import render_frame  # noqa: E402
from disdepth_core.cloud_filters import drop_points  # noqa: E402
from disdepth_core.geometry import depth_to_points  # noqa: E402
from disdepth_core.runtime import load_runtime  # noqa: E402
from disdepth_core import image_decoding, message_layout  # noqa: E402
from disdepth_core.pipeline import FramePipeline, PipelineConfig  # noqa: E402
from disdepth_ros.harness.camera_client import CameraClient  # noqa: E402
from disdepth_ros.harness.node_process import NodeProcess, unique_domain_id  # noqa: E402
from tests.export.trt_fakes import tiny_disdepth_onnx  # noqa: E402

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

FRAME = render_frame("nyu", 0, 0, 120, 160)


def test_onnx_node_round_trip_without_torch(tmp_path):
    model = tmp_path / "tiny.onnx"
    tiny_disdepth_onnx(model, height=64, width=96)
    with load_runtime(model, backend="onnxruntime", device="cpu") as runtime:
        expected = FramePipeline(runtime).process_rgb(FRAME.rgb, (FRAME.K, FRAME.rgb.shape[:2]), PipelineConfig()).depth.copy()
    assert np.isfinite(expected).mean() > 0.5, "the tiny model should give mostly in-range depth on this frame"

    domain = unique_domain_id(41)
    proc = NodeProcess(domain, {"model_path": str(model), "backend": "onnxruntime", "device": "cpu", "diagnostics_period": 0.5})
    client = CameraClient(domain)
    try:
        assert client.wait_for_node(90.0), "node did not come up"
        got = client.publish_until(lambda: client.received["depth"] and client.received["points"], FRAME.rgb, FRAME.K, timeout=40)
        assert got, "no depth image and cloud came back"
        client.spin_until(lambda: bool(client.diagnostics()), 5.0)
        depth_msg = client.received["depth"][-1][1]
        cloud = next(m for _, m in reversed(client.received["points"]) if m.header.stamp == depth_msg.header.stamp)
        diag = client.diagnostics()
    finally:
        client.close()
        rc, _, err = proc.stop()
    assert rc == 0 and "Traceback" not in err, err[-3000:]
    _assert_onnx_path_imports_no_torch(model)

    assert depth_msg.encoding == "32FC1" and (depth_msg.height, depth_msg.width) == FRAME.rgb.shape[:2]
    depth = image_decoding.image_to_depth(depth_msg)
    np.testing.assert_array_equal(depth, expected)
    xyz, _ = message_layout.cloud_to_arrays(cloud)
    expected_xyz = depth_to_points(depth, FRAME.K)
    defaults = PipelineConfig()
    dropped = drop_points(expected_xyz, 1, FRAME.K, defaults.flying_pixel_angle, defaults.max_range)
    np.testing.assert_array_equal(xyz, expected_xyz)
    assert np.isfinite(xyz[..., 2]).mean() > 0.5 and dropped < 0.5 * np.isfinite(depth).sum(), dropped
    assert diag.get("backend") == "onnxruntime", diag


def _assert_onnx_path_imports_no_torch(model) -> None:
    """The node's ONNX path, in a fresh interpreter: other tests in this process may import torch."""
    import subprocess

    code = ("import sys, numpy as np\n"
            "from disdepth_core.runtime import load_runtime\n"
            "from disdepth_core.pipeline import FramePipeline, PipelineConfig\n"
            "import disdepth_ros.depth_node, disdepth_ros.messages\n"
            f"rt = load_runtime({str(model)!r}, backend='onnxruntime', device='cpu')\n"
            "rgb = np.zeros((48, 64, 3), np.uint8); K = np.array([[60., 0, 32], [0, 60., 24], [0, 0, 1]])\n"
            "FramePipeline(rt).process_rgb(rgb, (K, rgb.shape[:2]), PipelineConfig())\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, "the ONNX path must not import torch: " + result.stderr[-2000:]
