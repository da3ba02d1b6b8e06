"""Per-frame overhead of the depth node outside inference, at 640x480 and 1280x720.

Times exactly what the node runs (``FramePipeline`` + ``messages``): decode, preprocess,
postprocess, point cloud (xyz and xyzrgb), and the message fill, and reports their sum as a
fraction of the model's inference time. For contrast it times a per-pixel Python loop point
cloud on a small crop and extrapolates it to the full frame (a full-frame loop takes seconds).

    python benchmarks/bench_node.py [--model PATH] [--repeats 30] [--points-stride 0]

The cloud uses the node's default ``points_stride: 0`` (the network's output resolution) unless
``--points-stride`` says otherwise; the every-pixel cloud (stride 1) and its overhead are printed too.

Without --model the bundled demo model is used; if it is absent, a random-weight ghostnet
student at 240x320 input (the ``tiny_checkpoint`` recipe) is built and the output says so.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def build_fallback_model(folder: Path) -> Path:
    import torch

    from disdepth_core.models import build_model
    from disdepth_core.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_model("ghostnet_100", lg_conv=True, head={"n_bins": 32, "max_depth": 10.0})
    path = folder / "student.pt"
    meta = {"dataset": "nyu", "min_depth": 1e-3, "max_depth": 10.0, "train_focal": 518.8579, "train_input_size": [240, 320]}
    save_checkpoint(path, model, model.cfg, meta)
    return path


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def python_loop_cloud(depth: np.ndarray, K: np.ndarray) -> list:
    """The straightforward implementation the vectorised one replaces."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    points = []
    for v in range(depth.shape[0]):
        for u in range(depth.shape[1]):
            z = float(depth[v, u])
            points.append(((u - cx) * z / fx, (v - cy) * z / fy, z) if z > 0 else (float("nan"),) * 3)
    return points


def bench_size(pipeline, height: int, width: int, repeats: int, points_stride: int = 0) -> dict:
    from std_msgs.msg import Header

    from disdepth_core.synthetic.render import render_frame
    from disdepth_core import image_decoding
    from disdepth_ros import messages
    from disdepth_core.pipeline import PipelineConfig

    frame = render_frame("nyu", 0, 0, height, width)
    msg_rgb = messages.array_to_image(frame.rgb, "rgb8")
    msg_bgr = messages.array_to_image(np.ascontiguousarray(frame.rgb[..., ::-1]), "bgr8")
    header = Header(frame_id="cam")
    camera = (frame.K, (height, width))
    xyz_cfg = PipelineConfig(points_stride=points_stride)
    rgb_cfg = PipelineConfig(points_rgb=True, points_stride=points_stride)
    full_cfg = PipelineConfig(points_stride=1)
    runs = [pipeline.process_message(msg_rgb, camera, xyz_cfg).timings for _ in range(repeats)]
    stage = {k: 1e3 * statistics.median(r[k] for r in runs) for k in runs[0]}
    result = pipeline.process_message(msg_rgb, camera, rgb_cfg)
    depth, packed = result.depth, result.points.copy()
    packed_xyz = pipeline.make_points(result, xyz_cfg).copy()
    from disdepth_core.pipeline import byte_backed_float32

    packed_full = byte_backed_float32((height, width, 3))  # byte-backed like the node's buffer: the message adopts it
    packed_full[...] = pipeline.make_points(result, full_cfg)
    row = {
        "size": f"{width}x{height}",
        "cloud_stride": float(pipeline.points_stride(result, xyz_cfg)),
        "cloud_points": float(packed_xyz.shape[0] * packed_xyz.shape[1]),
        "decode_rgb8_ms": median_ms(lambda: image_decoding.image_to_rgb(msg_rgb), repeats),
        "decode_bgr8_ms": median_ms(lambda: image_decoding.image_to_rgb(msg_bgr), repeats),
        "preprocess_ms": stage["preprocess"], "inference_ms": stage["inference"], "postprocess_ms": stage["postprocess"],
        "cloud_xyz_ms": stage["pointcloud"],
        "cloud_xyzrgb_ms": median_ms(lambda: pipeline.make_points(result, rgb_cfg), repeats),
        "fill_depth_msg_ms": median_ms(lambda: messages.depth_to_image(depth, header, "32FC1"), repeats),
        "fill_cloud_xyz_msg_ms": median_ms(lambda: messages.points_to_cloud(packed_xyz, header, False), repeats),
        "fill_cloud_xyzrgb_msg_ms": median_ms(lambda: messages.points_to_cloud(packed, header, True), repeats),
        "cloud_xyz_every_pixel_ms": median_ms(lambda: pipeline.make_points(result, full_cfg), repeats),
        "fill_cloud_xyz_every_pixel_msg_ms": median_ms(lambda: messages.points_to_cloud(packed_full, header, False), repeats),
    }
    from sensor_msgs.msg import PointCloud2

    def fill_bytes():  # the naive path: with field checks on (always on in Humble) bytes are checked per element
        PointCloud2(check_fields=True).data = packed_full.tobytes()
    try:
        row["fill_cloud_xyz_via_bytes_checked_ms"] = median_ms(fill_bytes, 1)
    except TypeError:  # Humble's messages have no check_fields argument (and always check)
        pass
    crop = depth[:48, :64]
    row["python_loop_cloud_ms_extrapolated"] = median_ms(lambda: python_loop_cloud(crop, frame.K), 3) * depth.size / crop.size
    row["overhead_ms"] = (row["decode_rgb8_ms"] + row["preprocess_ms"] + row["postprocess_ms"] + row["cloud_xyz_ms"]
                          + row["fill_depth_msg_ms"] + row["fill_cloud_xyz_msg_ms"])
    row["overhead_xyzrgb_ms"] = (row["overhead_ms"] - row["cloud_xyz_ms"] - row["fill_cloud_xyz_msg_ms"]
                                 + row["cloud_xyzrgb_ms"] + row["fill_cloud_xyzrgb_msg_ms"])
    row["overhead_every_pixel_cloud_ms"] = (row["overhead_ms"] - row["cloud_xyz_ms"] - row["fill_cloud_xyz_msg_ms"]
                                            + row["cloud_xyz_every_pixel_ms"] + row["fill_cloud_xyz_every_pixel_msg_ms"])
    row["overhead_fraction_of_inference"] = row["overhead_ms"] / row["inference_ms"]
    return row


def resolve_bench_model(model: str | None, tmp_dir: Path) -> tuple[str, str]:
    """The given model, else the bundled demo model, else a random student (and say which)."""
    if model is not None:
        return model, "given model"
    try:
        from disdepth_core.bundled_models import DEMO_MODEL_FILE, find_demo_dir

        return str(find_demo_dir() / DEMO_MODEL_FILE), "bundled demo model"
    except FileNotFoundError:
        return str(build_fallback_model(tmp_dir)), "random ghostnet student at 240x320 (demo model absent)"


def main(argv: list[str] | None = None) -> int:
    from disdepth_core.arg_types import non_negative_int, positive_int

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=positive_int, default=30)
    parser.add_argument("--points-stride", type=non_negative_int, default=0, help="the node's points_stride (0 = auto, the network's resolution)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from disdepth_core.malloc_tuning import retain_freed_memory

    print(retain_freed_memory(), "(as in the node)")
    from disdepth_core.runtime import load_runtime
    from disdepth_core.pipeline import FramePipeline

    tmp = tempfile.TemporaryDirectory()
    model, label = resolve_bench_model(args.model, Path(tmp.name))
    runtime = load_runtime(model, backend="auto", device="cpu")
    pipeline = FramePipeline(runtime)
    print(f"model: {label} ({model}), {runtime.backend} on CPU, input {pipeline.input_hw[0]}x{pipeline.input_hw[1]}")
    rows = [bench_size(pipeline, h, w, args.repeats, args.points_stride) for h, w in ((480, 640), (720, 1280))]
    keys = [k for k in rows[0] if k != "size"]
    print(f"{'median ms':34s}" + "".join(f"{r['size']:>12s}" for r in rows))
    for key in keys:
        print(f"{key:34s}" + "".join(f"{r[key]:12.3f}" for r in rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": label, "rows": rows}, indent=2))
    runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
