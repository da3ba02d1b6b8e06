"""The node's malloc tuning: freed per-frame buffers are reused instead of page-faulted in anew.

Runs ``benchmarks/bench_malloc.py``'s worker: the bundled demo model, 10 forward passes on a worker
thread (as the node does) in a fresh process, counting the minor page faults they take. Untuned,
glibc hands PyTorch's multi-megabyte activations fresh mmaps and trims freed heap, so every frame
faults in (and zeroes) megabytes of new pages.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = argparse.Namespace(model=str(ROOT / "models" / "demo" / "model.pt"), size="120x160", frames=10, threads=1)


def _probe(mode: str, **env: str) -> tuple[str, int]:
    spec = importlib.util.spec_from_file_location("bench_malloc", ROOT / "benchmarks" / "bench_malloc.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run_once(mode, SETTINGS, env)
    return result["message"], int(result["faults"])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's; elsewhere the tuning is a no-op")
def test_tuning_stops_per_frame_page_faults():
    _, plain = _probe("default")
    message, tuned = _probe("tuned")
    assert message.startswith("malloc tuning on")
    assert plain > 10 * 500  # thousands of fresh pages per forward pass (measured: ~3,500)
    assert tuned < plain / 50  # measured: single digits


def test_switch_off_leaves_malloc_alone():
    message, faults = _probe("tuned", DISDEPTH_MALLOC_TUNING="off")
    assert message == "malloc tuning off (DISDEPTH_MALLOC_TUNING=off)"
    if platform.libc_ver()[0] == "glibc":
        assert faults > 10 * 500
