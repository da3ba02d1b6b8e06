"""Training throughput (images/s) of student-only vs. distillation, measured in one run on the CPU.

    OMP_NUM_THREADS=1 python benchmarks/bench_distill_throughput.py [--steps 8] [--size 96x128] [--batch 8]

The CPU pair of training/configs/synthetic_distill_nyu.yaml (EfficientNet-B0 + LG student, tiny
Swin teacher) through the real :class:`training.trainer.Trainer` step (forward of every part, all
loss terms with KD active, backward, AdamW; the ghost decoder reads the student's live weights) on one fixed batch, so data
loading is not measured. The modes are interleaved step by step (round robin) so that a machine
shared with other jobs slows all of them alike and the ratios stay meaningful. Prints the median
step time, images/s, and the ratio to student-only, with the number of timed steps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODES = {"student only": None, "plain KD": "kd", "FAM + ghost": "fam", "DisDepth (FAM + ghost + LAM)": "disdepth"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per mode (after 2 warm-up steps)")
    parser.add_argument("--size", default="96x128", help="training crop HxW")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--teacher", default="", help="teacher checkpoint (default: a random tiny Swin)")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.lower().split("x"))

    from disdepth_core.synthetic.dataset_writer import generate_dataset
    from disdepth_core.models import build_model
    from disdepth_core.models.checkpoint import save_checkpoint
    from training.train_config import load_train_config
    from training.trainer import Trainer

    work = Path(tempfile.mkdtemp(prefix="bench_distill_"))
    generate_dataset(work, "nyu", n_train=max(args.batch, 8), n_test=2, seed=0, height=max(height, 120), width=max(width, 160),
                     frames_per_scene=4, progress=False)
    teacher = args.teacher
    if not teacher:
        model = build_model("swin_nano_patch4_window7", lg_conv=False, head={"max_depth": 10.0})
        teacher = str(work / "teacher.pt")
        save_checkpoint(teacher, model, model.cfg, {"max_depth": 10.0})
    nyu = work / "nyu"
    trainers = {}
    for label, method in MODES.items():
        sets = [f"data.data_root={nyu / 'train'}", f"data.test_data_root={nyu / 'test'}", "data.name=folder",
                f"data.train_split={nyu / 'splits' / 'train.txt'}", f"data.test_split={nyu / 'splits' / 'test.txt'}",
                "data.resize_scale=1.0", f"data.train_height={height}", f"data.train_width={width}",
                f"optim.batch_size={args.batch}", "optim.num_workers=0", f"log.out_dir={work / 'runs' / str(method)}",
                "log.tensorboard=false", f"distill.teacher_checkpoint={teacher}", "distill.kd_start_epoch=0"]
        sets += [f"distill.method={method}"] if method else ["distill.enabled=false"]
        cfg = load_train_config(REPO / "training" / "configs" / "synthetic_distill_nyu.yaml", sets)
        trainer = Trainer(cfg, device="cpu", progress=False)
        trainers[label] = (trainer, next(iter(trainer.loader)))
    times: dict[str, list[float]] = {label: [] for label in MODES}
    for step in range(args.steps + 2):
        for label, (trainer, batch) in trainers.items():
            start = time.perf_counter()
            trainer.step(batch, epoch=0)
            if step >= 2:
                times[label].append(time.perf_counter() - start)
    base = statistics.median(times["student only"])
    print(f"CPU training throughput, {args.batch} x {height}x{width}, torch threads {torch.get_num_threads()}, "
          f"{args.steps} timed steps per mode (interleaved), median:")
    print("| mode | s/step | images/s | x student-only time |\n|---|---:|---:|---:|")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"| {label} | {median:.3f} | {args.batch / median:.2f} | {median / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
