"""Is fine-tuning bounded by training, not by reading and decoding the recording? Throughput and shares.

Writes a synthetic rosbag2 (default 120 frames at 480x640: JPEG colour, 16UC1 depth, camera_info),
then runs the two stages of ``disdepth finetune`` with the demo model and times them:

* the frame cache: reading + pairing + decoding every frame once and storing it at training
  resolution (frames/s);
* training with the project's trainer: images/s, and inside it the time the loop waited for its
  batches (reading the cache, zoom/crop/flip/colour augmentation) against the whole step.

The share of reading and decoding is the cache stage's part of the run; the last line estimates
what decoding every training sample from the bag (no cache) would cost instead.

    python benchmarks/bench_finetune.py [--frames 120] [--iterations 30] [--size 480x640]
        [--storage sqlite3|mcap] [--topic compressed|raw] [--model models/demo/model.pt] [--device auto]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--size", default="480x640", help="HxW of the recorded frames")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    parser.add_argument("--topic", choices=("compressed", "raw"), default="compressed")
    parser.add_argument("--model", default=None, help="default: the bundled indoor demo model")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.frames < 12 or args.iterations < 2:
        parser.error("--frames must be >= 12 and --iterations >= 2")

    from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, IMAGE_TOPIC, write_synthetic_bag
    from disdepth_cli.info import parse_hw
    from disdepth_core.data.bag_dataset import ensure_frame_cache
    from disdepth_core.bundled_models import DEMO_MODEL_FILE, find_demo_dir
    from training.finetune.recipe import DataSpec, Recipe, finetune_config
    from training.finetune.run import parse_config
    from training.finetune.start_model import check_start_model
    from training.trainer import Trainer

    height, width = parse_hw(args.size)
    start = check_start_model(args.model or find_demo_dir() / DEMO_MODEL_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        bag = write_synthetic_bag(Path(tmp) / "bag", "nyu", frames=args.frames, height=height, width=width,
                                  storage=args.storage, rate_hz=30.0, progress=False)
        data = DataSpec([str(bag)], COMPRESSED_TOPIC if args.topic == "compressed" else IMAGE_TOPIC, DEPTH_TOPIC)
        cfg = parse_config(finetune_config(start, data, Recipe(iterations=args.iterations), Path(tmp) / "run"))
        t0 = time.perf_counter()
        cache = ensure_frame_cache(cfg.data, progress=False, log=lambda _: None)
        cache_s = time.perf_counter() - t0
        trainer = Trainer(cfg, device=args.device, progress=False)
        waited = [0.0]
        batches = trainer.batches

        def timed_batches():
            iterator = batches()
            while True:
                t = time.perf_counter()
                batch = next(iterator, None)
                waited[0] += time.perf_counter() - t
                if batch is None:
                    return
                yield batch

        trainer.batches = timed_batches
        t1 = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - t1
    frames, images = len(cache.frames), trainer.global_step * cfg.optim.batch_size
    decode_per_frame = cache_s / frames
    total = cache_s + train_s
    print(f"recording: {args.frames} frames {width}x{height}, {args.topic} colour, {args.storage}; model {start.path} "
          f"(input {start.input_hw[0]}x{start.input_hw[1]}), device {trainer.dist.device}")
    print(f"frame cache: {frames} frames read + paired + decoded + stored at {cache.size_hw[1]}x{cache.size_hw[0]} in "
          f"{cache_s:.2f} s ({frames / cache_s:.1f} frames/s, {1e3 * decode_per_frame:.1f} ms/frame)")
    print(f"training: {trainer.global_step} iterations x batch {cfg.optim.batch_size} = {images} images in {train_s:.2f} s: "
          f"{images / train_s:.1f} images/s; waiting for batches (cache read + augmentation) {waited[0]:.2f} s = "
          f"{100 * waited[0] / train_s:.1f} % of training")
    print(f"share of the run spent reading and decoding the recording: {100 * cache_s / total:.1f} % "
          f"({cache_s:.2f} of {total:.2f} s); without the cache, decoding every sample would add about "
          f"{images * decode_per_frame:.1f} s ({100 * images * decode_per_frame / train_s:.0f} % of the training time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
