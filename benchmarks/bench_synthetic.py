"""Single-core throughput of the synthetic RGB-D generator (render only, and render + write).

Why single core: dataset generation is meant to run beside training on small CI boxes,
so the budget (>= 20 frames/s at 640x480) is stated per core.  Thread env vars must be
set before numpy/cv2 are imported, hence the unusual import order.

    python benchmarks/bench_synthetic.py --frames 60 --kind both
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402

cv2.setNumThreads(1)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disdepth_core.synthetic.dataset_writer import generate_dataset  # noqa: E402
from disdepth_core.synthetic.render import render_frame  # noqa: E402


def bench_render(kind: str, frames: int, height: int, width: int) -> float:
    """Frames/s of ``render_frame`` over distinct scenes and frame indices."""
    render_frame(kind, 10_000, 0, height, width)  # warm caches outside the timing
    start = time.perf_counter()
    for i in range(frames):
        render_frame(kind, i // 5, i % 5, height, width)
    return frames / (time.perf_counter() - start)


def bench_write(kind: str, frames: int, height: int, width: int) -> float:
    """Frames/s of ``generate_dataset`` (render + encode + write) into a temp dir."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_dataset(tmp, kind, frames, 0, seed=1, height=height, width=width, frames_per_scene=5, progress=False)
        return frames / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--kind", choices=("nyu", "kitti", "both"), default="both")
    args = parser.parse_args(argv)
    kinds = ("nyu", "kitti") if args.kind == "both" else (args.kind,)
    print(f"synthetic generator, 1 thread, {args.width}x{args.height}, {args.frames} frames per measurement")
    print(f"{'kind':<6} {'render fps':>11} {'render+write fps':>17} {'ms/frame (render)':>18}")
    for kind in kinds:
        render_fps = bench_render(kind, args.frames, args.height, args.width)
        write_fps = bench_write(kind, args.frames, args.height, args.width)
        print(f"{kind:<6} {render_fps:>11.1f} {write_fps:>17.1f} {1000.0 / render_fps:>18.1f}")


if __name__ == "__main__":
    main()
