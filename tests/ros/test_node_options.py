"""Node options end-to-end: 16UC1 + reliable QoS + model resolution, compressed input, bad start."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")
from disdepth_core.synthetic.render import render_frame  # noqa: E402
from disdepth_core.geometry import depth_to_points  # noqa: E402
from disdepth_core.runtime.preprocess import make_transform  # noqa: E402
from disdepth_core import image_decoding, message_layout  # noqa: E402
from disdepth_ros.harness.node_process import NodeProcess, unique_domain_id  # noqa: E402

from .node_fixtures import running_node  # noqa: E402
from .test_node_stream import matched_outputs  # noqa: E402

FRAME = render_frame("nyu", 0, 0, 120, 160)


def test_16uc1_reliable_model_resolution_letterbox_stride(tiny_checkpoint):
    params = {"output_encoding": "16UC1", "input_qos": "reliable", "output_qos": "reliable", "output_resolution": "model",
              "resize_mode": "letterbox", "points_stride": 2, "input_height": 64, "input_width": 64}
    with running_node(tiny_checkpoint, 2, params, input_qos="reliable", output_qos="reliable") as (_, client):
        assert client.publish_until(lambda: matched_outputs(client) is not None, FRAME.rgb, FRAME.K, timeout=40)
        out = matched_outputs(client)
        depth_msg, info, cloud = out["depth"], out["info"], out["points"]
        assert depth_msg.encoding == "16UC1" and (depth_msg.height, depth_msg.width) == (64, 64)
        raw = image_decoding.image_view(depth_msg)[..., 0]
        assert raw.dtype == np.uint16 and (raw[:8] == 0).all()  # letterbox padding rows are invalid (0)
        K_net = make_transform((120, 160), (64, 64), "letterbox").intrinsics_to_network(FRAME.K)
        np.testing.assert_allclose(np.reshape(info.k, (3, 3)), K_net)
        assert (info.height, info.width) == (64, 64)
        assert (cloud.height, cloud.width, cloud.point_step) == (32, 32, 12)
        xyz, colors = message_layout.cloud_to_arrays(cloud)
        assert colors is None
        expected = depth_to_points(image_decoding.image_to_depth(depth_msg), K_net, stride=2)
        np.testing.assert_allclose(xyz, expected, rtol=1e-3, atol=2e-3, equal_nan=True)  # mm quantisation


def test_compressed_input(tiny_checkpoint):
    with running_node(tiny_checkpoint, 3, {"use_compressed": True}, compressed=True) as (_, client):
        assert client.publish_until(lambda: matched_outputs(client) is not None, FRAME.rgb, FRAME.K, timeout=40, jpeg=True)
        out = matched_outputs(client)
        assert (out["depth"].height, out["depth"].width) == (120, 160)
        assert np.isfinite(image_decoding.image_to_depth(out["depth"])).any()


def test_invalid_start_parameters_exit_cleanly(tiny_checkpoint, tmp_path):
    proc = NodeProcess(unique_domain_id(4), {"model_path": str(tiny_checkpoint), "backend": "tflite"})
    proc.proc.wait(timeout=60)
    rc, _, err = proc.stop()
    assert rc == 2 and "backend must be one of" in err and "Traceback" not in err
    proc = NodeProcess(unique_domain_id(5), {"model_path": "/no/such/model.pt"})
    proc.proc.wait(timeout=60)
    rc, _, err = proc.stop()
    assert rc == 2 and "model file not found" in err and "Traceback" not in err
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x04 not a checkpoint" * 100)
    proc = NodeProcess(unique_domain_id(8), {"model_path": str(corrupt), "backend": "torch", "device": "cpu"})
    proc.proc.wait(timeout=60)
    rc, _, err = proc.stop()
    assert rc == 2 and "Traceback" not in err, err[-3000:]
    assert f"model {corrupt}" in err  # one line naming the file (and the reason)
