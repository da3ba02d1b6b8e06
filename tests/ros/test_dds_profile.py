"""The Fast DDS profile the node applies to itself so MB-sized messages are not lost (real rclpy, real DDS)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from disdepth_ros.dds_profile import PROFILE_FILE, PROFILE_VARS, large_data_env

REPO = Path(__file__).resolve().parents[2]


def test_profile_choice_respects_the_user(tmp_path):
    """Applied by default; never over a user's own profile, another RMW, or the off switch; Humble gets its variable."""
    env, message = large_data_env({})
    assert list(env) == ["FASTDDS_DEFAULT_PROFILES_FILE"] and env["FASTDDS_DEFAULT_PROFILES_FILE"].endswith(PROFILE_FILE)
    assert Path(env["FASTDDS_DEFAULT_PROFILES_FILE"]).is_file() and "shared memory" in message
    assert list(large_data_env({"ROS_DISTRO": "humble"})[0]) == ["FASTRTPS_DEFAULT_PROFILES_FILE"]
    mine = tmp_path / "my.xml"
    mine.write_text("<dds><profiles/></dds>\n")
    for own in PROFILE_VARS:
        updates, message = large_data_env({own: str(mine)})
        assert updates == {} and "using your" in message and str(mine) in message
        updates, message = large_data_env({own: "/etc/missing.xml"})  # Fast DDS: "Error opening": defaults
        assert updates == {} and message.startswith(f"DDS profile: not applied: your {own}=/etc/missing.xml cannot be read")
    assert large_data_env({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}) == ({}, "DDS profile: not applied "
                                                                               "(RMW_IMPLEMENTATION=rmw_cyclonedds_cpp is not Fast DDS)")
    assert large_data_env({"DISDEPTH_DDS_PROFILE": "off"})[0] == {}
    updates, message = large_data_env({"DISDEPTH_DDS_PROFILE": "/nope.xml"})
    assert updates == {} and "does not exist" in message


@pytest.mark.parametrize("text,problem", [
    ("<dds><profiles><participant>\n", "is not valid XML (no element found: line 2, column 0)"),
    ("<?xml version='1.0'?><profile/>", "is not a Fast DDS profile (root element <profile>, expected <dds> or <profiles>)"),
    ("", "is not valid XML (no element found"),
])
def test_a_profile_fast_dds_cannot_parse_is_reported_as_not_applied(tmp_path, text, problem):
    """Fast DDS only logs XMLPARSER errors and runs on its defaults: the node must not claim the profile applied."""
    bad = tmp_path / "bad profile.xml"
    bad.write_text(text)
    updates, message = large_data_env({"DISDEPTH_DDS_PROFILE": str(bad)})
    assert updates == {} and message.startswith(f"DDS profile: not applied: {bad} {problem}") and "DDS defaults" in message
    updates, message = large_data_env({"FASTDDS_DEFAULT_PROFILES_FILE": str(bad)})
    assert updates == {} and message.startswith(f"DDS profile: not applied: your FASTDDS_DEFAULT_PROFILES_FILE={bad} {problem}")
    namespaced = tmp_path / "ok.xml"
    namespaced.write_text('<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"/>')
    assert large_data_env({"DISDEPTH_DDS_PROFILE": str(namespaced)})[0] == {"FASTDDS_DEFAULT_PROFILES_FILE": str(namespaced)}


SENDER = """
import sys, time
import numpy as np, rclpy
from rclpy.context import Context
from sensor_msgs.msg import Image
from disdepth_ros import messages
from disdepth_ros.depth_node import qos_profile
context = Context()
rclpy.init(context=context, domain_id=int(sys.argv[1]))
node = rclpy.create_node("sender", context=context)
pub = node.create_publisher(Image, "image", qos_profile("sensor_data", 5))
while pub.get_subscription_count() == 0:
    time.sleep(0.05)
time.sleep(0.5)
msg = messages.array_to_image(np.zeros((480, 640, 3), np.uint8), "rgb8")
for _ in range(int(sys.argv[2])):
    pub.publish(msg)
    time.sleep(0.1)
time.sleep(0.5)
rclpy.try_shutdown(context=context)
"""


def test_best_effort_640x480_images_arrive_with_the_profile(tmp_path):
    """With the shipped profile in both processes, best-effort 921 KB images at 10 Hz all arrive (without it,
    Fast DDS sends them as UDP fragments and this machine lost 99 of 100)."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from disdepth_ros.depth_node import qos_profile
    from disdepth_ros.harness.node_process import ros_env, unique_domain_id

    domain = unique_domain_id(17)
    updates, _ = large_data_env({})
    env = ros_env(domain, {**updates, "PYTHONPATH": str(REPO)})
    script = tmp_path / "sender.py"
    script.write_text(textwrap.dedent(SENDER))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if k in updates or k.startswith("ROS_")})
    try:
        context = Context()
        rclpy.init(context=context, domain_id=domain)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    received = []
    try:
        node = rclpy.create_node("receiver", context=context)
        node.create_subscription(Image, "image", received.append, qos_profile("sensor_data", 5))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        sender = subprocess.Popen([sys.executable, str(script), str(domain), "20"], env=env)
        deadline = time.monotonic() + 60
        while sender.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):
            executor.spin_once(timeout_sec=0.05)
        assert sender.wait(timeout=10) == 0
    finally:
        rclpy.try_shutdown(context=context)
    assert len(received) >= 19, f"only {len(received)} of 20 images arrived"
    assert (received[0].height, received[0].width, len(received[0].data)) == (480, 640, 921600)
