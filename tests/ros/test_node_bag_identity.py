"""One message path: what ``bag-eval --write-bag`` writes for a frame is what the node publishes for it.

A real depth_node (ONNX Runtime, default parameters) gets one camera frame and its camera_info;
the same two messages (same stamp, frame_id and bytes) go into a real rosbag2, ``bag-eval
--write-bag`` runs the same model on it, and the written /depth/image, /depth/camera_info and
/depth/points must equal the node's messages field for field and byte for byte.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("onnxruntime")
pytest.importorskip("rosbags")
from disdepth_core.bags.bag_evaluation import OUTPUT_TOPICS, BagEvalOptions, evaluate_bag  # noqa: E402
from disdepth_core.bags.reader import BagReader  # noqa: E402
from disdepth_core.bags.writer import BagWriter  # noqa: E402
from disdepth_core.synthetic.render import render_frame  # noqa: E402
from disdepth_core.evaluation import Predictor  # noqa: E402
from disdepth_core.runtime import load_runtime  # noqa: E402
from disdepth_ros.harness.camera_client import CameraClient  # noqa: E402
from disdepth_ros.harness.node_process import NodeProcess, unique_domain_id  # noqa: E402
from tests.export.trt_fakes import tiny_disdepth_onnx  # noqa: E402

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

FRAME = render_frame("nyu", 0, 3, 120, 160)
IMAGE, INFO = "/camera/image_raw", "/camera/camera_info"


def _node_outputs(model) -> tuple:
    """The node's (image header, depth, camera_info, cloud) for FRAME, from a real node with default parameters."""
    domain = unique_domain_id(57)
    proc = NodeProcess(domain, {"model_path": str(model), "backend": "onnxruntime", "device": "cpu"})
    client = CameraClient(domain)
    try:
        assert client.wait_for_node(90.0), "node did not come up"
        assert client.publish_until(lambda: client.received["depth"] and client.received["points"] and client.received["info"],
                                    FRAME.rgb, FRAME.K, timeout=40), "no outputs came back"
        depth = client.received["depth"][-1][1]
        found = {kind: next(m for _, m in reversed(client.received[kind]) if m.header.stamp == depth.header.stamp)
                 for kind in ("info", "points")}
    finally:
        client.close()
        rc, _, err = proc.stop()
    assert rc == 0 and "Traceback" not in err, err[-3000:]
    return depth.header, depth, found["info"], found["points"]


def _write_input_bag(path, header) -> None:
    with BagWriter(path, "sqlite3") as writer:
        factory = writer.factory
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        bag_header = factory.header(stamp_ns, header.frame_id)
        writer.add(INFO, "sensor_msgs/msg/CameraInfo", factory.camera_info(FRAME.K, FRAME.rgb.shape[:2], bag_header), stamp_ns)
        writer.add(IMAGE, "sensor_msgs/msg/Image", factory.image(FRAME.rgb, "rgb8", bag_header), stamp_ns)


def test_written_bag_equals_what_the_node_publishes(tmp_path):
    model = tmp_path / "tiny.onnx"
    tiny_disdepth_onnx(model, height=64, width=96)
    header, node_depth, node_info, node_cloud = _node_outputs(model)

    _write_input_bag(tmp_path / "in", header)
    predictor = Predictor(load_runtime(model, backend="onnxruntime", device="cpu"))
    options = BagEvalOptions(image_topic=IMAGE, info_topic=INFO, write_bag=str(tmp_path / "out"), progress=False)
    result = evaluate_bag(tmp_path / "in", [("tiny", predictor)], options)
    assert (result.written, result.written_with_camera) == (1, 1)
    with BagReader(tmp_path / "out") as bag:
        written = {key: bag.deserialize(next(bag.messages([topic]))) for key, topic in OUTPUT_TOPICS.items()}

    depth, info, cloud = written["depth"], written["info"], written["points"]
    for msg in written.values():
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == \
            (header.stamp.sec, header.stamp.nanosec, header.frame_id)
    assert (depth.height, depth.width, depth.encoding, bool(depth.is_bigendian), depth.step) == \
        (node_depth.height, node_depth.width, node_depth.encoding, bool(node_depth.is_bigendian), node_depth.step)
    assert bytes(depth.data) == bytes(node_depth.data)
    assert np.isfinite(np.frombuffer(bytes(depth.data), np.float32)).mean() > 0.5  # a real prediction, not all NaN
    assert (info.height, info.width, info.distortion_model) == (node_info.height, node_info.width, node_info.distortion_model)
    for field in ("d", "k", "r", "p"):
        np.testing.assert_array_equal(np.asarray(getattr(info, field)), np.asarray(getattr(node_info, field)), err_msg=field)
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == \
        [(f.name, f.offset, f.datatype, f.count) for f in node_cloud.fields]
    assert (cloud.height, cloud.width, cloud.point_step, cloud.row_step, bool(cloud.is_dense), bool(cloud.is_bigendian)) == \
        (node_cloud.height, node_cloud.width, node_cloud.point_step, node_cloud.row_step, bool(node_cloud.is_dense),
         bool(node_cloud.is_bigendian))
    assert bytes(cloud.data) == bytes(node_cloud.data)
