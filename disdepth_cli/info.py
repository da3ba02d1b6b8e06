"""Print a model's parameter count, feature channels and GMACs at an input size."""

from __future__ import annotations

import argparse

MODEL_FILE_SUFFIXES = (".pt", ".pth", ".safetensors", ".ckpt", ".onnx", ".engine", ".plan")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="backbone name (see --list) or a checkpoint path")
    parser.add_argument("--input-size", default="352x1216", help="HxW for the GMAC count (default: KITTI test size)")
    parser.add_argument("--no-lg", action="store_true", help="build without LG-Conv (backbone names only)")
    parser.add_argument("--list", action="store_true", help="list supported backbones and exit")


def parse_hw(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``352x1216``) into two positive ints with a clear error."""
    from . import UserError
    from disdepth_core.arg_types import parse_size

    try:
        return parse_size(text)
    except ValueError as err:
        raise UserError(f"input size {err}") from None


def looks_like_path(text: str) -> bool:
    """A name with a folder separator or a model-file extension is meant as a file, not a backbone."""
    from pathlib import PurePath

    return "/" in text or "\\" in text or PurePath(text).suffix.lower() in MODEL_FILE_SUFFIXES


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import UserError
    from .files import require_file

    is_file = Path(args.model).exists() or looks_like_path(args.model)
    if not args.list:
        height, width = parse_hw(args.input_size)  # cheap checks before torch loads
        if is_file and not Path(args.model).exists():
            raise FileNotFoundError(f"model file not found: {args.model} (--model takes a checkpoint path or a backbone "
                                    "name; see --list)")
        if is_file:
            require_file(args.model, "checkpoint")
            if Path(args.model).suffix.lower() in (".onnx", ".engine", ".plan"):
                raise UserError(f"info reads DisDepth checkpoints (.pt, .pth, .safetensors); {args.model} is an exported "
                                "model (try `disdepth bench` on it)")

    from disdepth_core.models import backbone_info, build_model, list_students
    from disdepth_core.models.checkpoint import load_model
    from disdepth_core.models.complexity import measure_complexity

    if args.list:
        print("\n".join(list_students()))
        return 0
    if is_file:
        model, meta = load_model(args.model)
        title = f"{args.model} ({meta['model_config']['backbone']})"
    else:
        backbone_info(args.model)
        model = build_model(args.model, lg_conv=not args.no_lg)
        title = f"{args.model} ({'with' if not args.no_lg else 'without'} LG-Conv)"
    stats = measure_complexity(model, height, width)
    print(f"model            {title}")
    print(f"parameters       {stats.params_m:.2f} M (LG-Conv branches: {stats.lgconv_params_m:.2f} M, {model.num_lgconv} inserted)")
    print(f"feature channels {model.feature_channels} (strides {model.feature_reductions})")
    print(f"decoder output   {model.decoder.out_channels} channels at stride 2; bins: {model.cfg.head.n_bins}")
    print(f"compute          {stats.gmacs:.2f} GMACs ({2 * stats.gmacs:.2f} GFLOPs) at {height}x{width}")
    return 0
