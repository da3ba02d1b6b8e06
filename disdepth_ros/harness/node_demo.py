"""The ROS demo: the real depth node on a synthetic camera stream, with ground truth.

Starts ``python -m disdepth_ros.depth_node`` (what users run), plays a pre-rendered synthetic
room sequence with its camera_info at ``rate_hz`` from a separate "camera" node, records
``/depth/image``, ``/depth/points`` and ``/diagnostics``, and reports latency (the node's own
per-stage figures and end-to-end measured here) and accuracy against the ground truth. Writes
``node_demo.png`` (RGB | depth | GT | error) and ``node_demo.ply`` (the received coloured cloud).

    python -m disdepth_ros.harness.node_demo --stream [--frames 30] [--rate 10] [--model PATH] [--out outputs]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from disdepth_core.geometry import write_ply
from disdepth_core.output_paths import check_output_folder, paths_beside_earlier_run

# The files the demo writes into its --out folder.
NODE_DEMO_OUTPUTS = ("node_demo.png", "node_demo.ply", "node_demo.json")


def _model_range(model_path: str) -> tuple[float, float]:
    from disdepth_core.runtime import load_runtime

    runtime = load_runtime(model_path, device="cpu")
    try:
        return runtime.metadata.min_depth, runtime.metadata.max_depth
    finally:
        runtime.close()


def run_node_demo(model_path: Optional[str], frames: int = 30, rate_hz: float = 10.0, out_dir: Path = Path("outputs"),
                  seed: int = 0, height: int = 480, width: int = 640, verbose: bool = True, backend: str = "auto") -> dict[str, Any]:
    """Run the node on ``frames`` synthetic frames at ``rate_hz``; returns figures and file paths.

    ``backend`` is the node's parameter: ``auto`` runs a checkpoint on the fast CPU path where there
    is no CUDA, ``torch`` forces PyTorch (``--backend torch,auto`` compares both in one run).
    """
    import cv2

    from disdepth_core.synthetic.render import render_frame
    from disdepth_core.image_decoding import image_to_depth
    from disdepth_core.message_layout import cloud_to_arrays
    from disdepth_core.metrics import EmptyMaskError, compute_depth_metrics, format_metrics_table
    from disdepth_core.visualize import comparison_panel

    from .camera_client import CameraClient
    from .node_process import NodeProcess, unique_domain_id

    say = print if verbose else (lambda *a, **k: None)
    # Before the node starts: --out must be a folder it can write; an earlier demo's files are kept.
    out_dir = check_output_folder(out_dir, "--out", [("--model", model_path)])
    paths, note = paths_beside_earlier_run(out_dir, NODE_DEMO_OUTPUTS)
    if not model_path:
        from disdepth_core.bundled_models import DEMO_MODEL_FILE, find_demo_dir

        model_path = str(find_demo_dir() / DEMO_MODEL_FILE)
    min_depth, max_depth = _model_range(model_path)
    say(f"rendering {frames} synthetic frames ({width}x{height}) ...")
    stream = [render_frame("nyu", seed, i, height, width) for i in range(frames)]
    domain = unique_domain_id(99)
    # Reliable both ways: 1 MB images and 10 MB clouds over best effort lose fragments under load.
    params = {"model_path": model_path, "points_rgb": True, "input_qos": "reliable", "output_qos": "reliable", "backend": backend}
    proc = NodeProcess(domain, params)
    client = CameraClient(domain, input_qos="reliable", output_qos="reliable")
    sent: dict[tuple[int, int], int] = {}
    try:
        if not client.wait_for_node(120):
            raise RuntimeError("the depth node did not start: " + proc.stop()[2][-2000:])
        client.publish_until(lambda: bool(client.received["depth"]), stream[0].rgb, stream[0].K, timeout=90)
        for key in client.received:
            if key != "diagnostics":
                client.received[key].clear()
        say(f"node up (ROS_DOMAIN_ID={domain}); publishing {frames} frames at {rate_hz:g} Hz")
        start = time.monotonic()
        for i, frame in enumerate(stream):
            header = client.publish(frame.rgb, frame.K)
            sent[(header.stamp.sec, header.stamp.nanosec)] = i
            client.spin_until(lambda: False, max(0.0, start + (i + 1) / rate_hz - time.monotonic()))
        client.spin_until(lambda: len(client.received["depth"]) >= len(sent), 5.0)
        client.spin_for(1.2)  # one more diagnostics message
    finally:
        client.close()
        code, _, err = proc.stop()
    depth_msgs = [(t, m) for t, m in client.received["depth"] if (m.header.stamp.sec, m.header.stamp.nanosec) in sent]
    if not depth_msgs:
        raise RuntimeError("no depth image received from the node: " + err[-2000:])
    latency = np.array([t - (m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec) for t, m in depth_msgs]) * 1e3
    per_image = []
    for _, msg in depth_msgs:
        gt = stream[sent[(msg.header.stamp.sec, msg.header.stamp.nanosec)]].depth
        try:
            per_image.append(compute_depth_metrics(image_to_depth(msg), gt, min_depth, max_depth))
        except EmptyMaskError:
            continue
    metrics = {k: float(np.mean([m[k] for m in per_image])) for k in per_image[0]} if per_image else {}
    diag = client.diagnostics()

    out_dir.mkdir(parents=True, exist_ok=True)
    if note:
        say(note)
    png, ply = paths["node_demo.png"], paths["node_demo.ply"]
    last = depth_msgs[-1][1]
    frame = stream[sent[(last.header.stamp.sec, last.header.stamp.nanosec)]]
    panel = comparison_panel(frame.rgb, image_to_depth(last), frame.depth, min_depth, max_depth)
    cv2.imwrite(str(png), panel[..., ::-1])
    n_points = 0
    if client.received["points"]:
        xyz, rgb = cloud_to_arrays(client.received["points"][-1][1])
        n_points = write_ply(ply, xyz, rgb if rgb is not None else np.full(xyz.shape, 200, np.uint8))

    say(f"\nreceived {len(depth_msgs)}/{len(sent)} depth images (the node drops frames it cannot keep up with), "
        f"{len(client.received['points'])} clouds; node exit code {code}")
    say("latency (ms)              p50      p95      max")
    for key, value in diag.items():
        if key.endswith("latency ms p50/p95/max"):
            p50, p95, worst = value.split("/")
            say(f"  node {key.split(' latency')[0]:18s}{float(p50):8.1f} {float(p95):8.1f} {float(worst):8.1f}")
    say(f"  camera -> client      {np.percentile(latency, 50):8.1f} {np.percentile(latency, 95):8.1f} {latency.max():8.1f}")
    say(f"node backend: {diag.get('backend')} (backend parameter {backend}; a .pt with auto on a CPU runs the cached ONNX)")
    say(f"diagnostics: level {diag.get('level')} '{diag.get('message')}', dropped {diag.get('frames dropped')}")
    if metrics:
        say(f"accuracy vs synthetic ground truth ({len(per_image)} frames, depth range {min_depth:g}..{max_depth:g} m):")
        say(format_metrics_table(metrics))
    say(f"wrote {png} (RGB | depth | GT | error) and {ply} ({n_points} points)")
    result = {"model": model_path, "backend": diag.get("backend", backend), "sent": len(sent), "received": len(depth_msgs),
              "clouds": len(client.received["points"]),
              "latency_ms": {"p50": float(np.percentile(latency, 50)), "p95": float(np.percentile(latency, 95)),
                             "max": float(latency.max())},
              "diagnostics": diag, "metrics": metrics, "node_exit_code": code,
              "png": str(png), "ply": str(ply), "ply_points": n_points}
    paths["node_demo.json"].write_text(json.dumps(result, indent=2))
    return result


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="DisDepth ROS demo: the real node on a synthetic camera stream.")
    parser.add_argument("--stream", action="store_true", help="stream mode (the default and only mode here)")
    parser.add_argument("--model", default=None, help="model file (default: the bundled demo model)")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--rate", type=float, default=10.0, help="camera rate in Hz")
    parser.add_argument("--out", default="outputs")
    parser.add_argument("--backend", default="auto",
                        help="the node's backend; several, comma-separated (e.g. torch,auto), run one after the other and "
                             "their inference p50s are compared at the end")
    args = parser.parse_args(argv)
    runs = [(backend, run_node_demo(args.model, args.frames, args.rate, Path(args.out), backend=backend))
            for backend in args.backend.split(",")]
    if len(runs) > 1:
        print("\nnode inference p50 / p95 ms (its own stage timing), same stream, one run:")
        for backend, result in runs:
            print(f"  backend {backend:<6} ({result['backend']}): {result['diagnostics'].get('inference latency ms p50/p95/max', '?')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
