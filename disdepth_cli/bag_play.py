"""Publish a rosbag2's messages on live ROS 2 topics with their recorded timing (needs rclpy)."""

from __future__ import annotations

import argparse

from disdepth_core.arg_types import non_negative_float, positive_float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 folder (or its .db3/.mcap file)")
    parser.add_argument("--rate", type=positive_float, default=1.0, help="playback speed factor (default 1.0: recorded timing)")
    parser.add_argument("--loop", action="store_true", help="start again at the end (Ctrl-C stops)")
    parser.add_argument("--topics", nargs="+", default=None, help="only these topics (default: all)")
    parser.add_argument("--delay", type=non_negative_float, default=0.0, help="seconds to wait after creating the publishers (discovery)")
    parser.add_argument("--qos", choices=("reliable", "best_effort"), default="reliable",
                        help="publisher reliability (reliable reaches best-effort and reliable subscribers)")


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from . import UserError

    if importlib.util.find_spec("rclpy") is None:
        raise UserError("bag-play needs ROS 2 Python packages (pip install .[ros]) or a sourced ROS 2; "
                        "with the ROS 2 CLI installed `ros2 bag play BAG` works too")
    from disdepth_core.bags.play import play_bag

    count = play_bag(args.bag, rate=args.rate, loop=args.loop, topics=args.topics, reliable=args.qos == "reliable",
                      delay=args.delay)
    print(f"published {count} messages")
    return 0
