"""Run the demo: the real ROS 2 node with the bundled model on a synthetic camera stream.

Default (the README's main job): start ``depth_node`` as a subprocess on the CPU, publish a
synthetic 640x480 camera stream with ground truth, collect ``/depth/image``, ``/depth/points``
and ``/diagnostics`` from a separate node, print latency and accuracy, and write
``outputs/node_demo.png`` and ``outputs/node_demo.ply``.

``--offline``: no ROS; evaluate the model on the synthetic test split with the standard
protocol, compare with the best constant-depth prediction, and write ``outputs/demo.png``
(:mod:`.demo_offline`), then the same model through ``bag-eval`` on a synthetic rosbag2
(:mod:`.demo_bag`). The node run itself is :mod:`disdepth_ros.harness.node_demo`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from disdepth_core.arg_types import non_negative_int, positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="protocol evaluation on synthetic test scenes instead of the ROS node demo")
    parser.add_argument("--frames", type=positive_int, default=40, help="node demo: frames to stream (>= 1)")
    parser.add_argument("--rate", type=positive_float, default=10.0, help="node demo: camera rate in Hz (> 0)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled models/demo/model.pt)")
    parser.add_argument("--data", default="outputs/demo_data", help="where the synthetic test scenes are generated")
    parser.add_argument("--out", default="outputs", help="folder for demo.png and demo_metrics.json")
    parser.add_argument("--images", type=non_negative_int, default=0, help="evaluate only N test images (0 = all)")
    parser.add_argument("--bag-frames", type=non_negative_int, default=30,
                        help="offline: also write N synthetic frames as a rosbag2 and run bag-eval on it (0 = skip)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    if not args.offline:
        return run_node(args)
    from .demo_offline import run_offline

    return run_offline(args)


def run_node(args: argparse.Namespace) -> int:
    """The ROS 2 node on the synthetic stream (needs the ``ros`` extra)."""
    import importlib.util

    if importlib.util.find_spec("rclpy") is None:
        from . import UserError

        raise UserError("the node demo needs ROS 2 Python packages (pip install .[ros]); or run `disdepth demo --offline`")
    from disdepth_ros.harness.node_demo import run_node_demo

    run_node_demo(args.model, frames=args.frames, rate_hz=args.rate, out_dir=Path(args.out))
    return 0
