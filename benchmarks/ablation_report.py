"""Tables of the CPU Table 3/4 experiment (``ablation_table4.py``): rows, paired differences, diagnostics.

Paired differences are what the experiment can show: every method row of one seed starts from the
supervised row's student and sees the same batches, so ``row - supervised`` of one seed removes
the seed's own luck; their mean and spread over the seeds say whether an effect is larger than
the run-to-run noise. The diagnostics come from the ``[diag]`` lines the trainer writes at the
logging interval (:meth:`training.trainer.Trainer.log_diagnostics`).
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

ROWS = ("supervised", "kd", "fam", "disdepth")
LABELS = {"supervised": "Lite0 + LG (supervised)", "kd": "+ KD (plain, raw teacher features)",
          "fam": "+ KD + FAM (acclimated)", "disdepth": "+ KD + FAM + LAM (DisDepth)"}
PAIRS = (("kd", "supervised"), ("fam", "supervised"), ("disdepth", "supervised"), ("fam", "kd"), ("disdepth", "fam"))
METRICS = (("abs_rel", 4), ("rmse", 4), ("d1", 3))
DIAG_LINE = re.compile(r"^\[diag\] epoch (\d+) step (\d+): (.*)$")
DIAG_KEYS = ("kd_task_grad_ratio", "residual", "silog", "ghost/silog", "lam/max", "lam/std")


def read_diagnostics(log: Path) -> list[dict[str, float]]:
    """Every ``[diag]`` line of a run's log (all invocations, in order) as a dict with its step."""
    rows: list[dict[str, float]] = []
    if not log.is_file():
        return rows
    for line in log.read_text(errors="replace").splitlines():
        match = DIAG_LINE.match(line.strip())
        if not match:
            continue
        values = {"epoch": float(match.group(1)), "step": float(match.group(2))}
        for item in match.group(3).split():
            key, _, value = item.partition("=")
            try:
                values[key] = float(value)
            except ValueError:
                continue
        rows.append(values)
    return rows


def mean_sd(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:+.4f}" if values else "-"
    return f"{statistics.mean(values):+.4f} ± {statistics.stdev(values):.4f}"


def rows_table(runs: dict, seeds: list[int]) -> list[str]:
    lines = ["| row | abs_rel mean | rmse mean | d1 mean | abs_rel per seed (" + ", ".join(f"s{s}" for s in seeds) + ") | steps | wall per run (min) |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for row in ROWS:
        found = [runs[f"{row}_s{s}"] for s in seeds if f"{row}_s{s}" in runs]
        if not found:
            continue
        cells = [f"{statistics.mean(r['metrics'][k] for r in found):.{d}f}" for k, d in METRICS]
        per_seed = ", ".join(f"{runs[f'{row}_s{s}']['metrics']['abs_rel']:.4f}" if f"{row}_s{s}" in runs else "-" for s in seeds)
        walls = ", ".join(f"{r['wall_s'] / 60:.0f}" for r in found)
        lines.append(f"| {LABELS[row]} | {' | '.join(cells)} | {per_seed} | {found[0]['global_step']} | {walls} |")
    return lines


def per_run_table(runs: dict, seeds: list[int]) -> list[str]:
    """Every student run's metrics (the per-seed values behind the means)."""
    lines = ["| run | abs_rel | sq_rel | rmse | d1 | wall (min) |", "|---|---:|---:|---:|---:|---:|"]
    for row in ROWS:
        for seed in seeds:
            run = runs.get(f"{row}_s{seed}")
            if run:
                m = run["metrics"]
                lines.append(f"| {row} s{seed} | {m['abs_rel']:.4f} | {m['sq_rel']:.4f} | {m['rmse']:.4f} | {m['d1']:.3f} | {run['wall_s'] / 60:.0f} |")
    return lines


def paired_table(runs: dict, seeds: list[int]) -> list[str]:
    lines = ["| difference (per seed: row minus reference) | abs_rel mean ± sd | per seed | rmse mean ± sd | d1 mean ± sd | seeds better |",
             "|---|---:|---|---:|---:|---:|"]
    for row, ref in PAIRS:
        both = [s for s in seeds if f"{row}_s{s}" in runs and f"{ref}_s{s}" in runs]
        if not both:
            continue
        diff = {k: [runs[f"{row}_s{s}"]["metrics"][k] - runs[f"{ref}_s{s}"]["metrics"][k] for s in both] for k, _ in METRICS}
        better = sum(d < 0 for d in diff["abs_rel"])
        lines.append(f"| {row} - {ref} | {mean_sd(diff['abs_rel'])} | {', '.join(f'{d:+.4f}' for d in diff['abs_rel'])} | "
                     f"{mean_sd(diff['rmse'])} | {mean_sd(diff['d1'])} | {better} of {len(both)} |")
    return lines


def supervised_silog(out: Path, seeds: list[int]) -> dict[float, float]:
    """The supervised rows' training silog per logged step, mean over seeds (TensorBoard): the same
    batches as the method rows at the same step (paired data order), so the columns compare."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    per_step: dict[float, list[float]] = {}
    for seed in seeds:
        folder = out / f"supervised_s{seed}" / "tensorboard"
        if not folder.is_dir():
            continue
        events = EventAccumulator(str(folder))
        events.Reload()
        if "train/silog" in events.Tags()["scalars"]:
            for event in events.Scalars("train/silog"):
                per_step.setdefault(float(event.step), []).append(event.value)
    return {step: statistics.mean(values) for step, values in per_step.items()}


def diagnostics_table(out: Path, seeds: list[int], prefix: str = "") -> list[str]:
    """Per method, mean over seeds, at four logged steps: the first, the last of the warm-up (what KD
    would do: fam/disdepth compute it; kd's teacher does not run yet), the first with KD on, the last."""
    supervised = supervised_silog(out, seeds)
    lines = ["| row | step | KD/task grad ratio | imitation residual | student silog | supervised silog, same batch | "
             "ghost-teacher silog | LAM max | LAM std |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in ROWS[1:]:
        logs = [read_diagnostics(out / f"{prefix}{row}_s{seed}.log") for seed in seeds]
        logs = [log for log in logs if log]
        if not logs:
            continue
        steps = sorted({d["step"] for d in logs[0]})
        kd_on = [d["step"] for d in logs[0] if "kd" in d]
        picks = [steps[0], steps[-1]]
        if kd_on:
            first = steps.index(kd_on[0])
            picks += [kd_on[0]] + ([steps[first - 1]] if first > 0 else [])
        for step in sorted(set(picks)):
            picked = [d for log in logs for d in log if d["step"] == step]
            cells = []
            for key in DIAG_KEYS:
                values = [d[key] for d in picked if key in d]
                cells.append(f"{statistics.mean(values):.3g}" if values else "-")
                if key == "silog":
                    cells.append(f"{supervised[step]:.3g}" if step in supervised else "-")
            lines.append(f"| {prefix}{row} | {int(step)}{' (KD on)' if step in kd_on else ''} | {' | '.join(cells)} |")
    return lines


def ghost_table(ghost: dict) -> list[str]:
    lines = ["| run | teacher abs_rel | ghost teacher abs_rel | student abs_rel | teacher rmse | ghost rmse | student rmse |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows in ghost.items():
        t, g, s = rows["teacher"], rows["ghost_teacher"], rows["student"]
        lines.append(f"| {name} | {t['abs_rel']:.4f} | {g['abs_rel']:.4f} | {s['abs_rel']:.4f} | {t['rmse']:.4f} | {g['rmse']:.4f} | {s['rmse']:.4f} |")
    return lines


def format_report(results: dict, out: Path, seeds: list[int]) -> str:
    """Markdown: constant, gate, rows, paired differences, diagnostics, Table 5, wall times."""
    runs = results.get("runs", {})
    parts: list[str] = []
    if "constant" in results:
        c = results["constant"]
        m = c["metrics"]
        parts.append(f"Constant {c['depth_m']:.2f} m (median valid test depth) on the {c['images']} test frames: "
                     f"abs_rel {m['abs_rel']:.4f}, rmse {m['rmse']:.4f}, d1 {m['d1']:.3f}")
    teachers = (("teacher_1500frames", "First teacher: Lite2 + LG on the students' 1500 frames"),
                ("swin_teacher_1500frames", "First Swin-nano teacher (from scratch) on the students' 1500 frames"),
                ("teacher", "Teacher Lite2 + LG (packaged ImageNet weights, 6000 frames)"),
                ("swin_teacher", "Swin-nano teacher (from scratch, 6000 frames)"))
    for name, label in teachers:
        if name not in runs:
            continue
        t = runs[name]
        parts.append(f"{label}, {t['global_step']} steps, {t['wall_s'] / 60:.0f} min: abs_rel {t['metrics']['abs_rel']:.4f}, "
                     f"rmse {t['metrics']['rmse']:.4f}, d1 {t['metrics']['d1']:.3f}")
        history = results.get("teacher_history", {}).get(name)
        if history:
            parts.append("  trained on: " + ", ".join(f"{h['steps']} steps abs_rel {h['abs_rel']:.4f}" for h in history))
        gate = results.get("gates", {}).get(name)
        if gate:
            parts.append(f"  gate {'passed' if gate['passed'] else 'FAILED'}: / supervised students' mean {gate['ratio_to_students']:.2f} "
                         f"(<= 0.8 needed), / constant {gate['ratio_to_constant']:.2f} (<= 0.8 needed)")
    parts += ["", *rows_table(runs, seeds), "", *paired_table(runs, seeds), "", *per_run_table(runs, seeds), "", *diagnostics_table(out, seeds)]
    swin = [name for name in runs if name.startswith("swin_") and "teacher" not in name]
    if swin:
        parts += ["", "Swin-nano teacher arm (first seed; the same supervised row as reference):",
                  *[f"| {name} | abs_rel {runs[name]['metrics']['abs_rel']:.4f} | rmse {runs[name]['metrics']['rmse']:.4f} | "
                    f"d1 {runs[name]['metrics']['d1']:.3f} |" for name in sorted(swin)],
                  "", *diagnostics_table(out, seeds[:1], "swin_")]
    if results.get("ghost_eval"):
        parts += ["", *ghost_table(results["ghost_eval"])]
    walls = results.get("walls", {})
    if walls:
        parts += ["", f"Wall time summed over runs: {sum(walls.values()) / 60:.0f} min over {len(walls)} runs; "
                      f"elapsed over the script's invocations: {results.get('elapsed_s', 0.0) / 60:.0f} min"]
    return "\n".join(parts)
