"""Health bookkeeping for the depth node: latency percentiles, rates, and the status verdict.

Pure python (no rclpy) so it is unit-tested directly; the node turns :class:`HealthReport`
into a ``diagnostic_msgs/DiagnosticStatus``. Ring buffers keep memory constant however long
the node runs; percentiles use the recent window so a slow start does not haunt p95 forever.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Optional

OK, WARN, ERROR = 0, 1, 2
STAGES = ("decode", "preprocess", "inference", "postprocess", "pointcloud", "publish", "end_to_end")
OUTSIDE_INFERENCE = ("decode", "preprocess", "postprocess", "pointcloud", "publish")
# Per-frame totals outside the forward pass: wall clock, and the inference thread's CPU time.
OVERHEAD_KEYS = {"outside_inference": "outside inference ms p50/p95/max",
                 "outside_inference_cpu": "outside inference CPU ms p50/p95/max"}


class LatencyStats:
    """The last ``size`` samples (seconds) per stage; thread-safe ``add``/``summary``."""

    def __init__(self, stages: Iterable[str] = STAGES + tuple(OVERHEAD_KEYS), size: int = 300) -> None:
        self._lock = threading.Lock()
        self._samples = {stage: deque(maxlen=size) for stage in stages}

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._samples.setdefault(stage, deque(maxlen=300)).append(float(seconds))

    def add_many(self, timings: dict[str, float]) -> None:
        with self._lock:
            for stage, seconds in timings.items():
                self._samples.setdefault(stage, deque(maxlen=300)).append(float(seconds))

    def summary(self, stage: str) -> Optional[dict[str, float]]:
        """p50/p95/max in milliseconds over the window, or None without samples."""
        with self._lock:
            values = sorted(self._samples.get(stage, ()))
        if not values:
            return None
        return {"p50": 1e3 * percentile(values, 50), "p95": 1e3 * percentile(values, 95), "max": 1e3 * values[-1]}


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile of an already sorted non-empty list (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


class RateMeter:
    """Events per second over a sliding ``window`` (seconds); ``clock`` injectable for tests."""

    def __init__(self, window: float = 2.0, clock=time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._times: deque = deque()
        self.count = 0
        self._start = clock()

    def tick(self) -> None:
        now = self._clock()
        with self._lock:
            self._times.append(now)
            self.count += 1
            self._trim(now)

    def rate(self) -> float:
        now = self._clock()
        with self._lock:
            self._trim(now)
            span = min(self._window, max(now - self._start, 1e-9))
            return len(self._times) / span

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()


@dataclass
class HealthReport:
    level: int
    message: str
    values: list[tuple[str, str]] = field(default_factory=list)


def build_report(*, backend: str, model: str, input_size: str, input_rate: float, output_rate: float,
                 received: int, published: int, dropped: int, bad: int, bad_recent: int, errors_recent: int,
                 last_error: str, have_camera_info: bool, want_points: bool, latency: LatencyStats,
                 latency_budget_ms: float, expected_rate_hz: float, uptime: float,
                 warnings: Iterable[str] = ()) -> HealthReport:
    """The verdict: ERROR on failing frames, WARN on slow/missing input, budget, camera_info or ``warnings``
    (one line each, e.g. the scale anchor's fallback)."""
    level, reasons = OK, []
    if errors_recent:
        level = ERROR
        reasons.append(f"{errors_recent} frame(s) failed: {last_error}")
    warm = uptime > 3.0  # rates over a window that just started are meaningless
    if expected_rate_hz > 0 and warm:
        if input_rate < 0.5 * expected_rate_hz:
            reasons.append(f"input rate {input_rate:.1f} Hz below half the expected {expected_rate_hz:g} Hz")
        elif output_rate < 0.5 * expected_rate_hz:
            reasons.append(f"output rate {output_rate:.1f} Hz below half the expected {expected_rate_hz:g} Hz")
    if received == 0 and warm:
        reasons.append("no image received yet (check the topic remapping and input_qos)")
    e2e = latency.summary("end_to_end")
    if latency_budget_ms > 0 and e2e and e2e["p95"] > latency_budget_ms:
        reasons.append(f"end-to-end p95 latency {e2e['p95']:.0f} ms over budget {latency_budget_ms:g} ms")
    if not have_camera_info:
        reasons.append("no camera_info received: depth only, no point cloud" if want_points else "no camera_info received")
    if bad_recent:
        reasons.append(f"{bad_recent} bad input message(s) dropped")
    reasons.extend(warnings)
    if reasons and level == OK:
        level = WARN
    values = [("backend", backend), ("model", model), ("input size", input_size),
              ("input rate (Hz)", f"{input_rate:.2f}"), ("output rate (Hz)", f"{output_rate:.2f}"),
              ("frames received", str(received)), ("frames published", str(published)),
              ("frames dropped", str(dropped)), ("bad messages", str(bad)),
              ("camera_info", "yes" if have_camera_info else "no")]
    for stage in STAGES:
        stats = latency.summary(stage)
        if stats:
            values.append((f"{stage} latency ms p50/p95/max", f"{stats['p50']:.2f}/{stats['p95']:.2f}/{stats['max']:.2f}"))
    for key, label in OVERHEAD_KEYS.items():
        stats = latency.summary(key)
        if stats:
            values.append((label, f"{stats['p50']:.2f}/{stats['p95']:.2f}/{stats['max']:.2f}"))
    return HealthReport(level, "; ".join(reasons) if reasons else "OK", values)
