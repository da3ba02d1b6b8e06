"""Fine-tune a depth model on your own RGB-D recordings (rosbag2 or image folders): DIR/model.pt + report.

``disdepth finetune BAG [BAG ...] --model MODEL --image-topic T --depth-topic D [--camera-info-topic C]
--out DIR [--iterations N | --minutes M] [--val-fraction F] [--synthetic-mix R] [--resume]``.
The work is :mod:`training.finetune.run`; this module only parses and checks the arguments.
"""

from __future__ import annotations

import argparse

from disdepth_core.arg_types import int_range, non_negative_float, positive_float, positive_int


def _fraction(low_open: bool):
    def parse(text: str) -> float:
        value = non_negative_float(text)
        if value >= 1 or (low_open and value == 0):
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected a number {'above' if low_open else 'from'} 0 "
                                             "and below 1")
        return value

    parse.__name__ = "fraction"
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="BAG",
                        help="rosbag2 folder(s) or .db3/.mcap file(s), or folders of colour + depth images (TUM, ScanNet, SUN3D)")
    parser.add_argument("--model", required=True, help="the model to start from: a shipped model, released student or checkpoint (.pt)")
    parser.add_argument("--image-topic", default="", help="colour topic (sensor_msgs/Image or CompressedImage); bags only")
    parser.add_argument("--depth-topic", default="",
                        help="depth registered to colour (16UC1 mm or 32FC1 m), e.g. /camera/camera/aligned_depth_to_color/image_raw")
    parser.add_argument("--camera-info-topic", default="", help="colour camera_info (default: the one beside --image-topic)")
    parser.add_argument("--out", required=True, help="new folder for model.pt, metrics.json and report.html")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--iterations", type=positive_int, default=None, help="training steps (default 300: a few minutes on a 2-core CPU)")
    budget.add_argument("--minutes", type=positive_float, default=None, help="train for about this long instead (measured here)")
    parser.add_argument("--val-fraction", type=_fraction(low_open=True), default=0.2,
                        help="last part of each recording held out to judge the result (default 0.2)")
    parser.add_argument("--synthetic-mix", type=_fraction(low_open=False), default=0.0,
                        help="share of training samples from synthetic scenes at your camera's focal length (default 0)")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run in --out at the step it stopped")
    parser.add_argument("--max-dt", type=non_negative_float, default=0.02, help="seconds between a colour frame and its depth (default 0.02)")
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, default=None, help=argparse.SUPPRESS if name != "fx" else
                            "--fx --fy --cx --cy: colour intrinsics in pixels (when there is no camera_info or intrinsics file)")
    parser.add_argument("--depth-scale", type=positive_float, default=None,
                        help="image folders: depth PNG units per metre (default 1000; TUM folders 5000)")
    parser.add_argument("--max-frames", type=int_range(10), default=3000,
                        help="keep every k-th frame of longer recordings so that at most this many are cached (default 3000)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (auto: a GPU when there is one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int_range(0, 50), default=6, help="held-out sample frames shown in the report")
    parser.add_argument("--keep-cache", action="store_true", help="keep DIR/cache (decoded frames) and DIR/last.pt after the run")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from . import UserError

    intrinsics = [args.fx, args.fy, args.cx, args.cy]
    if any(v is not None for v in intrinsics) and not all(v is not None for v in intrinsics):
        raise UserError("give all four of --fx --fy --cx --cy, or none")
    from .files import require_file

    require_file(args.model, "model file")
    try:
        from training.finetune.recipe import DataSpec
        from training.finetune.run import FinetuneRequest, run_finetune
    except ImportError as err:
        raise UserError(f"fine-tuning needs the repository checkout and torch/timm installed ({err})") from None
    data = DataSpec(sources=list(args.sources), image_topic=args.image_topic, depth_topic=args.depth_topic,
                    camera_info_topic=args.camera_info_topic, max_dt=args.max_dt,
                    intrinsics=tuple(intrinsics) if all(v is not None for v in intrinsics) else None,
                    depth_scale=args.depth_scale or 0.0, val_fraction=args.val_fraction, max_frames=args.max_frames)
    request = FinetuneRequest(sources=list(args.sources), model=args.model, out=args.out, data=data, iterations=args.iterations,
                              minutes=args.minutes, synthetic_mix=args.synthetic_mix, resume=args.resume, device=args.device,
                              seed=args.seed, samples=args.samples, keep_cache=args.keep_cache, progress=not args.no_progress)
    run_finetune(request)
    return 0
