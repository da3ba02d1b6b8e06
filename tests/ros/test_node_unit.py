"""DepthNode's thread-facing pieces without ROS traffic: callbacks never raise, counters, close()."""

from __future__ import annotations

import threading
import types

import numpy as np
import pytest

pytest.importorskip("rclpy")
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from disdepth_core import image_decoding  # noqa: E402
from disdepth_ros import depth_node  # noqa: E402
from disdepth_ros.diagnostics import RateMeter  # noqa: E402
from disdepth_ros.mailbox import LatestMailbox  # noqa: E402


class FakeLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def warning(self, text, **_):
        self.lines.append(("warning", text))

    def error(self, text, **_):
        self.lines.append(("error", text))


def bare_node() -> depth_node.DepthNode:
    """A DepthNode with only the state the callbacks use (no rclpy node, no model)."""
    node = depth_node.DepthNode.__new__(depth_node.DepthNode)
    logger = FakeLogger()
    node.get_logger = lambda: logger
    node.input_rate = RateMeter()
    node.mailbox = LatestMailbox()
    node._counts_lock = threading.Lock()
    node.published = node.bad = node.bad_recent = node.errors_recent = 0
    node.last_error = ""
    node.camera = None
    node._closed = False
    node._stop = threading.Event()
    return node


def test_image_callback_never_raises(monkeypatch):
    node = bare_node()
    node._on_image(Image(height=2, width=3, encoding="mono16", step=7))  # odd step: BadMessageError
    monkeypatch.setattr(image_decoding, "image_view", lambda msg: (_ for _ in ()).throw(RuntimeError("numpy said no")))
    node._on_image(Image(height=2, width=3, encoding="rgb8", step=9))  # any other exception is counted too
    assert (node.bad, node.bad_recent, node.mailbox.received) == (2, 2, 0)
    assert "numpy said no" in node.get_logger().lines[-1][1]


def test_camera_info_callback_never_raises():
    node = bare_node()
    node._on_camera_info(CameraInfo(height=0, width=0))  # zero K and size
    node._on_camera_info(types.SimpleNamespace(k=[object()] * 9, height=1, width=1))  # a TypeError, not a ValueError
    assert node.camera is None and node.bad == 2
    info = CameraInfo(height=4, width=6)
    info.k = [5.0, 0.0, 3.0, 0.0, 5.0, 2.0, 0.0, 0.0, 1.0]
    node._on_camera_info(info)
    assert node.camera[1] == (4, 6)


def test_counters_are_consistent_across_threads():
    node = bare_node()
    bad_msg = Image(height=1, width=1, encoding="rgb8", step=1)
    threads = [threading.Thread(target=lambda: [node._on_image(bad_msg) for _ in range(500)]) for _ in range(4)]
    taken = []
    stop = threading.Event()

    def timer():
        while not stop.is_set():
            taken.append(node._take_counts()["bad_recent"])

    reader = threading.Thread(target=timer)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    reader.join()
    taken.append(node._take_counts()["bad_recent"])
    assert node.bad == 2000 and sum(taken) == 2000  # no increment lost between snapshot and reset


def test_close_does_not_free_a_model_still_running():
    node = bare_node()
    release = threading.Event()
    node._worker = threading.Thread(target=release.wait, daemon=True)
    node._worker.start()
    closed = []
    node.runtime = types.SimpleNamespace(close=lambda: closed.append(True))
    node.close(join_timeout=0.05)
    assert closed == [] and "still running" in node.get_logger().lines[-1][1]
    release.set()
    node._worker.join(10)
    node.close()
    node.close()  # twice is fine
    assert closed == [True]


def test_warm_up_failure_is_a_config_error(monkeypatch, tiny_checkpoint):
    import disdepth_core.runtime as runtime_pkg

    closed = []

    class Broken:
        backend, path = "torch", str(tiny_checkpoint)
        input_spec = types.SimpleNamespace(layout="NCHW", dtype=np.float32)

        def warmup(self, iterations=2, input_hw=None):
            raise RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be reported later")

        def close(self):
            closed.append(True)

    monkeypatch.setattr(runtime_pkg, "load_runtime", lambda *a, **k: Broken())
    monkeypatch.setattr(depth_node, "FramePipeline", lambda runtime, override: types.SimpleNamespace(input_hw=(8, 8)))
    node = bare_node()
    node.values = {"model_path": str(tiny_checkpoint), "backend": "torch", "device": "cpu", "input_height": 0, "input_width": 0}
    with pytest.raises(depth_node.ConfigError) as info:
        node._load_model()
    text = str(info.value)
    assert str(tiny_checkpoint) in text and "RuntimeError: CUDA error: out of memory" in text and "\n" not in text
    assert closed == [True]
    monkeypatch.setattr(runtime_pkg, "load_runtime", lambda *a, **k: (_ for _ in ()).throw(ImportError("no module tensorrt")))
    with pytest.raises(depth_node.ConfigError, match="cannot load model .*ImportError: no module tensorrt"):
        node._load_model()
