"""The node's malloc tuning: freed per-frame buffers are reused instead of page-faulted in anew."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = ROOT / "models" / "demo" / "model.pt"

# Runs the bundled demo model 10 times on a worker thread (as the node does) and prints the
# minor page faults those 10 forward passes took. Untuned, glibc hands PyTorch's multi-megabyte
# activations fresh mmaps and trims freed heap, so every frame faults in (and zeroes) ~14 MB.
PROBE = """
import resource, sys, threading
from disdepth_core.malloc_tuning import retain_freed_memory
print(retain_freed_memory() if sys.argv[1] == "tuned" else "untuned")
import numpy as np, torch
torch.set_num_threads(1)
from disdepth_core.runtime import load_runtime
runtime = load_runtime(sys.argv[2], device="cpu")
batch = np.random.default_rng(0).random((1, 3, 120, 160), dtype=np.float32)
faults = []
def frames():
    for _ in range(3):
        runtime.infer(batch)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        runtime.infer(batch)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
worker = threading.Thread(target=frames)
worker.start()
worker.join()
print(faults[0])
"""


def _probe(mode: str, **env: str) -> tuple[str, int]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    out = subprocess.run([sys.executable, "-c", PROBE, mode, str(DEMO_MODEL)], capture_output=True, text=True,
                         env=environment, timeout=300, check=True)
    message, faults = out.stdout.strip().splitlines()[-2:]
    return message, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's; elsewhere the tuning is a no-op")
def test_tuning_stops_per_frame_page_faults():
    _, plain = _probe("untuned")
    message, tuned = _probe("tuned")
    assert message.startswith("malloc tuning on")
    assert plain > 10 * 500  # thousands of fresh pages per forward pass (measured: ~3,500)
    assert tuned < plain / 50  # measured: single digits


def test_switch_off_leaves_malloc_alone():
    message, faults = _probe("tuned", DISDEPTH_MALLOC_TUNING="off")
    assert message == "malloc tuning off (DISDEPTH_MALLOC_TUNING=off)"
    if platform.libc_ver()[0] == "glibc":
        assert faults > 10 * 500
