"""What the node's malloc tuning buys: forward-pass time and page faults, tuned vs glibc defaults.

    python benchmarks/bench_malloc.py [--model models/demo/model.pt] [--size 120x160] [--frames 60] [--rounds 3] [--threads 1]

Each round starts two fresh processes, one with ``disdepth_core.malloc_tuning.retain_freed_memory()``
and one without (alternating which goes first), that run the model ``--frames`` times on a worker
thread, as the node does, after 5 warm-up passes. Printed per process: forward-pass p50/p95 in ms and
minor page faults per frame; then the medians over the rounds and their ratio. The node applies the
tuning at start-up (``DISDEPTH_MALLOC_TUNING=off`` disables it); see docs/ros.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKER = """
import json, resource, sys, threading, time
from disdepth_core.malloc_tuning import retain_freed_memory
mode, model, height, width, frames, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
message = retain_freed_memory() if mode == "tuned" else "glibc defaults"
import numpy as np, torch
if threads:
    torch.set_num_threads(threads)
from disdepth_core.runtime import load_runtime
runtime = load_runtime(model, device="cpu")
batch = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
result = {}
def run():
    for _ in range(5):
        runtime.infer(batch)
    times = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(frames):
        start = time.perf_counter()
        runtime.infer(batch)
        times.append(1e3 * (time.perf_counter() - start))
    result.update(times=times, faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
worker = threading.Thread(target=run)
worker.start()
worker.join()
print(json.dumps({"mode": mode, "message": message, **result}))
"""


def run_once(mode: str, args: argparse.Namespace, env_overrides: dict[str, str] | None = None) -> dict:
    """One fresh process (``mode`` "tuned" or "default"): its message, per-frame times (ms) and page faults."""
    height, width = (int(v) for v in args.size.lower().split("x"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("DISDEPTH_MALLOC_TUNING", None)
    env.update(env_overrides or {})
    out = subprocess.run([sys.executable, "-c", WORKER, mode, args.model, str(height), str(width), str(args.frames),
                          str(args.threads)], capture_output=True, text=True, env=env, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from disdepth_core.arg_types import non_negative_int, positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "demo" / "model.pt"))
    parser.add_argument("--size", default="120x160", help="network input HxW")
    parser.add_argument("--frames", type=positive_int, default=60)
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--threads", type=non_negative_int, default=1, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args(argv)
    print(f"model {args.model}, input {args.size}, {args.frames} timed frames per process, {args.rounds} rounds, "
          f"threads {args.threads or 'default'}, {os.cpu_count()} CPUs")
    p50 = {"default": [], "tuned": []}
    faults = {"default": [], "tuned": []}
    for round_index in range(args.rounds):
        order = ("default", "tuned") if round_index % 2 == 0 else ("tuned", "default")
        for mode in order:
            result = run_once(mode, args)
            times = sorted(result["times"])
            median, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
            p50[mode].append(median)
            faults[mode].append(result["faults"] / args.frames)
            print(f"  round {round_index + 1} {mode:8s} p50 {median:7.2f} ms  p95 {p95:7.2f} ms  "
                  f"page faults/frame {result['faults'] / args.frames:8.1f}   ({result['message']})")
    default, tuned = statistics.median(p50["default"]), statistics.median(p50["tuned"])
    print(f"median over rounds: glibc defaults {default:.2f} ms, {statistics.median(faults['default']):.0f} faults/frame; "
          f"tuned {tuned:.2f} ms, {statistics.median(faults['tuned']):.1f} faults/frame; tuned/default time {tuned / default:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
