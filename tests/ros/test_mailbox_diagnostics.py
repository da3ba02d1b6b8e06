"""Pure-python pieces of the node: newest-frame mailbox, latency stats, rates, status verdict."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from disdepth_ros.diagnostics import ERROR, OK, WARN, LatencyStats, RateMeter, build_report, percentile
from disdepth_ros.mailbox import LatestMailbox

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


def test_mailbox_keeps_newest_and_counts_drops():
    box = LatestMailbox()
    assert box.put(1) is False
    assert box.put(2) is True and box.put(3) is True
    assert box.get(timeout=0) == 3
    assert box.get(timeout=0.01) is None
    assert (box.dropped, box.received) == (2, 3)


def test_mailbox_get_wakes_on_put_and_close():
    # get() waits 60 s; waking well before that proves put()/close() wake it (no tight bound:
    # a busy 2-core CI machine may schedule the thread late).
    box = LatestMailbox()
    got = []
    worker = threading.Thread(target=lambda: got.append(box.get(timeout=60)))
    worker.start()
    time.sleep(0.05)
    start = time.monotonic()
    box.put("frame")
    worker.join(30)
    assert got == ["frame"] and time.monotonic() - start < 30
    worker = threading.Thread(target=lambda: got.append(box.get(timeout=60)))
    worker.start()
    time.sleep(0.05)
    start = time.monotonic()
    box.close()
    worker.join(30)
    assert not worker.is_alive() and got[-1] is None and time.monotonic() - start < 30
    box.put("late")
    assert box.get(timeout=0) is None


def test_percentiles_match_numpy_and_window_is_bounded():
    values = sorted(np.random.default_rng(1).random(101).tolist())
    for q in (0, 50, 95, 100):
        assert abs(percentile(values, q) - np.percentile(values, q)) < 1e-12
    stats = LatencyStats(size=10)
    for i in range(100):
        stats.add("inference", i / 1000.0)
    summary = stats.summary("inference")
    assert summary["max"] == 99.0 and summary["p50"] == 94.5  # only the last 10 samples
    assert stats.summary("publish") is None


def test_rate_meter_with_fake_clock():
    now = [0.0]
    meter = RateMeter(window=2.0, clock=lambda: now[0])
    for _ in range(40):
        now[0] += 0.05
        meter.tick()
    assert abs(meter.rate() - 20.0) < 1.0
    now[0] += 5.0
    assert meter.rate() == 0.0 and meter.count == 40


def _report(**overrides):
    stats = LatencyStats()
    stats.add("end_to_end", overrides.pop("e2e", 0.05))
    args = dict(backend="torch", model="m.pt", input_size="64x96", input_rate=30.0, output_rate=30.0, received=100,
                published=90, dropped=10, bad=0, bad_recent=0, errors_recent=0, last_error="", have_camera_info=True,
                want_points=True, latency=stats, latency_budget_ms=100.0, expected_rate_hz=30.0, uptime=10.0)
    args.update(overrides)
    return build_report(**args)


def test_report_levels_and_reasons():
    ok = _report()
    assert ok.level == OK and ok.message == "OK"
    keys = dict(ok.values)
    assert keys["frames dropped"] == "10" and "end_to_end latency ms p50/p95/max" in keys
    assert _report(have_camera_info=False).level == WARN
    slow = _report(e2e=0.5)
    assert slow.level == WARN and "over budget" in slow.message
    assert "input rate" in _report(input_rate=5.0).message
    assert "output rate" in _report(output_rate=5.0).message
    assert _report(input_rate=0.0, expected_rate_hz=0.0).level == OK
    assert "bad" in _report(bad_recent=2).message
    failed = _report(errors_recent=1, last_error="RuntimeError: x")
    assert failed.level == ERROR and "RuntimeError" in failed.message


def test_report_shows_the_per_frame_overhead_outside_inference_wall_and_cpu():
    stats = LatencyStats()
    for wall, cpu in ((0.004, 0.002), (0.006, 0.0025), (0.005, 0.003)):
        stats.add_many({"outside_inference": wall, "outside_inference_cpu": cpu, "inference_cpu": 0.05})
    keys = dict(_report(latency=stats).values)
    assert keys["outside inference ms p50/p95/max"] == "5.00/5.90/6.00"
    assert keys["outside inference CPU ms p50/p95/max"] == "2.50/2.95/3.00"
    assert not any(k.startswith("inference_cpu") for k in keys)  # the pipeline's helper figure is not a stage
