"""Is bag evaluation bounded by inference? Stage times of ``disdepth bag-eval`` on a synthetic bag.

Writes a synthetic rosbag2 (default 240 frames at 480x640: rgb8 + JPEG + camera_info + 16UC1
ground truth), runs the bag evaluator with the demo model on one image topic, and prints the
time per frame of each stage:

* overhead: reading + pairing (bag I/O, stamp matching), decoding (CDR deserialisation, JPEG or
  raw decode, depth decode), metrics (the protocol on the full-resolution frame). Reading and
  decoding run in a thread ahead of inference, so two figures: the work they cost, and what the
  evaluation loop actually waited (plus metrics), i.e. the overhead on the clock;
* inference: ``runtime.infer`` alone; pre/postprocess (resize, normalise, resize back) is the
  node's own pipeline work and is reported separately, not counted as overhead.

    python benchmarks/bench_bag_eval.py [--frames 240] [--size 480x640] [--storage sqlite3|mcap]
                                        [--topic compressed|raw] [--model PATH] [--backend auto]

Target (issue 8): overhead below 20% of inference time for the demo model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--size", default="480x640", help="HxW of the recorded frames")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    parser.add_argument("--topic", choices=("compressed", "raw"), default="compressed")
    parser.add_argument("--model", default=None, help="default: the bundled demo model")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--bag", default=None, help="reuse this synthetic bag instead of writing one")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    from disdepth_core.bags.bag_evaluation import BagEvalOptions, evaluate_bag
    from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, IMAGE_TOPIC, INFO_TOPIC, write_synthetic_bag
    from disdepth_cli.info import parse_hw
    from disdepth_core.bundled_models import DEMO_MODEL_FILE, find_demo_dir
    from disdepth_core.evaluation import Predictor
    from disdepth_core.runtime import load_runtime

    height, width = parse_hw(args.size)
    model = args.model or str(find_demo_dir() / DEMO_MODEL_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(args.bag) if args.bag else write_synthetic_bag(Path(tmp) / "bench", "nyu", frames=args.frames, height=height,
                                                                   width=width, storage=args.storage, progress=False)
        predictor = Predictor(load_runtime(model, backend=args.backend, device="cpu"))
        options = BagEvalOptions(image_topic=COMPRESSED_TOPIC if args.topic == "compressed" else IMAGE_TOPIC,
                                 depth_topic=DEPTH_TOPIC, info_topic=INFO_TOPIC, samples=0, progress=False)
        result = evaluate_bag(bag, [("model", predictor)], options)
    n = len(result.frames)
    stage = result.stage_s
    serial = stage["read"] + stage["decode"] + stage["metrics"]
    waited = stage["wait"] + stage["metrics"]  # what the evaluation loop spent outside the pipeline
    prepost = stage["predict"] - stage["inference"]
    per_frame = {k: 1e3 * v / n for k, v in stage.items()}
    figures = {
        "model": model, "backend": predictor.runtime.backend, "resolution": predictor.resolution, "frames": n,
        "frame_size": f"{height}x{width}", "storage": result.storage, "topic": options.image_topic,
        "ms_per_frame": {"read_and_pair": per_frame["read"], "decode": per_frame["decode"], "metrics": per_frame["metrics"],
                         "inference": per_frame["inference"], "pre_and_postprocess": 1e3 * prepost / n,
                         "loop_waited_for_reader": per_frame["wait"]},
        "overhead_work_ms_per_frame": 1e3 * serial / n,
        "overhead_work_fraction_of_inference": serial / stage["inference"],
        "overhead_wall_ms_per_frame": 1e3 * waited / n,
        "overhead_wall_fraction_of_inference": waited / stage["inference"],
        "wall_s": result.wall_s,
    }
    print(f"bag-eval stage times: {n} frames {height}x{width}, {result.storage}, {options.image_topic}; "
          f"model {model} ({figures['backend']}, {figures['resolution']}, CPU)")
    for name, value in figures["ms_per_frame"].items():
        print(f"  {name:26s}{value:8.2f} ms/frame")
    print(f"overhead work (read+pair+decode+metrics): {figures['overhead_work_ms_per_frame']:.2f} ms/frame = "
          f"{figures['overhead_work_fraction_of_inference']:.3f} of inference")
    print(f"overhead on the clock (reader runs ahead in a thread; loop waits + metrics): "
          f"{figures['overhead_wall_ms_per_frame']:.2f} ms/frame = {figures['overhead_wall_fraction_of_inference']:.3f} of inference "
          f"(target < 0.20); wall {result.wall_s:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
