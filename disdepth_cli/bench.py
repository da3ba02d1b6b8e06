"""Benchmark a model: latency p50/p95/p99, FPS and peak memory on one or more backends.

``disdepth bench model.onnx --iters 100`` or ``disdepth bench ckpt.pt --compare torch,onnxruntime,openvino``
(a checkpoint is exported to a temporary ONNX / engine on the fly for the other backends).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from disdepth_core.runtime.loader import BACKEND_CHOICES

from disdepth_core.arg_types import non_negative_int, positive_int

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="checkpoint, .onnx or .engine/.plan")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help="backend (auto: from the file type)")
    parser.add_argument("--input-size", help="HxW (default: the model's fixed or recorded size)")
    parser.add_argument("--iters", type=positive_int, default=50, help="timed iterations (>= 1, default 50)")
    parser.add_argument("--warmup", type=non_negative_int, default=5, help="untimed warm-up iterations (>= 0, default 5)")
    parser.add_argument("--compare", help="comma-separated backends run on the same input, e.g. torch,onnxruntime")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=non_negative_int, default=0,
                        help="CPU threads for torch and ONNX Runtime (>= 0; 0: library default)")
    fast = parser.add_argument_group("speed options (torch: the GPU fast path without TensorRT; openvino: --precision)")
    fast.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                      help="torch: compute precision (fp16: CUDA only); openvino: bf16 = bf16 body with an fp32 bins head")
    fast.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    fast.add_argument("--cuda-graph", action="store_true", help="capture the forward pass as a CUDA graph and replay it")
    fast.add_argument("--compile", action="store_true", help="torch.compile the forward pass (falls back when unavailable)")


def _artifact_for(model: Path, backend: str, input_hw: tuple[int, int] | None, tmp: Path) -> Path:
    """The file ``backend`` loads: the model itself, or an artifact exported from a checkpoint."""
    from . import UserError

    is_checkpoint = model.suffix.lower() in CHECKPOINT_SUFFIXES
    if backend in ("auto", "torch"):
        if backend == "torch" and not is_checkpoint:
            raise UserError(f"the torch backend needs a checkpoint, {model} is a {model.suffix} file")
        return model
    if not is_checkpoint:
        return model
    from disdepth_core.export.onnx_export import export_onnx

    onnx_path = tmp / f"{model.stem}.onnx"
    if not onnx_path.exists():
        print(f"exporting {model} to a temporary ONNX for {backend}")
        export_onnx(model, onnx_path, input_hw, log=lambda _msg: None)
    if backend in ("onnxruntime", "openvino"):
        return onnx_path
    from disdepth_core.runtime.tensorrt_build import build_engine

    engine = tmp / f"{model.stem}.engine"
    build_engine(onnx_path, engine)
    return engine


def _runtime_options(backend: str, threads: int, args: argparse.Namespace | None = None) -> dict[str, Any]:
    """Backend options from the command line; a speed option the backend does not have is an error, not ignored."""
    from . import UserError

    options: dict[str, Any] = {}
    if threads and backend in ("onnxruntime", "openvino"):
        options["threads"] = threads
    if args is None:
        return options
    precision = getattr(args, "precision", "fp32")
    torch_only = [flag for flag, on in (("--channels-last", getattr(args, "channels_last", False)),
                                        ("--cuda-graph", getattr(args, "cuda_graph", False)),
                                        ("--compile", getattr(args, "compile", False))) if on]
    if backend == "torch":
        options.update(precision=precision, channels_last=bool(getattr(args, "channels_last", False)),
                       cuda_graph=bool(getattr(args, "cuda_graph", False)), compile=bool(getattr(args, "compile", False)))
        return options
    if torch_only:
        raise UserError(f"{', '.join(torch_only)} apply to the torch backend only, not {backend}")
    if backend == "openvino":
        options["precision"] = precision  # the backend refuses fp16 with its own message
    elif precision != "fp32":
        raise UserError(f"--precision {precision} applies to the torch and openvino backends, not {backend} "
                        "(TensorRT precision is chosen when the engine is built: disdepth export --precision)")
    return options


def run(args: argparse.Namespace) -> int:
    from .files import require_file

    model = require_file(args.model)  # before the heavy imports below
    from disdepth_core.runtime import load_runtime
    from disdepth_core.runtime.benchmark import benchmark_runtime
    from disdepth_core.runtime.loader import backend_for_path
    from disdepth_core.runtime.preprocess import choose_input_size, preprocess_rgb

    from . import UserError
    from .info import parse_hw

    backends = [b.strip() for b in args.compare.split(",") if b.strip()] if args.compare is not None else [args.backend]
    if not backends:
        raise UserError(f"--compare {args.compare!r} names no backend: nothing to benchmark; give a comma-separated list, "
                        f"e.g. --compare torch,onnxruntime (from {', '.join(BACKEND_CHOICES[1:])})")
    unknown = [b for b in backends if b not in BACKEND_CHOICES]
    if unknown:
        raise UserError(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKEND_CHOICES[1:])}")
    backends = [backend_for_path(model) if b == "auto" else b for b in backends]
    override = parse_hw(args.input_size) if args.input_size else None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rgb = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    results = []
    with tempfile.TemporaryDirectory(prefix="disdepth-bench-") as tmp:
        for backend in backends:
            path = _artifact_for(model, backend, override, Path(tmp))
            with load_runtime(path, backend=backend, device=args.device, **_runtime_options(backend, args.threads, args)) as runtime:
                input_hw = choose_input_size(runtime.input_spec, runtime.metadata, override)
                batch, _ = preprocess_rgb(rgb, input_hw, runtime.metadata)
                result = benchmark_runtime(runtime, batch, iters=args.iters, warmup=args.warmup)
                depth = runtime.infer(batch)
            results.append((backend, input_hw, result, depth))
            _print_result(backend, input_hw, result)
    if len(results) > 1:
        _print_comparison(results)
    return 0


def _print_result(backend: str, input_hw: tuple[int, int], result: Any) -> None:
    print(f"== {backend} @ {input_hw[0]}x{input_hw[1]} ({len(result.latencies_ms)} iters)")
    for key, value in result.details.items():
        print(f"   {key:<14} {value}")
    print(f"   latency ms     p50 {result.p50:.2f}  p95 {result.p95:.2f}  p99 {result.p99:.2f}  mean {result.mean:.2f}")
    print(f"   throughput     {result.fps:.1f} FPS")
    print(f"   peak RSS       +{result.peak_rss_delta_mb:.1f} MB")
    if result.cuda_max_allocated_mb is not None:
        print(f"   CUDA max alloc {result.cuda_max_allocated_mb:.1f} MB")


def _print_comparison(results: list[tuple[str, tuple[int, int], Any, np.ndarray]]) -> None:
    first_name, _, first, first_depth = results[0]
    print(f"\nbackend          p50 ms   speed-up vs {first_name}   max |depth diff| m")
    for name, _, result, depth in results:
        diff = float(np.abs(depth - first_depth).max()) if depth.shape == first_depth.shape else float("nan")
        print(f"{name:<16} {result.p50:7.2f}   {first.p50 / result.p50:8.2f}x        {diff:.2e}")
