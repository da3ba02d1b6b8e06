"""A CPU-sized paper Table 4 on synthetic indoor scenes: LG / KD / FAM / LAM ablation.

    OMP_NUM_THREADS=1 python benchmarks/ablation_table4.py [--rows teacher,no_lg,lg,kd,fam,fam_lam]

Every row trains an EfficientNet-B0 student from scratch with the same seed, data, crop and
budget (iterations, batch, LR schedule); the distillation rows use the tiny Swin teacher
trained first (row ``teacher``, three times the student budget, standing in for the paper's
converged Swin-L). Each run is a real ``python -m training.train`` process; the final metrics are
read from its ``last.pt``. Results accumulate in ``<out>/results.json`` (a row already there is
not re-run unless ``--force``), and the markdown table is printed at the end with wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "training" / "configs"

# Scaled from the paper (25 epochs, KD from epoch 7): 8 short epochs of 25 iterations, KD from epoch 2.
EPOCHS, ITERS_PER_EPOCH, WARMUP = 8, 25, 2
TEACHER_EPOCHS = 12  # x 30 it: 1.8x the student budget

ROWS: dict[str, dict] = {
    "teacher": {"label": "teacher (Swin-nano)", "config": "synthetic_teacher_nyu.yaml", "set": [f"optim.epochs={TEACHER_EPOCHS}"]},
    "no_lg": {"label": "B0", "config": "synthetic_distill_nyu.yaml", "set": ["model.lg_conv=false", "distill.enabled=false"]},
    "lg": {"label": "B0 + LG", "config": "synthetic_distill_nyu.yaml", "set": ["distill.enabled=false"]},
    "kd": {"label": "B0 + LG + KD", "config": "synthetic_distill_nyu.yaml", "set": ["distill.method=kd"]},
    "fam": {"label": "B0 + LG + KD + FAM", "config": "synthetic_distill_nyu.yaml", "set": ["distill.method=fam"]},
    "fam_lam": {"label": "B0 + LG + KD + FAM + LAM", "config": "synthetic_distill_nyu.yaml", "set": ["distill.method=disdepth"]},
}
FLAGS = {"no_lg": "| | | | |", "lg": "| ✓ | | | |", "kd": "| ✓ | ✓ | | |", "fam": "| ✓ | ✓ | ✓ | |",
         "fam_lam": "| ✓ | ✓ | ✓ | ✓ |", "teacher": "| (teacher) | | | |"}


def common_overrides(data: Path, out: Path, row: str, seed: int, teacher: Path) -> list[str]:
    nyu = data / "nyu"
    iters = 30 if row == "teacher" else ITERS_PER_EPOCH
    sets = ["data.name=folder", f"data.data_root={nyu / 'train'}", f"data.test_data_root={nyu / 'test'}",
            f"data.train_split={nyu / 'splits' / 'train.txt'}", f"data.test_split={nyu / 'splits' / 'test.txt'}",
            "data.resize_scale=1.0", "data.train_height=96", "data.train_width=128", f"seed={seed}",
            f"optim.epochs={EPOCHS}", f"optim.max_iters_per_epoch={iters}", "optim.num_workers=0",
            f"log.out_dir={out / row}", "log.image_every=0", "log.log_every=10", "log.val_every=1000"]
    if row != "teacher":
        sets += [f"distill.teacher_checkpoint={teacher}", f"distill.kd_start_epoch={WARMUP}"]
    return sets


def run_row(row: str, data: Path, out: Path, seed: int, teacher: Path) -> dict:
    spec = ROWS[row]
    cmd = [sys.executable, "-m", "training.train", "--config", str(CONFIGS / spec["config"]), "--no-progress"]
    if (out / row / "last.pt").is_file():
        cmd.append("--resume")  # an interrupted row continues where it stopped
    for item in common_overrides(data, out, row, seed, teacher) + spec["set"]:
        cmd += ["--set", item]
    print(f"[ablation] {row}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    with open(out / f"{row}.log", "w") as log:
        code = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"[ablation] {row} failed (exit {code}); see {out / f'{row}.log'}")
    import torch

    payload = torch.load(out / row / "last.pt", map_location="cpu", weights_only=True)
    state = payload["training_state"]
    return {"row": row, "label": spec["label"], "wall_s": round(wall, 1), "global_step": state["global_step"],
            "metrics": payload["meta"]["metrics"], "command": " ".join(cmd[1:])}


def format_table(results: dict[str, dict]) -> str:
    lines = ["| row | LG | KD | FAM | LAM | abs_rel | sq_rel | rmse | d1 | iterations | wall (min) |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in ROWS:
        if row not in results:
            continue
        r = results[row]
        m = r["metrics"]
        lines.append(f"| {r['label']} {FLAGS[row]} {m['abs_rel']:.4f} | {m['sq_rel']:.4f} | {m['rmse']:.4f} | "
                     f"{m['d1']:.3f} | {r['global_step']} | {r['wall_s'] / 60:.1f} |")
    return "\n".join(lines)


def summarize(out: Path) -> str:
    """Mean and range over every seed found under ``out`` (seed 0 in ``out``, seed N in ``out/seedN``)."""
    runs = [json.loads(path.read_text()) for path in [out / "results.json", *sorted(out.glob("seed*/results.json"))] if path.is_file()]
    lines = ["mean [min, max] over the seeds run so far",
             "| row | abs_rel | rmse | d1 | seeds |", "|---|---:|---:|---:|---:|"]
    for row in ROWS:
        found = [r[row]["metrics"] for r in runs if row in r]
        if not found:
            continue
        cells = []
        for key, digits in (("abs_rel", 4), ("rmse", 4), ("d1", 3)):
            values = [m[key] for m in found]
            cells.append(f"{sum(values) / len(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]")
        lines.append(f"| {ROWS[row]['label']} | {' | '.join(cells)} | {len(found)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma list from {', '.join(ROWS)}")
    parser.add_argument("--data", default=str(REPO / "data" / "synth_abl"), help="synthetic data root (generated if missing)")
    parser.add_argument("--out", default=str(REPO / "runs" / "ablation"))
    parser.add_argument("--force", action="store_true", help="re-run rows already in results.json")
    parser.add_argument("--seed", type=int, default=0, help="student seed; rows of seed N > 0 go to <out>/seedN")
    parser.add_argument("--summary", action="store_true", help="only print the mean/range over all seeds run so far")
    parser.add_argument("--teacher", default="", help="teacher checkpoint (default: <out>/teacher/last.pt, the 'teacher' row)")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if args.summary:
        print(summarize(out))
        return 0
    teacher = Path(args.teacher) if args.teacher else out / "teacher" / "last.pt"
    if args.seed:
        out = out / f"seed{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    if not (data / "nyu" / "splits" / "test.txt").is_file():
        subprocess.run([sys.executable, "-m", "disdepth_cli", "synth", "--out", str(data), "--dataset", "nyu", "--train", "600",
                        "--test", "80", "--seed", "0", "--size", "120x160", "--no-progress"], cwd=REPO, check=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for row in [r.strip() for r in args.rows.split(",") if r.strip()]:
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; known: {', '.join(ROWS)}")
        if row in results and not args.force:
            print(f"[ablation] {row}: cached ({results[row]['wall_s']:.0f} s)")
            continue
        results[row] = run_row(row, data, out, args.seed, teacher)
        results_path.write_text(json.dumps(results, indent=1))
        print(format_table(results), flush=True)
    print(format_table(results))
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; total wall "
          f"{sum(r['wall_s'] for r in results.values()) / 60:.1f} min over {len(results)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
