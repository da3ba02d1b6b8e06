"""Evaluate a model on a dataset's test split with the standard protocol; print the table.

The same evaluator as ``bag-eval`` and training validation (:mod:`disdepth_core.evaluation`):
the node's frame pipeline on any runtime, at the model's input size by default or at full
resolution with ``--full-resolution``; the output says which.
"""

from __future__ import annotations

import argparse
import json

from disdepth_core.arg_types import non_negative_int
from .predictor_options import add_predictor_arguments, build_predictor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="training config whose 'data' section names the test split")
    parser.add_argument("--checkpoint", required=True, help="model file: checkpoint (.pt/.safetensors), .onnx or .engine")
    add_predictor_arguments(parser)
    parser.add_argument("--max-images", type=non_negative_int, default=0, help="evaluate only the first N images (0 = all)")
    parser.add_argument("--save-json", default=None, help="write the metrics (and settings) to this JSON file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override config values")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .files import require_file

    require_file(args.config, "config file")
    require_file(args.checkpoint, "checkpoint")
    if args.save_json:  # before the evaluation: a bad path must not cost the whole run
        from disdepth_core.output_paths import check_output_file

        check_output_file(args.save_json, "--save-json", [("--config", args.config), ("--checkpoint", args.checkpoint)],
                          "metrics.json")

    from tqdm import tqdm

    from disdepth_core.data.depth_dataset import build_dataset
    from disdepth_core.evaluation import dataset_frames, evaluate_frames, protocol_for_dataset
    from disdepth_core.metrics import format_metrics_table
    from training.train_config import load_train_config

    if args.max_images < 0:  # also reachable programmatically
        raise ValueError(f"--max-images must be >= 0 (0 = all), got {args.max_images}")
    cfg = load_train_config(args.config, args.overrides)
    predictor = build_predictor(args.checkpoint, args)
    protocol = protocol_for_dataset(cfg.data)
    dataset = build_dataset(cfg.data, "eval")
    indices = range(len(dataset) if not args.max_images else min(args.max_images, len(dataset)))
    shown = tqdm(indices, desc="eval", unit="img", disable=args.no_progress)
    metrics = evaluate_frames(predictor, dataset_frames(dataset, shown), protocol).compute()
    print(f"model {args.checkpoint} ({predictor.runtime.backend}) on {cfg.data.name} test split ({cfg.data.test_split})")
    print(f"evaluated at {predictor.resolution}; {protocol.describe()}; flip_tta={args.flip_tta}")
    print(format_metrics_table(metrics))
    if args.save_json:
        out = Path(args.save_json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"checkpoint": args.checkpoint, "checkpoint_sha256": predictor.runtime.metadata.checkpoint_sha256,
                                   "dataset": cfg.data.name, "test_split": cfg.data.test_split, "eval_crop": cfg.data.eval_crop,
                                   "min_depth": protocol.min_depth, "max_depth": protocol.max_depth,
                                   **predictor.describe(), "metrics": metrics}, indent=2))
        print(f"wrote {out}")
    return 0
