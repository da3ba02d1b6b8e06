"""Evaluate a checkpoint on a dataset's test split with the standard protocol; print the table."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="training config whose 'data' section names the test split")
    parser.add_argument("--checkpoint", required=True, help="checkpoint (.pt or .safetensors)")
    parser.add_argument("--flip-tta", action="store_true", help="average with the flipped prediction of the flipped image")
    parser.add_argument("--max-images", type=int, default=0, help="evaluate only the first N images (0 = all)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--save-json", default=None, help="write the metrics (and settings) to this JSON file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override config values")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from disdepth_core.metrics import format_metrics_table
    from disdepth_core.models.checkpoint import load_student
    from training.config import load_train_config
    from training.distributed import resolve_device
    from training.evaluate import evaluate_model

    device = resolve_device(args.device)  # a clear error for --device tpu / cuda without CUDA
    cfg = load_train_config(args.config, args.overrides)
    model, meta = load_student(args.checkpoint, device=device)
    from training.distributed import DistInfo

    metrics = evaluate_model(model, cfg.data, flip_tta=args.flip_tta, dist_info=DistInfo(device=device),
                             max_images=args.max_images, progress=not args.no_progress)
    print(f"checkpoint {args.checkpoint} on {cfg.data.name} test split ({cfg.data.test_split}), crop={cfg.data.eval_crop}, flip_tta={args.flip_tta}")
    print(format_metrics_table(metrics))
    if args.save_json:
        out = Path(args.save_json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"checkpoint": args.checkpoint, "checkpoint_sha256": meta["checkpoint_sha256"],
                                   "dataset": cfg.data.name, "test_split": cfg.data.test_split, "eval_crop": cfg.data.eval_crop,
                                   "flip_tta": args.flip_tta, "metrics": metrics}, indent=2))
        print(f"wrote {out}")
    return 0
