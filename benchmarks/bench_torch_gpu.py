"""The torch runtime's GPU fast path vs eager, beside the paper's latencies (issue 10, section 5).

``python benchmarks/bench_torch_gpu.py [--device cuda] [--iters 100] [--backbones efficientnet_b0,efficientnet_b3,resnet18]
[--sizes 352x1216,480x640] [--markdown docs/gpu_latency.md]``

For each student (with LG-Conv, random weights: latency does not depend on them) and input size it
times, through :class:`disdepth_core.runtime.torch_backend.TorchRuntime`'s own forward pass
(host->device copy excluded, batch 1, synchronised per iteration):

* eager fp32, eager fp16, graph fp32 (CUDA graph), graph fp16 + channels-last;
* the max depth difference of each mode vs eager fp32 (the acceptance bound is 1e-2 x max depth);
* for LG-Conv, eager fp32 with the reference branch vs the fused one, and without LG-Conv.

It prints one table (and writes it as Markdown with ``--markdown``), naming the GPU. On a CPU
it still runs (graphs fall back to eager with a message), which is how it is smoke-tested.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Paper latencies (ms) at the paper's (unstated) setting: Table 1 (KITTI), Table 2 (NYU), Table 8 (B0 without LG).
PAPER_MS = {("efficientnet_b0", "352x1216"): 6.7, ("efficientnet_b3", "352x1216"): 12.2, ("resnet18", "352x1216"): 5.0,
            ("efficientnet_b5", "352x1216"): 22.0, ("efficientnet_b0", "480x640"): 5.3, ("efficientnet_b5", "480x640"): 17.0}
PAPER_B0_NO_LG_MS = 5.2


def time_forward(forward, image, iters: int, warmup: int, device) -> tuple[float, object]:
    import torch

    times = []
    with torch.inference_mode():
        for index in range(warmup + iters):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            forward(image)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if index >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
        depth = forward(image).float().clone()
    return statistics.median(times), depth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--backbones", default="efficientnet_b0,efficientnet_b3,resnet18")
    parser.add_argument("--sizes", default="352x1216,480x640")
    parser.add_argument("--markdown", help="also write the table to this Markdown file")
    args = parser.parse_args()

    import torch

    from disdepth_core.models import build_model
    from disdepth_core.models.lgconv import set_lgconv_fused
    from disdepth_core.runtime.torch_fast_path import ForwardPass, GraphedForward

    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (no GPU: graphs fall back to eager)"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    header = (f"torch {torch.__version__} on {gpu}; batch 1, median of {args.iters} iterations after {args.warmup} warm-up, "
              "host<->device copies excluded")
    print(header)
    rows = ["| model | input | paper ms | eager fp32 | eager fp16 | graph fp32 | graph fp16+CL | speed-up | max diff fp16+CL (m) | "
            "LG ref eager | no LG eager |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for backbone in args.backbones.split(","):
        for size in args.sizes.split(","):
            height, width = (int(v) for v in size.split("x"))
            torch.manual_seed(0)
            model = build_model(backbone, lg_conv=True).eval().to(device)
            image = torch.randn(1, 3, height, width, device=device)
            results = {}
            modes = (("eager fp32", torch.float32, False, False), ("eager fp16", torch.float16, False, False),
                     ("graph fp32", torch.float32, False, True), ("graph fp16+CL", torch.float16, True, True))
            for label, dtype, channels_last, graph in modes:
                if dtype == torch.float16 and device.type != "cuda":
                    results[label] = (float("nan"), None)
                    continue
                net = model.to(dtype)
                net = net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
                forward = ForwardPass(net, dtype, channels_last)
                if graph:
                    forward = GraphedForward(forward, device, log=lambda m: print("   ", m))
                results[label] = time_forward(forward, image, args.iters, args.warmup, device)
                model = net.float().to(memory_format=torch.contiguous_format)
            reference_depth = results["eager fp32"][1]
            set_lgconv_fused(model, False)
            lg_reference_ms, _ = time_forward(ForwardPass(model, torch.float32, False), image, args.iters, args.warmup, device)
            set_lgconv_fused(model, True)
            torch.manual_seed(0)
            plain = build_model(backbone, lg_conv=False).eval().to(device)
            no_lg_ms, _ = time_forward(ForwardPass(plain, torch.float32, False), image, args.iters, args.warmup, device)
            best = results["graph fp16+CL"]
            diff = float((best[1] - reference_depth).abs().max()) if best[1] is not None else float("nan")
            speed = results["eager fp32"][0] / best[0] if best[1] is not None else float("nan")
            paper = PAPER_MS.get((backbone, size))
            line = (f"| {backbone} + LG | {size} | {paper if paper else '–'} | {results['eager fp32'][0]:.2f} | "
                    f"{results['eager fp16'][0]:.2f} | {results['graph fp32'][0]:.2f} | {best[0]:.2f} | {speed:.1f}x | {diff:.3f} | "
                    f"{lg_reference_ms:.2f} | {no_lg_ms:.2f} |")
            rows.append(line)
            print(line, flush=True)
            del model, plain
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print("\n".join([header, ""] + rows))
    print(f"paper Table 8: B0 without LG {PAPER_B0_NO_LG_MS} ms, with LG 6.7 ms; 'LG ref eager' = LG-Conv reference branch "
          "(before the fused path), 'eager fp32' uses the fused branch")
    if args.markdown:
        Path(args.markdown).write_text("\n".join([header, ""] + rows) + "\n")


if __name__ == "__main__":
    main()
