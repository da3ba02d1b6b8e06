"""LG-Conv cost before/after the fused inference path: op (kernel) counts and latency.

``python benchmarks/bench_lgconv.py [--backbone efficientnet_b0] [--input-size 176x608] [--iters 10] [--device cpu]``

For the student without LG-Conv, with LG-Conv on the reference path (the textbook form:
concat, three 1x1 convs, BatchNorm) and on the fused path (same maths regrouped), it prints:

* compute ops per forward pass from ``torch.profiler``: the innermost ATen ops that do arithmetic
  or copy memory (a proxy for kernel launches: pure view/allocation ops such as ``view``,
  ``transpose``, ``expand``, ``empty`` launch no kernel and are not counted), and on CUDA the
  number of GPU kernels actually launched;
* latency p50/mean over ``--iters`` timed runs after warm-up (the three variants round-robin, so
  load drift on a shared machine hits them alike), and the LG-Conv overhead vs no LG;
* the largest depth difference between the two LG paths.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VIEW_OPS = {"aten::view", "aten::reshape", "aten::_reshape_alias", "aten::transpose", "aten::permute", "aten::expand",
            "aten::slice", "aten::select", "aten::unsqueeze", "aten::squeeze", "aten::flatten", "aten::as_strided",
            "aten::t", "aten::detach", "aten::alias", "aten::_unsafe_view", "aten::expand_as", "aten::contiguous",
            "aten::lift_fresh", "aten::empty", "aten::empty_strided", "aten::resize_", "aten::narrow", "aten::split",
            "aten::chunk", "aten::unbind", "aten::size", "aten::stride", "aten::result_type", "aten::to", "aten::_to_copy",
            "aten::as_strided_", "aten::resolve_conj", "aten::resolve_neg", "aten::zeros", "aten::empty_like", "aten::new_empty"}


def compute_ops(event, counts: Counter) -> int:
    """Count the innermost non-view ATen ops under ``event`` (an op whose children are only views/allocations counts once)."""
    inner = sum(compute_ops(child, counts) for child in event.cpu_children)
    if inner == 0 and event.name.startswith("aten::") and event.name not in VIEW_OPS:
        counts[event.name] += 1
        return 1
    return inner


def leaf_ops(model, image, device: str) -> tuple[Counter, int | None]:
    """Compute-op counts of one forward (leaf ATen ops minus views) and CUDA kernel launches when on a GPU."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with torch.inference_mode():
        model(image)  # warm caches (folded LG-Conv constants, allocator) outside the profile
    with torch.inference_mode(), profile(activities=activities) as prof:
        model(image)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    events = prof.events()
    counts: Counter = Counter()
    kernels = 0 if device.startswith("cuda") else None
    for event in events:
        if getattr(event, "device_type", None) is not None and str(event.device_type).endswith("CUDA"):
            kernels += 1
            continue
        if event.cpu_parent is None:
            compute_ops(event, counts)
    return counts, kernels


def time_model(model, image, iters: int, warmup: int, device: str) -> list[float]:
    import torch

    times = []
    with torch.inference_mode():
        for index in range(warmup + iters):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(image)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if index >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet_b0")
    parser.add_argument("--input-size", default="176x608", help="HxW (default 176x608: half KITTI, CPU-friendly)")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    import torch

    from disdepth_core.models import build_model
    from disdepth_core.models.lgconv import set_lgconv_fused

    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.input_size.lower().split("x"))
    torch.manual_seed(0)
    plain = build_model(args.backbone, lg_conv=False).eval().to(args.device)
    torch.manual_seed(0)
    with_lg = build_model(args.backbone, lg_conv=True).eval().to(args.device)
    image = torch.randn(1, 3, height, width, device=args.device)
    print(f"{args.backbone} @ {height}x{width} on {args.device} ({torch.get_num_threads()} threads), {args.iters} timed iterations "
          f"after {args.warmup} warm-up, torch {torch.__version__}")
    branches = set_lgconv_fused(with_lg, False)
    torch.manual_seed(0)
    with_lg_fused = build_model(args.backbone, lg_conv=True).eval().to(args.device)
    variants = (("no LG-Conv", plain), ("LG reference", with_lg), ("LG fused", with_lg_fused))
    profiles = {label: leaf_ops(model, image, args.device) for label, model in variants}
    # Round-robin timing (one run of each variant per iteration): load drift on a shared machine hits all alike.
    times: dict[str, list[float]] = {label: [] for label, _ in variants}
    for index in range(args.warmup + args.iters):
        for label, model in variants:
            sample = time_model(model, image, 1, 0, args.device)
            if index >= args.warmup:
                times[label] += sample
    rows = []
    for label, model in variants:
        counts, kernels = profiles[label]
        with torch.inference_mode():
            depth = model(image)
        rows.append((label, sum(counts.values()), kernels, statistics.median(times[label]), statistics.mean(times[label]), depth,
                     counts))
    base_ops, base_p50 = rows[0][1], rows[0][3]
    print(f"LG-Conv branches: {branches}")
    print(f"{'path':<14} {'compute ops':>11} {'ops/branch':>10} {'GPU kernels':>11} {'p50 ms':>8} {'mean ms':>8} {'LG adds':>14}")
    for label, ops, kernels, p50, mean, _, _ in rows:
        per_branch = f"{(ops - base_ops) / branches:.1f}" if label != "no LG-Conv" else "-"
        added = f"+{p50 - base_p50:.1f} ms ({(p50 / base_p50 - 1) * 100:+.0f}%)" if label != "no LG-Conv" else "-"
        print(f"{label:<14} {ops:>11} {per_branch:>10} {kernels if kernels is not None else '-':>11} {p50:8.2f} {mean:8.2f} {added:>14}")
    diff = float((rows[1][5] - rows[2][5]).abs().max())
    print(f"max |depth(reference) - depth(fused)| = {diff:.2e} m (max depth {float(rows[1][5].max()):.2f} m)")
    for label, *_, counts in rows[1:]:
        extra = counts - rows[0][6]
        print(f"{label} ops added by LG-Conv: " + ", ".join(f"{name.removeprefix('aten::')} {n}" for name, n in extra.most_common()))


if __name__ == "__main__":
    main()
