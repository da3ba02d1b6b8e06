"""Generate deterministic synthetic RGB-D scenes in KITTI / NYU on-disk formats, or as a rosbag2.

``--bag OUT`` writes the test split's frames (same seed, size and scene length -> the same
frames as the dataset) as a rosbag2: rgb8 image, JPEG compressed image, camera_info and
ground-truth depth, in sqlite3 or MCAP storage (``--storage``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from disdepth_core.arg_types import image_size, int_range, non_negative_int, positive_float, positive_int

# NumPy seeds are 32-bit; a frame larger than 4K on a side would not fit in memory while rendering.
SEED_MAX = 2**32 - 1
MAX_SIDE = 4096


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="output folder; datasets go to OUT/nyu and OUT/kitti")
    parser.add_argument("--bag", default=None, metavar="OUT_BAG", help="write the test frames as a rosbag2 instead of a dataset")
    parser.add_argument("--storage", choices=["sqlite3", "mcap"], default="sqlite3", help="--bag storage format")
    parser.add_argument("--rate", type=positive_float, default=10.0, help="--bag camera rate in Hz (> 0)")
    parser.add_argument("--depth-encoding", choices=["16UC1", "32FC1"], default="16UC1",
                        help="--bag ground truth: 16UC1 millimetres (like RGB-D drivers) or 32FC1 metres")
    parser.add_argument("--dataset", choices=["nyu", "kitti", "both"], default="both", help="which scene kind(s) to render")
    parser.add_argument("--train", type=non_negative_int, default=200, help="training frames per dataset")
    parser.add_argument("--test", type=non_negative_int, default=50, help="test frames per dataset (with --bag: frames in the bag)")
    parser.add_argument("--seed", type=int_range(0, SEED_MAX), default=0,
                        help=f"same seed -> byte-identical output (0 to {SEED_MAX})")
    parser.add_argument("--size", type=image_size(MAX_SIDE), default=None,
                        help=f"HxW override, at most {MAX_SIDE} each (default: 480x640 NYU, 375x1242 KITTI); focal scales with width")
    parser.add_argument("--frames-per-scene", type=positive_int, default=10, help="frames rendered per room/drive")
    parser.add_argument("--camera-effects", action="store_true",
                        help="randomise exposure, white balance, blur and sensor noise per frame (better transfer to real cameras)")
    parser.add_argument("--layouts", type=_layouts, default="rooms",
                        help="nyu only: comma-separated indoor layouts from rooms (default, the original toy rooms), corridors, "
                             "small_rooms; each scene picks one from its seed, e.g. rooms,corridors,small_rooms")
    parser.add_argument("--no-progress", action="store_true")


def _layouts(value: str) -> str:
    from disdepth_core.synthetic.scene_builder import parse_layouts

    try:
        return ",".join(parse_layouts(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from disdepth_core.synthetic.dataset_writer import generate_dataset

    from disdepth_core.output_paths import check_output_folder

    from . import UserError

    height, width = args.size or (None, None)
    if args.layouts != "rooms" and args.dataset != "nyu":
        raise UserError(f"--layouts {args.layouts} is for indoor scenes: use it with --dataset nyu (got --dataset {args.dataset})")
    if args.bag:
        return _write_bag(args, height, width)
    if not args.out:
        raise UserError("give --out FOLDER (a dataset) or --bag OUT_BAG (a rosbag2)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is an existing file; give a folder (it will hold {out}/nyu and {out}/kitti)")
    if args.train == 0 and args.test == 0:
        raise UserError("nothing to generate: --train and --test are both 0")
    kinds = ["nyu", "kitti"] if args.dataset == "both" else [args.dataset]
    check_output_folder(out, "--out", results=kinds, what="datasets")  # an earlier dataset is never replaced
    for kind in kinds:
        root = generate_dataset(args.out, kind, n_train=args.train, n_test=args.test, seed=args.seed, height=height,
                                width=width, frames_per_scene=args.frames_per_scene, progress=not args.no_progress,
                                camera_effects=args.camera_effects, layouts=args.layouts)
        print(f"{kind}: wrote {args.train} train + {args.test} test frames to {root}")
    return 0


def _write_bag(args: argparse.Namespace, height, width) -> int:
    from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, IMAGE_TOPIC, INFO_TOPIC, write_synthetic_bag
    from disdepth_core.output_paths import check_output_file

    from . import UserError

    if args.out:
        raise UserError("--out and --bag are exclusive: a run writes a dataset or a bag")
    if args.test == 0:
        raise UserError("--bag writes the test frames: give --test N with N >= 1")
    check_output_file(args.bag, "--bag", is_folder=True)
    kind = "nyu" if args.dataset == "both" else args.dataset
    path = write_synthetic_bag(args.bag, kind, frames=args.test, seed=args.seed, height=height, width=width,
                               frames_per_scene=args.frames_per_scene, storage=args.storage, rate_hz=args.rate,
                               depth_encoding=args.depth_encoding, progress=not args.no_progress,
                               layouts=args.layouts)
    print(f"wrote {args.test} synthetic {kind} frames to {path} ({args.storage}): {IMAGE_TOPIC} (rgb8), {COMPRESSED_TOPIC} (jpeg), "
          f"{INFO_TOPIC}, {DEPTH_TOPIC} ({args.depth_encoding})")
    return 0
