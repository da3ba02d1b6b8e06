"""The model/predictor options shared by ``disdepth eval``, ``bag-eval`` and ``demo --offline``.

One place so every evaluating command loads models and picks the evaluation resolution the
same way (see :mod:`disdepth_core.evaluation`).
"""

from __future__ import annotations

import argparse
from typing import Optional

from disdepth_core.runtime.loader import BACKEND_CHOICES


def add_predictor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help="runtime (auto: from the file type)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--input-size", default=None, help="HxW network input (default: the model's fixed or recorded size)")
    parser.add_argument("--full-resolution", action="store_true",
                        help="feed each frame at its own size (papers' protocol; dynamic-shape models) instead of "
                             "resizing to the model input like the node")
    parser.add_argument("--resize-mode", choices=("resize", "letterbox"), default="resize", help="as the node's resize_mode")
    parser.add_argument("--focal-rescale", action="store_true", help="as the node's focal_rescale (needs camera intrinsics)")
    parser.add_argument("--flip-tta", action="store_true", help="average with the flipped prediction of the flipped image")


def load_model_runtime(model_path: str, backend: str = "auto", device: str = "auto",
                       input_hw: Optional[tuple[int, int]] = None, dynamic: bool = False):
    """``load_runtime`` through the fast CPU path: a checkpoint with backend auto on a machine without CUDA runs
    from a cached verified ONNX on OpenVINO or ONNX Runtime (:mod:`disdepth_core.export.cpu_fast_path`)."""
    from disdepth_core.export.cpu_fast_path import fast_cpu_model
    from disdepth_core.runtime import load_runtime

    from .files import require_file

    require_file(model_path)  # one line, before the fast path would try (and report failing) to export it
    path, backend = fast_cpu_model(model_path, backend, device, input_hw=input_hw, dynamic=dynamic)
    return load_runtime(path, backend=backend, device=device)


def build_predictor(model_path: str, args: argparse.Namespace, input_hw: Optional[tuple[int, int]] = None,
                    confidence: bool = False):
    """Load ``model_path`` with the chosen backend and wrap it in a :class:`~disdepth_core.evaluation.Predictor`
    (``confidence``: also return the model's confidence, for ``bag-eval``'s sparsification)."""
    from disdepth_core.evaluation import Predictor

    from .info import parse_hw

    if input_hw is None and getattr(args, "input_size", None):
        input_hw = parse_hw(args.input_size)
    if args.full_resolution and input_hw:
        from . import UserError

        raise UserError("--full-resolution and --input-size contradict each other; pass one")
    runtime = load_model_runtime(model_path, args.backend, args.device, input_hw, dynamic=args.full_resolution)
    return Predictor(runtime, full_resolution=args.full_resolution, input_hw=input_hw, resize_mode=args.resize_mode,
                     focal_rescale=args.focal_rescale, flip_tta=args.flip_tta, confidence=confidence)
