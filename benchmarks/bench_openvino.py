"""OpenVINO vs ONNX Runtime on the CPU, and whether an fp32 bins head rescues bf16 (issue 10, section 3).

``python benchmarks/bench_openvino.py [--model models/demo/model.pt] [--sizes 480x640,352x1216] [--iters 10] [--threads 2]``

The checkpoint (default: the bundled demo model, max depth 10 m) is exported once per size to
a temporary ONNX. Every variant runs on the same real RGB frames from ``shared/realdata``
(random pixels when that folder is absent), all with the same thread count, in one run:

* ONNX Runtime fp32 (the reference the errors are measured against);
* OpenVINO fp32; OpenVINO bf16 everywhere (its CPU default on bf16 hardware); OpenVINO bf16
  body + fp32 bins head (``load_runtime(..., backend="openvino", precision="bf16")``).

Variants are timed round-robin (one run of each per iteration) so load drift on a shared
machine hits all of them alike. It prints p50/mean latency over ``--iters`` runs, the speed-up vs ONNX Runtime, and the depth
error vs ONNX Runtime (mean, p99, max in metres and the mean as a share of max depth), plus
whether this CPU has native bf16. The bf16 option is offered because its mean error stays
below 1% of max depth while keeping most of bf16's speed-up; this script is the evidence.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def real_frames(height: int, width: int, count: int = 4) -> tuple[list, str]:
    """RGB uint8 frames resized to HxW from shared/realdata, else random pixels; plus a description."""
    import cv2
    import numpy as np

    roots = [REPO.parent / "shared" / "realdata", REPO.parent.parent / "shared" / "realdata"]
    root = next((r for r in roots if r.is_dir()), None)
    names = []
    if root is not None:
        names = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".ppm")
                       and any(k in p.name.lower() for k in ("rgb", "color", "kitti")))
    frames = []
    for path in names:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            frames.append(cv2.resize(image[:, :, ::-1], (width, height), interpolation=cv2.INTER_AREA))
        if len(frames) == count:
            break
    if not frames:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)], "random pixels"
    return frames, f"{len(frames)} real frames from {root}"


class AllBf16:
    """OpenVINO with the bf16 hint on every op (its CPU default on bf16 hardware): measured, never offered."""

    def __init__(self, onnx_path: Path, threads: int, metadata) -> None:
        import openvino as ov

        core = ov.Core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "bf16"}
        self.request = core.compile_model(core.read_model(str(onnx_path)), "CPU", config).create_infer_request()
        self.metadata = metadata

    def infer(self, batch):
        self.request.infer({0: batch})
        return self.request.get_output_tensor(0).data.copy()

    def close(self) -> None:
        self.request = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "demo" / "model.pt"))
    parser.add_argument("--sizes", default="480x640,352x1216")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import openvino as ov

    from disdepth_core.export.onnx_export import export_onnx
    from disdepth_core.runtime import load_runtime
    from disdepth_core.runtime.preprocess import preprocess_rgb

    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    print(f"OpenVINO {ov.__version__}, CPU {ov.Core().get_property('CPU', 'FULL_DEVICE_NAME')}, native bf16: "
          f"{'BF16' in capabilities}; {args.threads} threads; {args.iters} timed runs after {args.warmup} warm-up each")
    rows = ["| input | variant | p50 ms | mean ms | vs ORT | mean err m | p99 err m | max err m | mean err / max depth |",
            "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="disdepth-ov-") as tmp:
        for size in args.sizes.split(","):
            height, width = (int(v) for v in size.split("x"))
            onnx_path = Path(tmp) / f"model_{height}x{width}.onnx"
            export_onnx(args.model, onnx_path, (height, width), log=lambda _m: None)
            frames, source = real_frames(height, width)
            variants = [("ONNX Runtime fp32", dict(backend="onnxruntime", device="cpu", threads=args.threads)),
                        ("OpenVINO fp32", dict(backend="openvino", threads=args.threads)),
                        ("OpenVINO bf16 everywhere", None),
                        ("OpenVINO bf16 + fp32 head", dict(backend="openvino", threads=args.threads, precision="bf16"))]
            print(f"\n{height}x{width}: {source}")
            runtimes = []
            reference_metadata = None
            for label, options in variants:
                runtime = AllBf16(onnx_path, args.threads, reference_metadata) if options is None else load_runtime(onnx_path, **options)
                reference_metadata = reference_metadata or runtime.metadata
                batches = [preprocess_rgb(frame, (height, width), runtime.metadata)[0] for frame in frames]
                runtimes.append((label, runtime, batches, np.stack([runtime.infer(b) for b in batches])))
            # Round-robin timing: on a shared machine load drifts, and every variant sees the same drift.
            times: dict[str, list[float]] = {label: [] for label, *_ in runtimes}
            for iteration in range(args.warmup + args.iters):
                for label, runtime, batches, _ in runtimes:
                    start = time.perf_counter()
                    runtime.infer(batches[0])
                    if iteration >= args.warmup:
                        times[label].append((time.perf_counter() - start) * 1e3)
            reference = runtimes[0][3]
            base_p50 = statistics.median(times[runtimes[0][0]])
            max_depth = reference_metadata.max_depth
            for label, runtime, _, depths in runtimes:
                p50, mean = statistics.median(times[label]), statistics.mean(times[label])
                errors = np.abs(depths - reference).ravel()
                row = (f"| {height}x{width} | {label} | {p50:.1f} | {mean:.1f} | {base_p50 / p50:.2f}x | {errors.mean():.4f} | "
                       f"{np.percentile(errors, 99):.4f} | {errors.max():.4f} | {errors.mean() / max_depth * 100:.3f}% |")
                rows.append(row)
                print(row, flush=True)
                runtime.close()
    print("\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
