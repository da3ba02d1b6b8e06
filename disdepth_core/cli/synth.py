"""Generate deterministic synthetic RGB-D scenes written in the KITTI and NYU on-disk formats."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arg_types import non_negative_int, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder; datasets go to OUT/nyu and OUT/kitti")
    parser.add_argument("--dataset", choices=["nyu", "kitti", "both"], default="both", help="which scene kind(s) to render")
    parser.add_argument("--train", type=non_negative_int, default=200, help="training frames per dataset")
    parser.add_argument("--test", type=non_negative_int, default=50, help="test frames per dataset")
    parser.add_argument("--seed", type=int, default=0, help="same seed -> byte-identical output")
    parser.add_argument("--size", default=None, help="HxW override (default: 480x640 NYU, 375x1242 KITTI); focal scales with width")
    parser.add_argument("--frames-per-scene", type=positive_int, default=10, help="frames rendered per room/drive")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from disdepth_core.data.synthetic import generate_dataset

    from .info import parse_hw

    from . import UserError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is an existing file; give a folder (it will hold {out}/nyu and {out}/kitti)")
    if args.train == 0 and args.test == 0:
        raise UserError("nothing to generate: --train and --test are both 0")
    height = width = None
    if args.size:
        height, width = parse_hw(args.size)
    kinds = ["nyu", "kitti"] if args.dataset == "both" else [args.dataset]
    for kind in kinds:
        root = generate_dataset(args.out, kind, n_train=args.train, n_test=args.test, seed=args.seed, height=height,
                                width=width, frames_per_scene=args.frames_per_scene, progress=not args.no_progress)
        print(f"{kind}: wrote {args.train} train + {args.test} test frames to {root}")
    return 0
