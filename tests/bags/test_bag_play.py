"""``disdepth bag-play``: a bag's messages arrive on live ROS 2 topics, intact and with their spacing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from disdepth_core.bags.play import play_bag  # noqa: E402
from disdepth_core.bags.reader import BagError, BagReader  # noqa: E402
from disdepth_core.bags.synthetic import DEPTH_TOPIC, IMAGE_TOPIC, write_synthetic_bag  # noqa: E402
from disdepth_core.image_decoding import image_to_rgb  # noqa: E402
from disdepth_ros.harness.node_process import LOCALHOST_ENV, unique_domain_id  # noqa: E402


def test_bag_play_publishes_recorded_messages(tmp_path, monkeypatch):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    for key, value in LOCALHOST_ENV.items():
        monkeypatch.setenv(key, value)
    bag = write_synthetic_bag(tmp_path / "bag", frames=4, height=48, width=64, rate_hz=10.0, progress=False)
    domain = unique_domain_id(57)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    received: dict[str, list] = {IMAGE_TOPIC: [], DEPTH_TOPIC: []}
    try:
        node = rclpy.create_node("bag_play_listener", context=context)
        qos = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
        for topic in received:
            node.create_subscription(Image, topic, lambda msg, t=topic: received[t].append((time.monotonic(), msg)), qos)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        stop = threading.Event()
        spinner = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.05) for _ in iter(stop.is_set, True)])
        spinner.start()
        try:
            count = play_bag(bag, rate=0.5, topics=[IMAGE_TOPIC, DEPTH_TOPIC], domain_id=domain, delay=2.0, log=lambda _: None)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and min(len(v) for v in received.values()) < 4:
                time.sleep(0.05)
        finally:
            stop.set()
            spinner.join()
    finally:
        rclpy.shutdown(context=context)
    assert count == 8 and [len(v) for v in received.values()] == [4, 4]
    with BagReader(bag) as reader:
        first = reader.deserialize(next(reader.messages([IMAGE_TOPIC])))
    np.testing.assert_array_equal(image_to_rgb(received[IMAGE_TOPIC][0][1]), image_to_rgb(first))
    arrivals = np.array([t for t, _ in received[IMAGE_TOPIC]])
    assert np.diff(arrivals).min() > 0.1  # recorded 0.1 s apart, played at half speed: ~0.2 s
    assert arrivals[-1] - arrivals[0] == pytest.approx(0.6, abs=0.15)


def test_bag_play_unknown_topic(tmp_path):
    bag = write_synthetic_bag(tmp_path / "bag", frames=1, height=24, width=32, progress=False)
    with pytest.raises(BagError, match="topic '/nope' is not in bag .*; its topics: /camera/color/camera_info"):
        play_bag(bag, topics=["/nope"], log=lambda _: None)
