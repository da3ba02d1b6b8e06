"""End-to-end latency camera -> /depth/image through the real node subprocess, and its memory.

Phase 1: a 30 Hz publisher (640x480 by default) for ``--seconds``; latency = receive time -
image stamp (same host clock), reported p50/p99 with the node's own diagnostics stages.
Phase 2: ``--frames`` small frames published as fast as possible (the node drops what it cannot
process); VmRSS of the node process is read from /proc at start and end of the phase.

    python benchmarks/bench_node_latency.py [--model PATH] [--seconds 10] [--frames 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--size", default="480x640", help="HxW of the latency phase frames")
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from bench_node import resolve_bench_model
    from disdepth_core.cli.info import parse_hw
    from disdepth_core.data.synthetic import render_frame
    from disdepth_ros.stream_client import CameraClient, NodeProcess, unique_domain_id

    tmp = tempfile.TemporaryDirectory()
    model, label = resolve_bench_model(args.model, Path(tmp.name))
    height, width = parse_hw(args.size)
    frame = render_frame("nyu", 0, 0, height, width)
    domain = unique_domain_id(77)
    proc = NodeProcess(domain, {"model_path": model, "device": "cpu", "publish_points": True})
    client = CameraClient(domain)
    try:
        assert client.wait_for_node(120), "node did not start"
        client.publish_until(lambda: bool(client.received["depth"]), frame.rgb, frame.K, timeout=60)
        client.received["depth"].clear()
        sent = 0
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            client.publish(frame.rgb, frame.K)
            sent += 1
            client.spin_until(lambda: False, max(0.0, start + sent / args.rate - time.monotonic()))
        client.spin_for(2.0)
        latency = np.array([t - (m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec) for t, m in client.received["depth"]])
        diag = client.diagnostics()
        result = {"model": label, "size": args.size, "rate_hz": args.rate, "sent": sent, "received": len(latency),
                  "latency_p50_ms": float(np.percentile(latency, 50) * 1e3), "latency_p99_ms": float(np.percentile(latency, 99) * 1e3),
                  "node_diagnostics": {k: v for k, v in diag.items() if "latency" in k or "rate" in k or "dropped" in k}}
        small = render_frame("nyu", 0, 1, 48, 64)
        rss_start = proc.rss_kb()
        t0 = time.monotonic()
        for i in range(args.frames):
            client.publish(small.rgb, small.K)
            if i % 20 == 0:
                client.executor.spin_once(timeout_sec=0)
        client.spin_for(2.0)
        rss_end = proc.rss_kb()
        result.update(rss_frames=args.frames, rss_phase_s=time.monotonic() - t0, rss_start_mb=rss_start / 1024,
                      rss_end_mb=rss_end / 1024, rss_growth_mb=(rss_end - rss_start) / 1024,
                      node_received=client.diagnostics().get("frames received"), node_dropped=client.diagnostics().get("frames dropped"))
    finally:
        client.close()
        rc, _, err = proc.stop()
        result_rc = rc
    result["node_exit_code"] = result_rc
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
