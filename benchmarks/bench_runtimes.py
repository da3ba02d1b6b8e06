"""ONNX Runtime (CPU) vs PyTorch eager (CPU) latency, recorded in one run on this machine.

Cases: the demo model (``models/demo/model.pt``, skipped with a note when absent) and an
EfficientNet-B0 student with LG-Conv (random weights: latency does not depend on them) at the
KITTI (352x1216) and NYU (480x640) test sizes. Both backends get 2 intra-op threads so the
comparison is about the engine, not the thread count. Prints a markdown table.

    .venv/bin/python benchmarks/bench_runtimes.py --iters 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEMO_MODEL = REPO / "models" / "demo" / "model.pt"
B0_SIZES = ((352, 1216), (480, 640))


def make_b0_checkpoint(folder: Path) -> Path:
    """A random-weight EfficientNet-B0 + LG-Conv student saved with KITTI-like metadata."""
    import torch

    from disdepth_core.models import build_model
    from disdepth_core.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_model("efficientnet_b0", lg_conv=True)
    path = folder / "efficientnet_b0_lg.pt"
    save_checkpoint(path, model, model.cfg, {"dataset": "kitti", "max_depth": 80.0, "train_input_size": [352, 1216]})
    return path


def bench_case(checkpoint: Path, input_hw: tuple[int, int] | None, folder: Path, iters: int, warmup: int, threads: int) -> dict:
    """Time the torch runtime and an ORT runtime on a static ONNX of the same checkpoint."""
    import numpy as np

    from disdepth_core.export.onnx_export import export_onnx
    from disdepth_core.runtime import load_runtime
    from disdepth_core.runtime.benchmark import benchmark_runtime
    from disdepth_core.runtime.preprocess import choose_input_size, preprocess_rgb

    torch_rt = load_runtime(checkpoint, backend="torch", device="cpu")
    input_hw = choose_input_size(torch_rt.input_spec, torch_rt.metadata, input_hw)
    onnx_path = folder / f"{checkpoint.stem}_{input_hw[0]}x{input_hw[1]}.onnx"
    export_onnx(checkpoint, onnx_path, input_hw, log=lambda _m: None)
    ort_rt = load_runtime(onnx_path, backend="onnxruntime", device="cpu", threads=threads)
    rgb = np.random.default_rng(0).integers(0, 256, (input_hw[0], input_hw[1], 3), dtype=np.uint8)
    batch, _ = preprocess_rgb(rgb, input_hw, torch_rt.metadata)
    torch_res = benchmark_runtime(torch_rt, batch, iters=iters, warmup=warmup)
    ort_res = benchmark_runtime(ort_rt, batch, iters=iters, warmup=warmup)
    return {"model": f"{torch_rt.metadata.architecture}{' +LG' if torch_rt.metadata.lg_conv else ''} ({checkpoint.name})",
            "size": f"{input_hw[0]}x{input_hw[1]}", "torch": torch_res.p50, "ort": ort_res.p50}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import onnxruntime
    import torch

    torch.set_num_threads(args.threads)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="disdepth-bench-") as tmp:
        folder = Path(tmp)
        if DEMO_MODEL.is_file():
            rows.append(bench_case(DEMO_MODEL, None, folder, args.iters, args.warmup, args.threads))
        else:
            notes.append(f"demo model skipped: {DEMO_MODEL.relative_to(REPO)} does not exist (run `disdepth demo` / train it first)")
        b0 = make_b0_checkpoint(folder)
        for size in B0_SIZES:
            rows.append(bench_case(b0, size, folder, args.iters, args.warmup, args.threads))
            print(f"done {size[0]}x{size[1]}", file=sys.stderr)
    print(f"torch {torch.__version__} eager CPU vs ONNX Runtime {onnxruntime.__version__} CPU, {args.threads} threads each, "
          f"{args.iters} timed iterations after {args.warmup} warm-up, batch 1, p50 latency\n")
    print("| model | size | torch ms p50 | ORT ms p50 | ratio (torch/ORT) |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['model']} | {row['size']} | {row['torch']:.1f} | {row['ort']:.1f} | {row['torch'] / row['ort']:.2f}x |")
    for note in notes:
        print(f"\nNote: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
