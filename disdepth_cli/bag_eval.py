"""Evaluate a model on a recorded rosbag2 (sqlite3 or MCAP): metrics.json, frames.csv, report.html.

Same evaluator as ``disdepth eval`` (the node's pipeline on any runtime, the standard protocol).
Without ``--depth-topic`` it reports latency and depth statistics only.
"""

from __future__ import annotations

import argparse

from disdepth_core.arg_types import non_negative_float, non_negative_int, positive_float
from .predictor_options import add_predictor_arguments, build_predictor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 folder (or its .db3/.mcap file)")
    parser.add_argument("--model", required=True, help="checkpoint (.pt/.safetensors), .onnx or .engine")
    parser.add_argument("--image-topic", required=True, help="sensor_msgs/Image or CompressedImage topic")
    parser.add_argument("--depth-topic", default=None, help="ground-truth depth (32FC1 metres or 16UC1 millimetres)")
    parser.add_argument("--camera-info-topic", default=None, help="camera_info (focal rescale, --write-bag clouds)")
    parser.add_argument("--max-dt", type=non_negative_float, default=0.0,
                        help="pair image and depth by nearest stamp within this many seconds (default 0: exact stamp)")
    parser.add_argument("--min-depth", type=float, default=None, help="evaluation range minimum (default: the model's)")
    parser.add_argument("--max-depth", type=float, default=None, help="evaluation range maximum (default: the model's)")
    parser.add_argument("--crop", choices=("none", "garg", "eigen", "nyu"), default="none", help="evaluation crop")
    parser.add_argument("--max-frames", type=non_negative_int, default=0, help="evaluate only the first N images (0 = all)")
    parser.add_argument("--samples", type=non_negative_int, default=6, help="sample frames shown in the report")
    parser.add_argument("--out", default="outputs/bag_eval", help="folder for metrics.json, frames.csv and report.html")
    parser.add_argument("--compare", default=None, metavar="OTHER_MODEL",
                        help="also run this model on the same frames (runtime chosen by its file type)")
    parser.add_argument("--write-bag", default=None, metavar="OUT_BAG",
                        help="write a copy of the bag plus /depth/image, /depth/camera_info, /depth/points")
    parser.add_argument("--write-storage", choices=("sqlite3", "mcap"), default=None, help="storage of --write-bag (default: the input's)")
    anchor = parser.add_mutually_exclusive_group()
    anchor.add_argument("--sparse-depth-topic", default=None, metavar="TOPIC",
                        help="metric scale anchor: sparse depth registered to the image (32FC1 m or 16UC1 mm, e.g. a projected "
                             "2D LiDAR); the metrics are then the anchored ones, as the node's scale_anchor sparse_depth gives")
    anchor.add_argument("--camera-height", type=positive_float, default=None, metavar="M",
                        help="metric scale anchor: the camera's height above the floor in metres (> 0, <= 10; needs "
                             "--camera-info-topic), as the node's scale_anchor camera_height")
    add_predictor_arguments(parser)
    parser.add_argument("--no-progress", action="store_true")


def anchor_settings(args: argparse.Namespace):
    """The node's default anchor settings with the mode (and camera height) these options ask for."""
    from disdepth_core.floor_fit import camera_height_problem
    from disdepth_core.scale_anchor import AnchorSettings

    from . import UserError

    if args.camera_height is not None:
        problem = camera_height_problem(args.camera_height)
        if problem:
            raise UserError(problem.replace("camera_height", "--camera-height", 1))
        if not args.camera_info_topic:
            raise UserError("--camera-height fits the floor in the predicted cloud, which needs the intrinsics: "
                            "give --camera-info-topic")
        return AnchorSettings(mode="camera_height", camera_height=float(args.camera_height))
    return AnchorSettings(mode="sparse_depth") if args.sparse_depth_topic else AnchorSettings()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from disdepth_core.bags.bag_evaluation import BagEvalOptions, evaluate_bag
    from disdepth_core.bags.results import summary
    from disdepth_core.bags.report import write_report
    from disdepth_core.metrics import format_metrics_table

    check_outputs(args)  # before any model is loaded or frame evaluated
    if args.focal_rescale and not args.camera_info_topic:
        from . import UserError

        raise UserError("--focal-rescale needs --camera-info-topic: the camera's focal length comes from its camera_info")
    anchor = anchor_settings(args)  # before any model is loaded
    options = BagEvalOptions(image_topic=args.image_topic, depth_topic=args.depth_topic, info_topic=args.camera_info_topic,
                             max_dt=args.max_dt, min_depth=args.min_depth, max_depth=args.max_depth,
                             crop=None if args.crop == "none" else args.crop, max_frames=args.max_frames, samples=args.samples,
                             write_bag=args.write_bag, write_storage=args.write_storage, progress=not args.no_progress,
                             sparse_topic=args.sparse_depth_topic, anchor=anchor)
    check_inputs(args, options)  # the files and the bag's topics: seconds before a model export could start
    models = [(Path(args.model).name, build_predictor(args.model, args, confidence=True))]
    if args.compare:
        label = Path(args.compare).name
        compare_args = argparse.Namespace(**{**vars(args), "backend": "auto"})  # its own file type picks its runtime
        models.append((label if label != models[0][0] else f"{label} (compare)",
                       build_predictor(args.compare, compare_args, confidence=True)))
    result = evaluate_bag(args.bag, models, options)
    paths = write_report(result, args.out)
    data = summary(result)
    frames = data["frames"]
    print(f"bag {args.bag} ({result.storage}): {frames['images_read']} images read, {frames['evaluated']} evaluated, "
          f"{frames['with_ground_truth']} with ground truth, {frames['skipped']} skipped; evaluated at {data['resolution']}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for model in data["models"]:
        latency = model["latency_ms"]
        if model["metrics"] and model["metrics"].get("n_images"):
            anchored = f", scale anchor {anchor.mode}" if anchor.mode != "none" else ""
            print(f"{model['label']} ({model['backend']}{anchored}):")
            print(format_metrics_table(model["metrics"]))
            if model.get("unanchored_metrics"):
                print(f"  unanchored abs_rel {model['unanchored_metrics']['abs_rel']:.4f}; median scale "
                      f"{model['scale'].get('p50', float('nan')):.3f}; frames by scale source {model['scale']['frames_by_source']}")
        curve = model.get("confidence_sparsification")
        if curve:
            print(f"{model['label']} confidence sparsification (abs_rel at coverage): "
                  + ", ".join(f"{point['coverage']:g}: {point['abs_rel']:.4f}" for point in curve))
        stats = model["depth_stats"]
        if latency:
            print(f"{model['label']}: pipeline latency p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms; "
                  f"median depth {stats['median_of_frame_medians_m']:.2f} m")
    print(f"wrote {paths['report']}, {paths['metrics']} and {paths['frames']}")
    if args.write_bag:
        print(f"wrote {args.write_bag}: the input topics, /depth/image for {result.written} frame(s) and /depth/camera_info + "
              f"/depth/points for {result.written_with_camera}" + ("" if result.written_with_camera == result.written else
              " (the others had no valid camera_info" + ("" if args.camera_info_topic else "; give --camera-info-topic") + ")"))
    return 0


def check_inputs(args: argparse.Namespace, options) -> None:
    """The model files and the bag (present, readable, each named topic there with one role)."""
    from disdepth_core.bags.bag_evaluation import check_topics
    from disdepth_core.bags.reader import BagReader

    from .files import require_file

    for model in (args.model, args.compare):
        if model:
            require_file(model)
    with BagReader(args.bag) as bag:
        check_topics(bag, options)


# What bag-eval writes into --out.
REPORT_FILES = ("metrics.json", "frames.csv", "report.html")


def check_outputs(args: argparse.Namespace) -> None:
    """--out and --write-bag, checked before any work (issue 20): neither may be the input bag, a
    model or each other, an earlier report in --out and an existing --write-bag are never replaced."""
    from pathlib import Path

    from disdepth_core.output_paths import check_output_file, check_output_folder

    bag = Path(args.bag)
    inputs = [("the input bag", bag), ("the input bag's folder", bag.parent if bag.is_file() else None),
              ("--model", args.model), ("--compare", args.compare)]
    check_output_folder(args.out, "--out", inputs, REPORT_FILES, what="reports")
    if args.write_bag:
        check_output_file(args.write_bag, "--write-bag", [*inputs, ("--out", args.out)], is_folder=True)
