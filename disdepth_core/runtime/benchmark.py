"""The timing loop behind ``disdepth bench`` and ``benchmarks/``: pure and backend-agnostic.

It times ``runtime.infer`` (input checks included, since that is what the robot pays),
after a warm-up that absorbs lazy initialisation, and reports percentiles rather than a
mean because a robot's deadline is missed by the tail, not the average.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class BenchResult:
    """Latencies in milliseconds plus memory and backend facts."""

    latencies_ms: list[float]
    peak_rss_delta_mb: float = 0.0
    cuda_max_allocated_mb: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.latencies_ms, dtype=np.float64), q)) if self.latencies_ms else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def mean(self) -> float:
        return float(np.mean(self.latencies_ms)) if self.latencies_ms else float("nan")

    @property
    def fps(self) -> float:
        """Throughput at the median latency (batch of one, sequential)."""
        return 1000.0 / self.p50 if self.p50 > 0 else float("inf")


def peak_rss_mb() -> float:
    """Process peak resident memory in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cuda_stats(reset: bool) -> float | None:
    """torch CUDA max allocated (MB) when torch is already loaded and a GPU is in use."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    if reset:
        torch.cuda.reset_peak_memory_stats()
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 1e6


def benchmark_runtime(runtime: Any, batch: np.ndarray, iters: int = 50, warmup: int = 5,
                      clock: Callable[[], float] = time.perf_counter) -> BenchResult:
    """Run ``runtime.infer(batch)`` ``warmup`` + ``iters`` times and time the last ``iters``.

    ``runtime`` is anything with ``infer`` (a :class:`DepthRuntime`); ``describe()`` is
    recorded when present. ``clock`` is injectable so tests can check the arithmetic.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    rss_before = peak_rss_mb()
    _cuda_stats(reset=True)
    for _ in range(warmup):
        runtime.infer(batch)
    latencies = []
    for _ in range(iters):
        start = clock()
        runtime.infer(batch)
        latencies.append((clock() - start) * 1000.0)
    details = runtime.describe() if hasattr(runtime, "describe") else {}
    return BenchResult(latencies, max(0.0, peak_rss_mb() - rss_before), _cuda_stats(reset=False), details)
