"""A fair CPU-sized paper Table 3/4 with a CNN teacher: one command, resumable, two jobs at once.

    nice -n 19 python benchmarks/ablation_table4.py [--jobs 2] [--seeds 0,1,2] [--out runs/table3]
    python benchmarks/ablation_table4.py --report          # only print the tables of what has run

What it runs (configs ``training/configs/synthetic_t3_{teacher,student}_nyu.yaml``):

1. data: ``disdepth synth --dataset nyu --train 1500 --test 300 --seed 0 --size 120x160`` and the
   teacher's ``--train 6000`` of the same (if missing), and the constant baseline on the test
   split (the median valid test depth everywhere);
2. the teacher (EfficientNet-Lite2 + LG, packaged ImageNet weights, 1500 steps on 6000 frames:
   the students' 1500 and 4500 more of the same generator, the same test split) and the
   supervised students (Lite0 + LG, packaged weights, 396 steps on their 1500 frames, one per
   seed), two at a time;
3. the gate: the teacher's abs_rel must be <= 0.8x the supervised students' mean and <= 0.8x the
   constant's; if not, the teacher trains on (``--resume`` with more epochs) up to twice, else the
   script stops and says so (distilling from a teacher no better than the students shows nothing);
4. ``kd``, ``fam`` and ``disdepth`` students per seed: the same student as the supervised row of
   that seed (paired initial weights and data order), the same budget, KD from step 132 (a third);
5. ``python -m training.ghost_eval`` (paper Table 5) for every ``fam``/``disdepth`` run;
6. the report (:mod:`ablation_report`): rows with per-seed values, paired differences, the
   diagnostics each run logged, the acclimated teachers, wall times.

Every run is a real ``python -m training.train`` process with one thread (``OMP_NUM_THREADS=1``),
its output appended to ``<out>/<run>.log``; results accumulate in ``<out>/results.json``. Run it
again after an interruption: finished runs are kept, an interrupted run continues from its
``last.pt`` at the exact step (``--resume``), and wall times add up over the invocations.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ablation_report import format_report  # noqa: E402

CONFIGS = REPO / "training" / "configs"
STUDENT_CONFIG = CONFIGS / "synthetic_t3_student_nyu.yaml"
TEACHER_CONFIG = CONFIGS / "synthetic_t3_teacher_nyu.yaml"
SWIN_TEACHER_CONFIG = CONFIGS / "synthetic_t3_teacher_swin_nyu.yaml"
SWIN_BACKBONE = "swin_nano_patch4_window7"
DATA_ARGS = ["--dataset", "nyu", "--train", "1500", "--test", "300", "--seed", "0", "--size", "120x160"]
# The teacher's data: the same generator and seed with 6000 training frames, whose first 1500 are
# the students' frames (byte-identical) and whose test split is the students' test split. On the
# students' 1500 frames alone the Lite2 teacher overfits and missed the gate (see docs/distillation.md).
TEACHER_DATA_ARGS = ["--dataset", "nyu", "--train", "6000", "--test", "300", "--seed", "0", "--size", "120x160"]
METHODS = {"supervised": ["distill.enabled=false"], "kd": ["distill.method=kd"], "fam": ["distill.method=fam"],
           "disdepth": ["distill.method=disdepth"]}
GATE_RATIO = 0.8  # teacher abs_rel <= this x the supervised students' mean, and x the constant's
TEACHER_EXTRA_EPOCHS = 4  # per extension of a teacher that missed the gate (x 150 iterations)
MAX_EXTENSIONS = 2
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


@dataclass
class Run:
    """One training process: its name (= folder under ``out``), config, overrides, and data
    (``teacher_data``: the teacher's larger set; else the students')."""

    name: str
    config: Path
    sets: list[str] = field(default_factory=list)
    teacher_data: bool = False


def data_overrides(data: Path) -> list[str]:
    nyu = data / "nyu"
    return [f"data.data_root={nyu / 'train'}", f"data.test_data_root={nyu / 'test'}",
            f"data.train_split={nyu / 'splits' / 'train.txt'}", f"data.test_split={nyu / 'splits' / 'test.txt'}"]


def student_run(method: str, seed: int, teacher: Path, prefix: str = "", teacher_backbone: str = "") -> Run:
    """A Lite0 + LG student row; ``prefix``/``teacher_backbone`` name another teacher (the Swin arm)."""
    sets = [f"seed={seed}", f"distill.teacher_checkpoint={teacher}", *METHODS[method]]
    if teacher_backbone:
        sets.append(f"distill.teacher_backbone={teacher_backbone}")
    return Run(f"{prefix}{method}_s{seed}", STUDENT_CONFIG, sets)


def teacher_run(extensions: int) -> Run:
    """The teacher, trained on by ``TEACHER_EXTRA_EPOCHS`` per extension (``--resume``: the linear
    LR decay then follows the longer schedule from the step it stopped at)."""
    if not extensions:
        return Run("teacher", TEACHER_CONFIG, teacher_data=True)
    from training.train_config import load_train_config

    epochs = load_train_config(TEACHER_CONFIG).optim.epochs + extensions * TEACHER_EXTRA_EPOCHS
    return Run("teacher", TEACHER_CONFIG, [f"optim.epochs={epochs}"], teacher_data=True)


def command(run: Run, data: Path, teacher_data: Path, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "training.train", "--config", str(run.config), "--no-progress", "--resume"]
    for item in data_overrides(teacher_data if run.teacher_data else data) + [f"log.out_dir={out / run.name}", *run.sets]:
        cmd += ["--set", item]
    return cmd


class Experiment:
    """The results file, the data, and a pool of ``jobs`` concurrent training processes."""

    def __init__(self, out: Path, data: Path, teacher_data: Path, jobs: int) -> None:
        self.out, self.data, self.teacher_data, self.jobs = out, data, teacher_data, jobs
        self.results_path = out / "results.json"
        self.results: dict = json.loads(self.results_path.read_text()) if self.results_path.is_file() else {}
        self.results.setdefault("runs", {})

    def save(self) -> None:
        tmp = self.results_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.results, indent=1))
        os.replace(tmp, self.results_path)

    # ---------------------------------------------------------------- running
    def finished(self, run: Run) -> bool:
        """Recorded with the same overrides (a teacher extended by more epochs is not finished)."""
        return self.results["runs"].get(run.name, {}).get("sets") == run.sets

    def train(self, runs: list[Run]) -> None:
        """Train every run not yet finished, ``jobs`` at a time; a failure stops the script."""
        pending = [r for r in runs if not self.finished(r)]
        active: dict[str, tuple[subprocess.Popen, float, Run, Any]] = {}
        try:
            self.schedule(pending, active)
        except BaseException as err:
            # Ctrl-C (which reached the trainers too), SIGTERM or a failed run: every trainer still
            # running saves at its step and exits, its wall time so far is kept, and the next
            # invocation resumes it. SIGTERM is sent only if Ctrl-C did not already ask it to stop:
            # a second signal would abort the trainer before it saves.
            for name, (proc, start, _, log) in active.items():
                if not isinstance(err, KeyboardInterrupt):
                    proc.terminate()
                proc.wait()
                log.close()
                self.add_wall(name, time.time() - start)
            raise

    def schedule(self, pending: list[Run], active: dict[str, tuple[subprocess.Popen, float, Run, Any]]) -> None:
        env = os.environ | THREAD_ENV | {"PYTHONPATH": str(REPO)}
        while pending or active:
            while pending and len(active) < self.jobs:
                run = pending.pop(0)
                cmd = command(run, self.data, self.teacher_data, self.out)
                log = open(self.out / f"{run.name}.log", "a")
                log.write(f"\n[ablation] {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n")
                log.flush()
                print(f"[ablation] start {run.name}", flush=True)
                active[run.name] = (subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), time.time(), run, log)
            time.sleep(2)
            for name, (proc, start, run, log) in list(active.items()):
                if proc.poll() is None:
                    continue
                del active[name]
                log.close()
                wall = time.time() - start
                self.add_wall(name, wall)
                if proc.returncode != 0:
                    raise SystemExit(f"[ablation] {name} failed (exit {proc.returncode}); see {self.out / f'{name}.log'}; "
                                     "run the script again to continue")
                self.record(run, cmd=command(run, self.data, self.teacher_data, self.out))
                print(f"[ablation] done {name}: abs_rel {self.results['runs'][name]['metrics']['abs_rel']:.4f} "
                      f"({wall / 60:.1f} min)", flush=True)

    def add_wall(self, name: str, seconds: float) -> None:
        walls = self.results.setdefault("walls", {})
        walls[name] = round(walls.get(name, 0.0) + seconds, 1)
        self.save()

    def record(self, run: Run, cmd: list[str]) -> None:
        import torch

        payload = torch.load(self.out / run.name / "last.pt", map_location="cpu", weights_only=True)
        state = payload["training_state"]
        self.results["runs"][run.name] = {"metrics": payload["meta"]["metrics"], "global_step": state["global_step"],
                                          "wall_s": self.results["walls"][run.name], "sets": run.sets,
                                          "command": " ".join(["python", *cmd[1:]]).replace(str(REPO) + "/", "")}
        self.save()

    # ---------------------------------------------------------------- stages
    def prepare_data(self) -> None:
        for root, args in ((self.data, DATA_ARGS), (self.teacher_data, TEACHER_DATA_ARGS)):
            if not (root / "nyu" / "splits" / "test.txt").is_file():
                subprocess.run([sys.executable, "-m", "disdepth_cli", "synth", "--out", str(root), *args, "--no-progress"],
                               cwd=REPO, check=True, env=os.environ | THREAD_ENV)
        if "constant" not in self.results:
            self.results["constant"] = constant_baseline(self.data)
            self.save()
        c = self.results["constant"]
        print(f"[ablation] constant {c['depth_m']:.2f} m: abs_rel {c['metrics']['abs_rel']:.4f}", flush=True)

    def gate(self, seeds: list[int], teacher: str = "teacher") -> dict:
        """The teacher's abs_rel against the supervised students' mean and the constant's."""
        runs = self.results["runs"]
        students = [runs[f"supervised_s{s}"]["metrics"]["abs_rel"] for s in seeds]
        score = runs[teacher]["metrics"]["abs_rel"]
        mean = sum(students) / len(students)
        constant = self.results["constant"]["metrics"]["abs_rel"]
        verdict = {"teacher_abs_rel": score, "students_mean_abs_rel": mean, "constant_abs_rel": constant,
                   "ratio_to_students": score / mean, "ratio_to_constant": score / constant,
                   "passed": score <= GATE_RATIO * mean and score <= GATE_RATIO * constant,
                   "teacher_steps": runs[teacher]["global_step"]}
        self.results.setdefault("gates", {})[teacher] = verdict
        self.save()
        print(f"[ablation] gate of {teacher} {'passed' if verdict['passed'] else 'FAILED'}: abs_rel {score:.4f} = "
              f"{verdict['ratio_to_students']:.2f}x the students' mean, {verdict['ratio_to_constant']:.2f}x the constant", flush=True)
        return verdict

    def ghost_eval(self, names: list[str]) -> None:
        """Paper Table 5 for each acclimated teacher (teacher, ghost teacher, student on the test split)."""
        table = self.results.setdefault("ghost_eval", {})
        for name in names:
            if name in table:
                continue
            target = self.out / name / "ghost_eval.json"
            cmd = [sys.executable, "-m", "training.ghost_eval", "--checkpoint", str(self.out / name / "last.pt"),
                   "--no-progress", "--save-json", str(target)]
            print(f"[ablation] ghost_eval {name}", flush=True)
            subprocess.run(cmd, cwd=REPO, check=True, env=os.environ | THREAD_ENV | {"PYTHONPATH": str(REPO)},
                           stdout=subprocess.DEVNULL)
            table[name] = json.loads(target.read_text())
            self.save()


def constant_baseline(data: Path) -> dict:
    """The best single constant: the median valid depth of the test split, scored by the protocol."""
    import numpy as np

    from disdepth_core.data.dataset_config import DatasetConfig
    from disdepth_core.data.depth_dataset import build_dataset
    from disdepth_core.evaluation import EvalProtocol
    from disdepth_core.metrics import valid_gt_mask
    from training.train_config import load_train_config

    cfg: DatasetConfig = load_train_config(STUDENT_CONFIG, data_overrides(data)).data
    dataset = build_dataset(cfg, "eval")
    protocol = EvalProtocol(min_depth=cfg.min_depth, max_depth=cfg.max_depth, crop=cfg.eval_crop)
    gts = [dataset.eval_frame(i)["depth"] for i in range(len(dataset))]
    depth = float(np.median(np.concatenate([g[valid_gt_mask(g, cfg.min_depth, cfg.max_depth, cfg.eval_crop)] for g in gts])))
    acc = protocol.accumulator()
    for gt in gts:
        acc.update(np.full_like(gt, depth), gt)
    return {"depth_m": depth, "metrics": acc.compute(), "images": len(gts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "table3"))
    parser.add_argument("--data", default=str(REPO / "data" / "synth_t3"), help="students' synthetic data (generated if missing)")
    parser.add_argument("--teacher-data", default=str(REPO / "data" / "synth_t3_teacher"),
                        help="the teacher's synthetic data, a superset of the students' (generated if missing)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2, help="training processes at once (one thread each)")
    parser.add_argument("--report", action="store_true", help="only print the report of what has run")
    parser.add_argument("--until", choices=("data", "gate", "rows", "all"), default="all", help="stop after this stage")
    parser.add_argument("--swin", action="store_true",
                        help="also the cross-architecture arm: a Swin-nano teacher to the same gate, its rows on the first seed")
    args = parser.parse_args()
    out, seeds = Path(args.out), [int(s) for s in args.seeds.split(",")]
    out.mkdir(parents=True, exist_ok=True)
    exp = Experiment(out, Path(args.data), Path(args.teacher_data), args.jobs)
    if args.report:
        print(format_report(exp.results, out, seeds))
        return 0
    started = time.time()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # stop like Ctrl-C: children save
    try:
        return run_all(exp, seeds, args.until, args.swin)
    finally:  # also when interrupted: elapsed time adds up over the invocations
        exp.results["elapsed_s"] = round(exp.results.get("elapsed_s", 0.0) + time.time() - started, 1)
        exp.save()


def run_all(exp: Experiment, seeds: list[int], until: str, swin: bool) -> int:
    """The stages in order (see the module docstring); returns the exit status."""
    exp.prepare_data()
    if until == "data":
        return 0
    verdict = teacher_and_gate(exp, seeds, swin)
    if not verdict["passed"]:
        print(format_report(exp.results, exp.out, seeds))
        return 1
    if until == "gate":
        return 0
    teacher = exp.out / "teacher" / "last.pt"
    exp.train([student_run(m, s, teacher) for s in seeds for m in ("disdepth", "fam", "kd")])
    swin_rows = swin and exp.results["gates"]["swin_teacher"]["passed"]
    if swin_rows:
        exp.train([student_run(m, seeds[0], exp.out / "swin_teacher" / "last.pt", "swin_", SWIN_BACKBONE) for m in ("disdepth", "fam", "kd")])
    if until == "rows":
        return 0
    ghosts = [f"{m}_s{s}" for s in seeds for m in ("disdepth", "fam")]
    exp.ghost_eval(ghosts + ([f"swin_{m}_s{seeds[0]}" for m in ("disdepth", "fam")] if swin_rows else []))
    print(format_report(exp.results, exp.out, seeds))
    return 0


def teacher_and_gate(exp: Experiment, seeds: list[int], swin: bool) -> dict:
    """Teachers and supervised rows, two at a time (the Swin-nano teacher, one budget, fills the
    second slot); the Lite2 teacher trains on until it passes the gate (at most ``MAX_EXTENSIONS``
    times); then the Swin teacher's own verdict."""
    teacher = exp.out / "teacher" / "last.pt"
    extensions = exp.results.get("teacher_extensions", 0)
    swin_runs = [Run("swin_teacher", SWIN_TEACHER_CONFIG, teacher_data=True)] if swin else []
    exp.train([teacher_run(extensions)] + [student_run("supervised", s, teacher) for s in seeds] + swin_runs)
    verdict = exp.gate(seeds)
    while not verdict["passed"] and extensions < MAX_EXTENSIONS:
        extensions += 1
        print(f"[ablation] the teacher trains on ({TEACHER_EXTRA_EPOCHS} more epochs)", flush=True)
        exp.results["teacher_extensions"] = extensions
        exp.train([teacher_run(extensions)] + swin_runs)
        verdict = exp.gate(seeds)
    if swin:
        exp.train(swin_runs)
        exp.gate(seeds, "swin_teacher")
    return verdict


if __name__ == "__main__":
    sys.exit(main())
