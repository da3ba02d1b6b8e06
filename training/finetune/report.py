"""``DIR/metrics.json`` and ``DIR/report.html`` of a fine-tuning run.

The HTML is the bag-eval report (:mod:`disdepth_core.bags.report`: accuracy table, per-frame
charts over time, histograms, sample frames RGB | before | after | ground truth | error) of
the held-out frames, headed by what was trained and a per-frame before/after table. Like the
bag-eval report it is one self-contained file.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from disdepth_core.bags.report import render_html
from disdepth_core.bags.results import frame_rows, summary

from .heldout import HeldoutResult

KEY_METRICS = ("abs_rel", "rmse", "d1")


def write_finetune_report(out_dir: Path, held: HeldoutResult, run_info: dict[str, Any]) -> dict[str, Path]:
    """Write metrics.json, report.html and frames.csv; returns their paths."""
    import csv

    data = summary(held.result)
    metrics = finetune_metrics(held, data, run_info)
    paths = {"metrics": out_dir / "metrics.json", "report": out_dir / "report.html", "frames": out_dir / "frames.csv"}
    paths["metrics"].write_text(json.dumps(metrics, indent=2, default=_json_default))
    header, rows = frame_rows(held.result)
    with paths["frames"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    page = render_html(held.result, data, title="DisDepth fine-tuning: held-out frames before and after",
                       preamble=_preamble(metrics))
    paths["report"].write_text(page, encoding="utf-8")
    return paths


def finetune_metrics(held: HeldoutResult, data: dict[str, Any], run_info: dict[str, Any]) -> dict[str, Any]:
    """The content of metrics.json: the run, and the held-out frames before/after per frame."""
    before, after = held.result.models[0], held.result.models[1]
    per_frame = []
    for i, frame in enumerate(held.result.frames):
        row = {"recording": frame["source"], "index": frame["index"], "stamp_s": frame["stamp_ns"] / 1e9, "t_s": frame["t_s"]}
        for name, values in (("before", before.metrics[i]), ("after", after.metrics[i]), ("constant", held.constant_metrics[i])):
            row[name] = None if values is None else {k: float(values[k]) for k in KEY_METRICS}
        per_frame.append(row)
    return {
        **run_info,
        "heldout": {
            "protocol": {**data["protocol"], "resolution": data["resolution"], "focal_rescale": False,
                         "note": "node defaults: frame resized to the model input, no focal rescale"},
            "frames_evaluated": len(held.result.frames), "frames_heldout": held.heldout_total,
            "skipped": dict(held.result.skipped),
            "before": data["models"][0]["metrics"], "after": data["models"][1]["metrics"],
            "set_constant": {"depth_m": held.constant_depth, **held.constant_mean()},
            "per_frame": per_frame,
        },
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _preamble(metrics: dict[str, Any]) -> str:
    held, training = metrics["heldout"], metrics["training"]
    rows = [("starting model", metrics["model"]["start"]), ("result", metrics["model"]["result"]),
            ("recordings", "; ".join(metrics["recordings"]["describe"])),
            ("frames", f"{metrics['frames']['train']} train, {metrics['frames']['gap']} gap, {metrics['frames']['heldout']} held "
                       f"out (last {100 * metrics['frames']['val_fraction']:.0f} % of each recording), "
                       f"{metrics['frames']['skipped']} skipped"),
            ("training", f"{training['iterations']} iterations x batch {training['batch_size']} on {training['device']}, "
                         f"{training['wall_s']:.0f} s ({training['images_per_s']:.1f} images/s), synthetic mix "
                         f"{training['synthetic_mix']:g}")]
    table = "".join(f'<tr><th class="l">{html.escape(k)}</th><td class="l">{html.escape(str(v))}</td></tr>' for k, v in rows)
    summary_rows = [("before (starting model)", held["before"]), ("after (fine-tuned)", held["after"]),
                    (f"set constant {held['set_constant']['depth_m']:.2f} m", held["set_constant"])]
    head = "".join(f"<th>{name}</th>" for name in KEY_METRICS)
    body = "".join(f'<tr><td class="l">{html.escape(label)}</td>'
                   + "".join(f"<td>{values.get(k, float('nan')):.4f}</td>" for k in KEY_METRICS) + "</tr>"
                   for label, values in summary_rows)
    frames = "".join(_frame_row(row) for row in held["per_frame"])
    return (f"<h2>Run</h2><table>{table}</table>"
            f"<h2>Held-out frames ({held['frames_evaluated']}, {html.escape(held['protocol']['note'])})</h2>"
            f'<table><tr><th class="l"></th>{head}</tr>{body}</table>'
            "<h2>Per held-out frame</h2><table><tr><th>frame</th><th>t in recording (s)</th><th>abs_rel before</th><th>abs_rel after</th>"
            f"<th>abs_rel constant</th><th>d1 before</th><th>d1 after</th></tr>{frames}</table>")


def _frame_row(row: dict[str, Any]) -> str:
    def cell(part: str, key: str) -> str:
        values = row.get(part)
        return "<td>-</td>" if values is None else f"<td>{values[key]:.3f}</td>"

    better = row["before"] and row["after"] and row["after"]["abs_rel"] < row["before"]["abs_rel"]
    after_cell = cell("after", "abs_rel").replace("<td>", '<td class="best">') if better else cell("after", "abs_rel")
    return (f"<tr><td>{row['index']}</td><td>{row['t_s']:.3f}</td>{cell('before', 'abs_rel')}{after_cell}"
            f"{cell('constant', 'abs_rel')}{cell('before', 'd1')}{cell('after', 'd1')}</tr>")
