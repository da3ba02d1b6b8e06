"""What the scale anchor adds to the node's frame: ``python benchmarks/bench_anchor.py [--repeats 200]``.

A synthetic 640x480 room, the demo model's 120x160 network grid and the simulated LiDAR band as a
16UC1 message (3 rows x 160 columns): the time the executor thread spends on each sparse_depth
message (decode + listing its returns), and the time the inference thread spends per frame on the
``sparse_depth`` and ``camera_height`` anchors (:func:`disdepth_core.scale_anchor.anchor_frame`),
p50 over ``--repeats`` calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def p50_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    from disdepth_core.message_layout import image_layout
    from disdepth_core.runtime.preprocess import make_transform
    from disdepth_core.scale_anchor import AnchorSettings, ScaleTracker, SparseSample, anchor_frame, sparse_from_message
    from disdepth_core.sparse_simulation import lidar_band_millimetres
    from disdepth_core.synthetic.render import render_frame

    frame = render_frame("nyu", 0, 0, 480, 640)
    transform = make_transform((480, 640), (120, 160))
    raw = (frame.depth[::4, ::4] * 0.7 + 0.01).astype(np.float32)  # a network depth off by a factor
    layout = image_layout(lidar_band_millimetres(np.where(frame.depth > 0, frame.depth, np.nan)), "16UC1")
    msg = SimpleNamespace(height=480, width=640, encoding="16UC1", is_bigendian=False, step=layout.step,
                          data=layout.pixels.tobytes())
    sample = SparseSample(sparse_from_message(msg), 0)
    sparse_tracker = ScaleTracker(AnchorSettings(mode="sparse_depth"))
    floor_tracker = ScaleTracker(AnchorSettings(mode="camera_height", camera_height=1.2))
    print(f"640x480 camera, 120x160 network, {len(sample.values)} sparse returns; p50 over {args.repeats} calls")
    print(f"  per sparse_depth message (executor thread): {p50_ms(lambda: SparseSample(sparse_from_message(msg), 0), args.repeats):.3f} ms")
    print(f"  per frame, sparse_depth anchor:            {p50_ms(lambda: anchor_frame(sparse_tracker, 0, sample, raw, transform, None), args.repeats):.3f} ms")
    print(f"  per frame, camera_height anchor:           {p50_ms(lambda: anchor_frame(floor_tracker, 0, None, raw, transform, frame.K), args.repeats):.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
