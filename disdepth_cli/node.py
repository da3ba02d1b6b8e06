"""Run the ROS 2 depth node without ros2 launch (pip installs): same node, same YAML file.

Arguments become ``--ros-args --params-file FILE -p ... -r image:=TOPIC`` for ``rclpy.init``,
i.e. literally the mechanism ``ros2 run``/``ros2 launch`` use; outputs keep their names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="ROS params YAML (default: the package's config/depth.yaml)")
    parser.add_argument("--model", default=None, help="model file (overrides model_path)")
    parser.add_argument("--backend", default=None, help="auto, tensorrt, onnxruntime, openvino or torch (overrides backend)")
    parser.add_argument("--image", default="/camera/image_raw", help="camera image topic")
    parser.add_argument("--camera-info", default="/camera/camera_info", help="camera_info topic")
    parser.add_argument("--sparse-depth", default=None, help="sparse depth topic for scale_anchor sparse_depth")


def ros_args(args: argparse.Namespace) -> list[str]:
    """The ``--ros-args`` list for these options (kept separate so it is testable)."""
    out = ["disdepth-node", "--ros-args"]
    from .files import require_file

    if args.params:
        require_file(args.params, "params file")
    candidates = [Path(args.params)] if args.params else [Path(__file__).resolve().parents[1] / "config" / "depth.yaml",
                                                          Path(sys.prefix) / "share" / "disdepth_ros" / "config" / "depth.yaml"]
    found = [str(path) for path in candidates if path.is_file()]
    if found:  # else: the node's built-in defaults, which the YAML file mirrors
        out += ["--params-file", found[0]]
    from disdepth_ros.ros_arguments import param_override

    if args.model:  # quoted: rcl reads -p values as YAML (a path with ' #', ': ' or only digits)
        out += ["-p", param_override("model_path", args.model)]
    if args.backend:
        out += ["-p", param_override("backend", args.backend)]
    out += ["-r", f"image:={args.image}", "-r", f"camera_info:={args.camera_info}",
            "-r", f"image/compressed:={args.image}/compressed"]
    return out + (["-r", f"sparse_depth:={args.sparse_depth}"] if getattr(args, "sparse_depth", None) else [])


def run(args: argparse.Namespace) -> int:
    from . import UserError
    from .files import require_file

    if args.model and Path(args.model).suffix.lower() not in (".engine", ".plan"):
        require_file(args.model, "model file")  # a missing engine may be built from onnx_path by the node
    argv = ros_args(args)  # file checks first: they need no ROS
    if args.params:
        from disdepth_ros.param_checks import check_params_file

        problem = check_params_file(args.params)  # rcl would say "RCLError ... parse.c:800" or ignore typos
        if problem:
            raise UserError(problem)
    try:
        from disdepth_ros.depth_node import main
    except ImportError as err:
        raise FileNotFoundError(f"ROS 2 Python packages are missing ({err}); pip install 'disdepth_ros[ros]' or source ROS 2") from None
    return main(argv)
