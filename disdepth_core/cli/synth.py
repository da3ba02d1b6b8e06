"""Generate deterministic synthetic RGB-D scenes written in the KITTI and NYU on-disk formats."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder; datasets go to OUT/nyu and OUT/kitti")
    parser.add_argument("--dataset", choices=["nyu", "kitti", "both"], default="both", help="which scene kind(s) to render")
    parser.add_argument("--train", type=int, default=200, help="training frames per dataset")
    parser.add_argument("--test", type=int, default=50, help="test frames per dataset")
    parser.add_argument("--seed", type=int, default=0, help="same seed -> byte-identical output")
    parser.add_argument("--size", default=None, help="HxW override (default: 480x640 NYU, 375x1242 KITTI); focal scales with width")
    parser.add_argument("--frames-per-scene", type=int, default=10, help="frames rendered per room/drive")
    parser.add_argument("--camera-effects", action="store_true",
                        help="randomise exposure, white balance, blur and sensor noise per frame (better transfer to real cameras)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from disdepth_core.data.synthetic import generate_dataset

    from .info import parse_hw

    height = width = None
    if args.size:
        height, width = parse_hw(args.size)
    kinds = ["nyu", "kitti"] if args.dataset == "both" else [args.dataset]
    for kind in kinds:
        root = generate_dataset(args.out, kind, n_train=args.train, n_test=args.test, seed=args.seed, height=height,
                                width=width, frames_per_scene=args.frames_per_scene, progress=not args.no_progress,
                                camera_effects=args.camera_effects)
        print(f"{kind}: wrote {args.train} train + {args.test} test frames to {root}")
    return 0
