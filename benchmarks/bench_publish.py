"""What each of the node's output messages costs to build and to publish, at 640x480 by default, before and after.

``python benchmarks/bench_publish.py [--size 480x640] [--repeats 60] [--points-rgb] [--points-stride 0] [--dds-profile on|off]``

One frame goes through the real ``FramePipeline`` (bundled demo model, CPU), then, with a
consumer subscribed from another process (so DDS really delivers), the script times per message
over ``--repeats`` frames: building it (numpy -> message fields) and ``publish()`` (rclpy's
conversion, serialisation and the DDS write), for the depth image, camera_info and the cloud,
exactly as ``DepthNode._process`` does. It also times the point cloud computation and prints
the p50 sum, which is the node's "publish" stage plus its "pointcloud" stage.

Two paths run interleaved frame by frame (same load for both): "before" rebuilds what the node
did until this change (depth_image_proc's padded 16/32-byte points in a numpy buffer, then
``msg.data = to_byte_array(...)``, which the generated setter copies once more), "after" is the
current code (unpadded 12/16-byte points computed straight into a byte-backed buffer that the
message takes as is, and no setter copy for the depth image either). The "after" cloud uses
``--points-stride`` like the node's parameter (default 0: the network's output resolution; 1 =
every pixel, the same density as "before").

``--filters`` compares the cloud's filters instead (issue 17): "before" is the default cloud without
them (``flying_pixel_angle 0``, ``min_confidence 0``: the node's default until then), "after" the
node's defaults now (flying pixels at 5 deg, ``min_confidence`` 0.3: the model's confidence is
read at each point of the cloud, inside the "pointcloud" stage).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from disdepth_core.arg_types import non_negative_int, positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="480x640")
    parser.add_argument("--repeats", type=positive_int, default=60)
    parser.add_argument("--points-rgb", action="store_true")
    parser.add_argument("--points-stride", type=non_negative_int, default=0, help="the node's points_stride for the 'after' path (0 = auto)")
    parser.add_argument("--dds-profile", choices=("on", "off"), default="on")
    parser.add_argument("--filters", action="store_true", help="before = the default cloud without the filters, after = with them")
    args = parser.parse_args()

    from disdepth_ros.dds_profile import SWITCH_VAR, apply_large_data_profile
    from disdepth_ros.harness.node_process import LOCALHOST_ENV, unique_domain_id

    if args.dds_profile == "off":
        os.environ[SWITCH_VAR] = "off"
    print(apply_large_data_profile())
    from disdepth_core.malloc_tuning import retain_freed_memory

    print(retain_freed_memory(), "(as in the node)")
    os.environ.update(LOCALHOST_ENV)
    import numpy as np
    import rclpy
    from rclpy.context import Context
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

    from disdepth_cli.info import parse_hw
    from disdepth_core.synthetic.render import render_frame
    from disdepth_core.bundled_models import DEMO_MODEL_FILE, find_demo_dir
    from disdepth_core.message_layout import point_fields
    from disdepth_core.pipeline import FramePipeline, PipelineConfig
    from disdepth_core.runtime import load_runtime
    from disdepth_ros import messages
    from disdepth_ros.depth_node import qos_profile

    height, width = parse_hw(args.size)
    frame = render_frame("nyu", 0, 0, height, width)
    pipeline = FramePipeline(load_runtime(find_demo_dir() / DEMO_MODEL_FILE, device="cpu"))
    config = PipelineConfig(points_rgb=args.points_rgb, points_stride=args.points_stride)
    unfiltered = PipelineConfig(points_rgb=args.points_rgb, points_stride=args.points_stride, flying_pixel_angle=0.0,
                                min_confidence=0.0)
    result = pipeline.process_rgb(frame.rgb, (frame.K, (height, width)), config)
    if args.filters and result.confidence_net is None:
        raise SystemExit("--filters needs a model with a confidence output")
    info_in = CameraInfo(height=height, width=width, distortion_model="plumb_bob")
    info_in.k = [float(v) for v in frame.K.reshape(-1)]

    domain = unique_domain_id(53)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), PYTHONPATH=str(REPO))
    tmp = tempfile.TemporaryDirectory()
    consumer = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "bench_node_latency.py"), "--role", "subscriber",
                                 "--domain", str(domain), "--out", str(Path(tmp.name) / "c.json")], env=env)
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node("bench_publish", context=context)
    qos = qos_profile("sensor_data", 5)
    depth_pub = node.create_publisher(Image, "depth/image", qos)
    info_pub = node.create_publisher(CameraInfo, "depth/camera_info", qos)
    points_pub = node.create_publisher(PointCloud2, "depth/points", qos)
    deadline = time.monotonic() + 60
    while min(p.get_subscription_count() for p in (depth_pub, info_pub, points_pub)) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    from disdepth_core.geometry import depth_to_points
    from disdepth_core.pipeline import pack_rgb

    header = messages.array_to_image(frame.rgb, "rgb8").header
    keys = ("pointcloud", "build depth", "publish depth", "build camera_info", "publish camera_info", "build cloud", "publish cloud")
    times: dict[str, dict[str, list[float]]] = {path: {k: [] for k in keys} for path in ("before", "after")}
    padded = np.zeros((height, width, 8 if args.points_rgb else 4), np.float32)

    def before_points():
        depth_to_points(result.depth, result.depth_K, 1, out=padded[..., :3])
        if args.points_rgb:
            pack_rgb(frame.rgb, padded[..., 4].view(np.uint32))
        return padded

    def before_depth():
        msg = Image(header=header, height=height, width=width, encoding="32FC1", step=width * 4)
        msg.data = messages.to_byte_array(result.depth)  # the setter copies again
        return msg

    def before_cloud(points):
        msg = PointCloud2(header=header, height=height, width=width, point_step=4 * points.shape[2],
                          row_step=4 * points.shape[2] * width, is_dense=False, fields=[PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                                                          for f in point_fields(args.points_rgb, 8)])
        msg.data = messages.to_byte_array(points)
        return msg

    paths = {"before": (before_points, before_depth, before_cloud),
             "after": (lambda: pipeline.make_points(result, config), lambda: messages.depth_to_image(result.depth, header),
                       lambda points: messages.points_to_cloud(points, header, config.points_rgb))}
    if args.filters:
        paths["before"] = (lambda: pipeline.make_points(result, unfiltered), paths["after"][1], paths["after"][2])
    sizes = {}
    for _ in range(args.repeats + 3):
        for path, (make_points, make_depth, make_cloud) in paths.items():
            t0 = time.perf_counter()
            points = make_points()
            t1 = time.perf_counter()
            depth_msg = make_depth()
            t2 = time.perf_counter()
            depth_pub.publish(depth_msg)
            t3 = time.perf_counter()
            info_msg = messages.camera_info_for(info_in, result.depth_K, result.depth.shape, header)
            t4 = time.perf_counter()
            info_pub.publish(info_msg)
            t5 = time.perf_counter()
            cloud_msg = make_cloud(points)
            t6 = time.perf_counter()
            points_pub.publish(cloud_msg)
            t7 = time.perf_counter()
            for key, (a, b) in zip(keys, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6), (t6, t7))):
                times[path][key].append((b - a) * 1e3)
            sizes[path] = (cloud_msg.point_step, len(cloud_msg.data) / 1e6)
            time.sleep(0.03)
    consumer.send_signal(2)
    consumer.wait(timeout=30)
    what = "before: without the cloud filters, after: the node's defaults with them" if args.filters else \
        "before: depth_image_proc's padded points"
    print(f"{width}x{height}, cloud {'xyzrgb' if args.points_rgb else 'xyz'} (after: points_stride {args.points_stride} -> "
          f"stride {result.points_stride}; {what}); depth {len(depth_msg.data) / 1e6:.1f} MB; "
          f"p50 over {args.repeats} frames per path, interleaved, consumer subscribed")
    print(f"   {'stage':<22} {'before':>8} {'after':>8}")
    totals = {"before": 0.0, "after": 0.0}
    for key in keys:
        row = []
        for path in ("before", "after"):
            p50 = statistics.median(times[path][key][3:])
            totals[path] += p50
            row.append(p50)
        print(f"   {key:<22} {row[0]:8.2f} {row[1]:8.2f} ms")
    print(f"   {'sum':<22} {totals['before']:8.2f} {totals['after']:8.2f} ms   (cloud point_step {sizes['before'][0]} -> "
          f"{sizes['after'][0]}, {sizes['before'][1]:.2f} -> {sizes['after'][1]:.2f} MB)")
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
