"""Write a bag evaluation: ``metrics.json``, ``frames.csv`` and a self-contained ``report.html``.

The HTML has no external reference: charts are inline SVG (:mod:`.charts`) and sample frames
are PNGs embedded as base64 data URIs, so the file can be mailed or attached to a ticket.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from disdepth_core.metrics import HIGHER_IS_BETTER, METRIC_NAMES
from disdepth_core.visualize import colorize_depth, colorize_error

from . import charts
from .bag_evaluation import BagEvalResult
from .results import frame_rows, summary

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;background:#fff;margin:6px 0} td,th{border:1px solid #ddd;padding:4px 8px;text-align:right;font-size:13px}
th{background:#f0f0f0} td.l,th.l{text-align:left} .best{font-weight:bold;background:#e8f4e8}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:6px 10px;margin:4px 0;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:12px} .chart{border:1px solid #ddd;background:#fff}
.grid{border-collapse:collapse} .grid td{padding:3px;vertical-align:top;text-align:center;font-size:12px}
.grid img{display:block;max-width:320px;image-rendering:pixelated} .grid td.l{white-space:nowrap} .meta{color:#555;font-size:13px}
"""


def write_report(result: BagEvalResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the three files into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = summary(result)
    paths = {"metrics": out / "metrics.json", "frames": out / "frames.csv", "report": out / "report.html"}
    paths["metrics"].write_text(json.dumps(data, indent=2, default=_json_default))
    header, rows = frame_rows(result)
    with paths["frames"].open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    paths["report"].write_text(render_html(result, data), encoding="utf-8")
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _png_data_uri(rgb: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


def _img(rgb: np.ndarray, alt: str) -> str:
    return f'<img src="{_png_data_uri(rgb)}" alt="{html.escape(alt)}" width="{rgb.shape[1]}" height="{rgb.shape[0]}">'


def _metrics_table(data: dict[str, Any]) -> str:
    models = data["models"]
    names = [n for n in METRIC_NAMES if any(n in m["metrics"] for m in models)]
    if not names:
        if data["topics"]["depth"]:
            return '<p class="meta">No frame had valid ground truth (see the warnings above): no accuracy metrics.</p>'
        return '<p class="meta">No ground truth: accuracy metrics need --depth-topic.</p>'
    best = {}
    for name in names:
        values = [m["metrics"].get(name) for m in models]
        finite = [round(v, 4) for v in values if v is not None and np.isfinite(v)]  # as shown: ties highlight together
        if len(models) > 1 and finite:
            best[name] = max(finite) if name in HIGHER_IS_BETTER else min(finite)
    head = "".join(f"<th>{n}{' ↑' if n in HIGHER_IS_BETTER else ' ↓'}</th>" for n in names)
    rows = []
    for model in models:
        cells = []
        for name in names:
            value = model["metrics"].get(name)
            css = ' class="best"' if name in best and value is not None and round(value, 4) == best[name] else ""
            cells.append(f"<td{css}>{value:.4f}</td>" if value is not None else "<td>-</td>")
        count = int(model["metrics"].get("n_images", 0))
        rows.append(f'<tr><td class="l">{html.escape(model["label"])}</td>{"".join(cells)}<td>{count}</td></tr>')
    return f'<table><tr><th class="l">model</th>{head}<th>frames</th></tr>{"".join(rows)}</table>'


def _latency_table(data: dict[str, Any]) -> str:
    rows = []
    for model in data["models"]:
        total, infer, stats = model["latency_ms"], model["inference_ms"], model["depth_stats"]

        def cell(value: Optional[float], fmt: str = "{:.1f}") -> str:
            return "<td>-</td>" if value is None else f"<td>{fmt.format(value)}</td>"

        rows.append(f'<tr><td class="l">{html.escape(model["label"])}</td><td class="l">{html.escape(model["backend"])}</td>'
                    + cell(total.get("p50")) + cell(total.get("p95")) + cell(infer.get("p50"))
                    + cell(stats["median_of_frame_medians_m"], "{:.2f}") + cell(stats["p5_frame_median_m"], "{:.2f}")
                    + cell(stats["p95_frame_median_m"], "{:.2f}") + cell(stats["mean_valid_fraction"], "{:.3f}") + "</tr>")
    return ("<table><tr><th class='l'>model</th><th class='l'>backend</th><th>pipeline p50 ms</th><th>pipeline p95 ms</th>"
            "<th>inference p50 ms</th><th>median depth m</th><th>p5 frame median</th><th>p95 frame median</th>"
            "<th>valid fraction</th></tr>" + "".join(rows) + "</table>")


def _charts(result: BagEvalResult) -> str:
    times = [(f["stamp_ns"] - result.frames[0]["stamp_ns"]) / 1e9 for f in result.frames] if result.frames else []
    labels = [m.label for m in result.models]
    parts = []
    has_gt = any(metric is not None for m in result.models for metric in m.metrics)
    if has_gt:
        for name, label in (("abs_rel", "abs_rel"), ("rmse", "rmse (m)")):
            series = {m.label: [None if x is None else x[name] for x in m.metrics] for m in result.models}
            parts.append(charts.line_chart(f"{name} over time", times, series, "time since first frame (s)", label))
        for name in ("abs_rel", "rmse", "d1"):
            series = {m.label: [None if x is None else x[name] for x in m.metrics] for m in result.models}
            parts.append(charts.histogram(f"{name} per frame", series, name))
    parts.append(charts.histogram("pipeline latency per frame", {m.label: m.latency_ms for m in result.models}, "ms"))
    parts.append(charts.line_chart("median predicted depth over time", times, {m.label: m.median_depth for m in result.models},
                                   "time since first frame (s)", "metres"))
    del labels
    return '<div class="charts">' + "".join(parts) + "</div>"


def _anchor_section(result: BagEvalResult, data: dict[str, Any]) -> str:
    """The scale anchor: settings, anchored vs unanchored accuracy, the scale over time (empty without an anchor)."""
    anchor = data["anchor"]
    if anchor["mode"] == "none":
        return ""
    source = anchor["sparse_depth_topic"] if anchor["mode"] == "sparse_depth" else f"camera height {anchor['camera_height_m']:g} m"
    rows = []
    for model in data["models"]:
        scale = model["scale"]
        for label, metrics in (("anchored", model["metrics"]), ("unanchored", model.get("unanchored_metrics") or {})):
            cells = "".join(f"<td>{metrics[name]:.4f}</td>" if name in metrics else "<td>-</td>" for name in ("abs_rel", "rmse", "d1"))
            rows.append(f'<tr><td class="l">{html.escape(model["label"])}</td><td class="l">{label}</td>{cells}'
                        f'<td class="l">{html.escape(", ".join(f"{k} {v}" for k, v in scale["frames_by_source"].items()))}</td>'
                        f'<td>{scale.get("p50", float("nan")):.3f}</td></tr>')
    table = ("<table><tr><th class='l'>model</th><th class='l'>depth</th><th>abs_rel</th><th>rmse</th><th>d1</th>"
             "<th class='l'>frames by scale source</th><th>median scale</th></tr>" + "".join(rows) + "</table>")
    times = [(f["stamp_ns"] - result.frames[0]["stamp_ns"]) / 1e9 for f in result.frames] if result.frames else []
    chart = charts.line_chart("anchor scale over time", times, {m.label: [s for s, _ in m.scales] for m in result.models},
                              "time since first frame (s)", "scale")
    return (f"<h2>Metric scale anchor: {html.escape(anchor['mode'])} ({html.escape(str(source))})</h2>"
            f'<p class="meta">time constant {anchor["time_constant_s"]:g} s, max age {anchor["max_age_s"]:g} s, hold '
            f'{anchor["hold_s"]:g} s, min points {anchor["min_points"]} (the node\'s defaults)</p>{table}<div class="charts">{chart}</div>')


def _sparsification_section(data: dict[str, Any]) -> str:
    """abs_rel over the most confident fraction of each frame's pixels: a flat curve means a useless confidence."""
    curves = {m["label"]: m["confidence_sparsification"] for m in data["models"] if m.get("confidence_sparsification")}
    if not curves:
        return ""
    coverages = [point["coverage"] for point in next(iter(curves.values()))]
    chart = charts.line_chart("confidence sparsification", coverages,
                              {label: [p["abs_rel"] for p in curve] for label, curve in curves.items()},
                              "coverage (most confident fraction of each frame's pixels)", "abs_rel")
    head = "".join(f"<th>{c:g}</th>" for c in coverages)
    rows = "".join(f'<tr><td class="l">{html.escape(label)}</td>' + "".join(f"<td>{p['abs_rel']:.4f}</td>" for p in curve) + "</tr>"
                   for label, curve in curves.items())
    return (f"<h2>Confidence sparsification</h2><table><tr><th class='l'>model / coverage</th>{head}</tr>{rows}</table>"
            f'<div class="charts">{chart}</div>')


def _sample_grid(result: BagEvalResult) -> str:
    if not result.samples:
        return '<p class="meta">No frame to show.</p>'
    lo, hi = result.protocol.min_depth, result.protocol.max_depth
    models = [m.label for m in result.models]
    head = "<th>RGB</th>" + "".join(f"<th>{html.escape(label)}</th>" for label in models)
    has_gt = any(s["gt"] is not None for s in result.samples)
    if has_gt:
        head += "<th>ground truth</th>" + "".join(f"<th>abs-rel error: {html.escape(label)}</th>" for label in models)
    rows = []
    for sample in result.samples:
        cells = [_img(sample["rgb"], f"frame {sample['index']} RGB")]
        cells += [_img(colorize_depth(pred, lo, hi), f"frame {sample['index']} {label}") for pred, label in zip(sample["preds"], models)]
        if has_gt:
            gt = sample["gt"]
            if gt is None:
                cells += ["no ground truth"] * (1 + len(models))
            else:
                cells.append(_img(colorize_depth(gt, lo, hi), f"frame {sample['index']} ground truth"))
                cells += [_img(colorize_error(np.nan_to_num(pred, nan=0.0), np.where(gt > lo, gt, np.nan)),
                               f"frame {sample['index']} error {label}") for pred, label in zip(sample["preds"], models)]
        since = (sample["stamp_ns"] - result.frames[0]["stamp_ns"]) / 1e9 if result.frames else 0.0
        label = f"frame {sample['index']}<br>t = {since:.2f} s"
        rows.append(f'<tr><td class="l">{label}</td>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="grid"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def render_html(result: BagEvalResult, data: dict[str, Any], title: str = "DisDepth bag evaluation", preamble: str = "") -> str:
    """The report page; ``title`` and ``preamble`` (trusted HTML placed before the settings) let
    other tools (``disdepth finetune``) head the same report with their own summary."""
    frames = data["frames"]
    topics = data["topics"]
    warnings = "".join(f'<div class="warn">{html.escape(w)}</div>' for w in data["warnings"])
    settings = [("bag", f"{data['bag']} ({data['storage']})"), ("image topic", topics["image"]),
                ("ground truth", topics["depth"] or "none (latency and depth statistics only)"),
                ("camera_info", topics["camera_info"] or "none"),
                ("resolution", data["resolution"]),
                ("protocol", f"range {data['protocol']['min_depth']:g}..{data['protocol']['max_depth']:g} m, crop "
                             f"{data['protocol']['crop'] or 'none'}, per image then averaged, stamp tolerance "
                             f"{data['protocol']['max_dt_s']:g} s"),
                ("frames", f"{frames['images_read']} read, {frames['evaluated']} evaluated, {frames['with_ground_truth']} with "
                           f"ground truth, {frames['skipped']} skipped"),
                ("wall time", f"{data['wall_seconds']:.1f} s")]
    for model in data["models"]:
        settings.append((f"model {model['label']}", f"{model['model']} ({model['backend']}, {model['resolution']}"
                                                    f"{', flip TTA' if model['flip_tta'] else ''})"))
    settings_html = "".join(f'<tr><th class="l">{html.escape(k)}</th><td class="l">{html.escape(str(v))}</td></tr>' for k, v in settings)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: {html.escape(Path(data['bag']).name)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(data['bag'])}: evaluated at <b>{html.escape(data['resolution'])}</b></p>
{warnings}
{preamble}
<h2>Settings</h2><table>{settings_html}</table>
<h2>Accuracy (all frames with ground truth)</h2>{_metrics_table(data)}
{_anchor_section(result, data)}
{_sparsification_section(data)}
<h2>Latency and depth statistics</h2>{_latency_table(data)}
<h2>Plots</h2>{_charts(result)}
<h2>Sample frames</h2>{_sample_grid(result)}
<p class="meta">Per-frame values: frames.csv; overall: metrics.json.</p>
</body></html>
"""
