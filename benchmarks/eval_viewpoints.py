"""Held-out frames of a recording seen from other viewpoints: does a fine-tuned model read distance?

A model fine-tuned on one stretch of a room can learn that stretch's typical distance instead
of reading distance from the image: right on the recording, wrong a metre closer. This script
judges the last ``--val-fraction`` of a recording (the frames ``disdepth finetune`` holds out)
as recorded and from viewpoints the recording never had:

* ``zoom 1.5``: the frame's central two thirds as the whole frame, depth / 1.5 (1.5 x closer,
  no parallax);
* ``forward 0.6 m``, ``forward 1.2 m``, ``side 0.4 m``: the frame re-rendered from a camera moved
  forward, or sideways and turned back towards the room's centre, from its own depth (z-buffered
  points at half resolution; holes are inpainted in the image and left out of the score).

Each set is scored like the node runs (frame resized to the model input, no focal rescale, the
model's depth range), with the set constant (one median over the set's valid depth) beside it.

    python benchmarks/eval_viewpoints.py --model models/demo/model.pt --model runs/sun3d/model.pt \\
        [--recording ../shared/realdata/sun3d_3dmatch_fragment1] [--val-fraction 0.2]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VIEWS = {"forward 0.6 m": (0.0, 0.6, 0.0), "forward 1.2 m": (0.0, 1.2, 0.0), "side 0.4 m": (0.4, 0.0, -6.7)}  # right, forward, yaw


def zoomed(rgb: np.ndarray, depth: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    height, width = depth.shape
    h, w = int(round(height / zoom)), int(round(width / zoom))
    top, left = (height - h) // 2, (width - w) // 2
    return np.ascontiguousarray(rgb[top:top + h, left:left + w]), depth[top:top + h, left:left + w] / zoom


def moved(rgb: np.ndarray, depth: np.ndarray, K: np.ndarray, right: float, forward: float, yaw_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The view from a camera moved ``right``/``forward`` metres and turned by ``yaw_deg`` (half size)."""
    height, width = depth.shape[0] // 2, depth.shape[1] // 2
    v, u = np.nonzero(depth > 0)
    z = depth[v, u]
    points = np.stack([(u - K[0, 2]) * z / K[0, 0] - right, (v - K[1, 2]) * z / K[1, 1], z - forward])
    a = math.radians(yaw_deg)
    rotation = np.array([[math.cos(a), 0.0, -math.sin(a)], [0.0, 1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]])
    points = rotation @ points
    front = points[2] > 0.1
    points, colours = points[:, front], rgb[v[front], u[front]]
    x = np.round(points[0] / points[2] * K[0, 0] / 2 + (K[0, 2] + 0.5) / 2 - 0.5).astype(int)
    y = np.round(points[1] / points[2] * K[1, 1] / 2 + (K[1, 2] + 0.5) / 2 - 0.5).astype(int)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    order = np.argsort(-points[2][inside])  # far first: nearer points overwrite them
    x, y, z, colours = x[inside][order], y[inside][order], points[2][inside][order], colours[inside][order]
    out_depth = np.zeros((height, width), np.float32)
    out_rgb = np.zeros((height, width, 3), np.uint8)
    out_depth[y, x], out_rgb[y, x] = z, colours
    return cv2.inpaint(out_rgb, (out_depth == 0).astype(np.uint8), 3, cv2.INPAINT_TELEA), out_depth


def score(predictor, frames, lo: float, hi: float) -> tuple[dict, dict]:
    """Mean model metrics and set-constant metrics over ``frames`` ((rgb, depth) pairs)."""
    from disdepth_core.metrics import compute_depth_metrics, valid_gt_mask

    constant = float(np.median(np.concatenate([d[valid_gt_mask(d, lo, hi)] for _, d in frames])))
    model = [compute_depth_metrics(predictor(rgb, None), d, lo, hi, None) for rgb, d in frames]
    const = [compute_depth_metrics(np.full_like(d, constant), d, lo, hi, None) for _, d in frames]
    mean = lambda rows: {k: float(np.mean([r[k] for r in rows])) for k in ("abs_rel", "d1")}  # noqa: E731
    return mean(model), mean(const)


def main(argv: list[str] | None = None) -> int:
    from disdepth_core.data.frame_cache import HELDOUT, split_labels
    from disdepth_core.data.realdata import find_realdata_root
    from disdepth_core.data.recordings import RecordingOptions, open_recording
    from disdepth_core.rgbd_recording import RgbdFrame
    from disdepth_core.evaluation import Predictor
    from disdepth_core.runtime import load_runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="model file (repeatable)")
    parser.add_argument("--recording", default=None, help="image folder or bag (default: shared/realdata/sun3d_3dmatch_fragment1)")
    parser.add_argument("--image-topic", default="")
    parser.add_argument("--depth-topic", default="")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)
    recording = args.recording
    if recording is None:
        root = find_realdata_root(Path(__file__).resolve().parents[1])
        recording = root / "sun3d_3dmatch_fragment1" if root else None
    if recording is None or not Path(recording).exists():
        print("error: recording not found; pass --recording or set DISDEPTH_REALDATA", file=sys.stderr)
        return 2
    with open_recording(recording, RecordingOptions(args.image_topic, args.depth_topic)) as source:
        frames = [f for f in source.frames() if isinstance(f, RgbdFrame)]
    held = [f for f, label in zip(frames, split_labels(len(frames), args.val_fraction)) if label == HELDOUT]
    sets = {"held out": [(f.rgb, f.depth) for f in held], "zoom 1.5": [zoomed(f.rgb, f.depth, 1.5) for f in held]}
    sets |= {name: [moved(f.rgb, f.depth, f.K, *motion) for f in held] for name, motion in VIEWS.items()}
    print(f"{recording}: {len(held)} held-out frames of {len(frames)}; abs_rel / d1, node defaults")
    print("| model | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets))
    constants = None
    for path in args.model:
        runtime = load_runtime(path, backend="torch", device="cpu")
        lo, hi = runtime.metadata.min_depth, runtime.metadata.max_depth
        results = {name: score(Predictor(runtime), items, lo, hi) for name, items in sets.items()}
        constants = {name: r[1] for name, r in results.items()}
        print(f"| {path} | " + " | ".join(f"{r[0]['abs_rel']:.3f} / {r[0]['d1']:.3f}" for r in results.values()) + " |")
    print("| set constant | " + " | ".join(f"{c['abs_rel']:.3f} / {c['d1']:.3f}" for c in constants.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
