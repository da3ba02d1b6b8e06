"""Export a checkpoint to a verified ONNX file, or an ONNX to a TensorRT engine.

``disdepth export --checkpoint CKPT --format onnx --input-size HxW --output model.onnx``
``disdepth export --format engine --onnx model.onnx --output model.engine --precision fp16``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from disdepth_core.arg_types import int_range, non_negative_int, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from disdepth_core.export.onnx_export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
    from disdepth_core.runtime.tensorrt_build import PRECISIONS

    parser.add_argument("--format", choices=("onnx", "engine"), default="onnx", help="artifact to produce (default: onnx)")
    parser.add_argument("--checkpoint", help="DisDepth checkpoint (.pt/.safetensors) to export")
    parser.add_argument("--output", required=True, help="output path (.onnx, or .engine/.plan)")
    onnx = parser.add_argument_group("ONNX")
    onnx.add_argument("--input-size", help="HxW of the exported input (default: the checkpoint's training size)")
    onnx.add_argument("--dynamic", action="store_true", help="free height/width (batch stays 1)")
    onnx.add_argument("--opset", type=int_range(MIN_OPSET, MAX_OPSET), default=DEFAULT_OPSET,
                      help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET}, TensorRT 8.6-safe)")
    onnx.add_argument("--uint8-input", action="store_true", help="take uint8 NHWC RGB; normalisation inside the graph")
    onnx.add_argument("--no-simplify", action="store_true", help="skip onnxslim simplification")
    engine = parser.add_argument_group("TensorRT engine (run on the target device)")
    engine.add_argument("--onnx", help="ONNX to build from (else --checkpoint is exported to ONNX first)")
    engine.add_argument("--precision", choices=PRECISIONS, default="fp16")
    engine.add_argument("--calib-images", help="folder of images for INT8 calibration")
    engine.add_argument("--calib-cache", help="INT8 calibration cache file (written, and reused when it exists)")
    engine.add_argument("--dla-core", type=non_negative_int, help="build for this DLA core (Jetson Xavier/Orin), GPU fallback on")
    engine.add_argument("--workspace-mb", type=positive_int, default=1024, help="builder workspace limit in MB (default 1024)")
    engine.add_argument("--timing-cache", help="TensorRT timing cache file (loaded if present, saved after the build)")
    engine.add_argument("--min-shape", help="HxW: smallest input of a dynamic engine")
    engine.add_argument("--opt-shape", help="HxW: input size the dynamic engine is tuned for")
    engine.add_argument("--max-shape", help="HxW: largest input of a dynamic engine")
    engine.add_argument("--device", default="cuda", help="GPU to build on: cuda or cuda:N (default: cuda = GPU 0)")


def _optional_hw(text: str | None) -> tuple[int, int] | None:
    from .info import parse_hw

    return parse_hw(text) if text else None


def run(args: argparse.Namespace) -> int:
    from . import UserError
    from .files import require_file

    input_hw = _optional_hw(args.input_size)
    if args.checkpoint:
        require_file(args.checkpoint, "checkpoint")
    if args.onnx:
        require_file(args.onnx, "ONNX model")
    if args.format == "onnx":
        if not args.checkpoint:
            raise UserError("--format onnx needs --checkpoint CKPT")
        _check_outputs(args, intermediate_onnx=None)

        from disdepth_core.export.onnx_export import export_onnx

        export_onnx(args.checkpoint, args.output, input_hw, dynamic=args.dynamic, opset=args.opset,
                    uint8_input=args.uint8_input, simplify=not args.no_simplify)
        return 0

    from disdepth_core.runtime.tensorrt_build import EngineBuildOptions, build_engine
    from disdepth_core.runtime.tensorrt_logic import cuda_device_index

    if not args.onnx and not args.checkpoint:
        raise UserError("--format engine needs --onnx MODEL.onnx or --checkpoint CKPT")
    try:
        device_index = cuda_device_index(args.device)
    except ValueError as err:
        raise UserError(str(err)) from None
    options = EngineBuildOptions(precision=args.precision, calib_images=args.calib_images, calib_cache=args.calib_cache,
                                 dla_core=args.dla_core, workspace_mb=args.workspace_mb, timing_cache=args.timing_cache,
                                 min_shape=_optional_hw(args.min_shape), opt_shape=_optional_hw(args.opt_shape),
                                 max_shape=_optional_hw(args.max_shape), device_index=device_index)
    options.validate()
    # Export next to the engine so the sidecar's onnx_path stays valid for automatic rebuilds.
    onnx_path = Path(args.onnx) if args.onnx else Path(args.output).with_suffix(".onnx")
    _check_outputs(args, intermediate_onnx=None if args.onnx else onnx_path)
    try:  # before the intermediate ONNX is written: without TensorRT the build cannot happen here
        import tensorrt  # noqa: F401
    except ImportError as err:
        raise UserError(f"building a TensorRT engine needs the tensorrt package (build on the target device): {err}; "
                        "nothing was written") from None
    if not args.onnx:
        from disdepth_core.export.onnx_export import export_onnx

        # Shape flags describe a dynamic engine, so they make the exported ONNX dynamic too.
        dynamic = bool(args.dynamic or args.min_shape or args.opt_shape or args.max_shape)
        export_onnx(args.checkpoint, onnx_path, input_hw or options.opt_shape, dynamic=dynamic, opset=args.opset,
                    uint8_input=args.uint8_input, simplify=not args.no_simplify)
    build_engine(onnx_path, args.output, options)
    return 0


def _check_outputs(args: argparse.Namespace, intermediate_onnx: Path | None) -> None:
    """Every file this export writes is new and none is one of its inputs (issue 20), checked
    before anything is exported: ``--output``, an engine's JSON sidecar, and the ONNX that
    ``--format engine --checkpoint`` writes next to the engine."""
    from disdepth_core.output_paths import OutputPathError, check_output_file
    from disdepth_core.runtime.artifact import sidecar_path

    inputs = [("--checkpoint", args.checkpoint), ("--onnx", args.onnx), ("--calib-cache", args.calib_cache),
              ("--timing-cache", args.timing_cache)]
    example = "model.onnx" if args.format == "onnx" else "model.engine"
    output = check_output_file(args.output, "--output", inputs, example)
    if args.format == "engine":
        check_output_file(sidecar_path(output), "--output's sidecar", inputs, example)
    if intermediate_onnx is not None:
        if intermediate_onnx.exists():
            raise OutputPathError(f"--format engine --checkpoint first writes the ONNX {intermediate_onnx}, which already "
                                  f"exists and is never replaced; build from it with --onnx {intermediate_onnx}, or delete it")
        check_output_file(intermediate_onnx, "the engine's ONNX", [*inputs, ("--output", args.output)], example)
