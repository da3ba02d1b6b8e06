"""Small inline-SVG charts (line over time, histogram) for the self-contained HTML report.

matplotlib is not a project dependency; these few lines of SVG need none and stay sharp at any
zoom. Values are escaped; NaN/None points are left out.
"""

from __future__ import annotations

import html
import math
from typing import Optional, Sequence

import numpy as np

WIDTH, HEIGHT = 560, 220
MARGIN = dict(left=56, right=12, top=28, bottom=34)
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _frame(title: str, x_label: str, y_label: str, x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[list[str], callable]:
    left, right, top, bottom = MARGIN["left"], WIDTH - MARGIN["right"], MARGIN["top"], HEIGHT - MARGIN["bottom"]
    (x0, x1), (y0, y1) = x_range, y_range
    x1 = x1 if x1 > x0 else x0 + 1.0
    y1 = y1 if y1 > y0 else y0 + 1.0

    def to_px(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
             f'<text x="{WIDTH / 2}" y="17" text-anchor="middle" font-size="13" font-weight="bold">{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>']
    for y in _ticks(y0, y1):
        _, py = to_px(x0, y)
        parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{py + 4:.1f}" text-anchor="end" font-size="10">{_fmt(y)}</text>')
    for x in _ticks(x0, x1):
        px, _ = to_px(x, y0)
        parts.append(f'<text x="{px:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10">{_fmt(x)}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{HEIGHT - 4}" text-anchor="middle" font-size="11">{html.escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{(top + bottom) / 2}" text-anchor="middle" font-size="11" '
                 f'transform="rotate(-90 12 {(top + bottom) / 2})">{html.escape(y_label)}</text>')
    return parts, to_px


def _legend(parts: list[str], labels: Sequence[str]) -> None:
    if len(labels) < 2:
        return
    for i, label in enumerate(labels):
        x = MARGIN["left"] + 8 + i * 160
        parts.append(f'<rect x="{x}" y="{MARGIN["top"] + 2}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{MARGIN["top"] + 11}" font-size="10">{html.escape(label[:24])}</text>')


def line_chart(title: str, x: Sequence[float], series: dict[str, Sequence[Optional[float]]], x_label: str, y_label: str) -> str:
    """One polyline per series (gaps where a value is missing)."""
    values = [v for ys in series.values() for v in ys if v is not None and math.isfinite(v)]
    if not values or not len(x):
        return empty_chart(title, "no data")
    y0, y1 = min(0.0, min(values)), max(values) * 1.05 or 1.0
    parts, to_px = _frame(title, x_label, y_label, (float(min(x)), float(max(x))), (y0, y1))
    for i, (label, ys) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        segment: list[str] = []
        for xv, yv in zip(x, ys):
            if yv is None or not math.isfinite(yv):
                if len(segment) > 1:
                    parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(segment)}"/>')
                segment = []
                continue
            px, py = to_px(float(xv), float(yv))
            segment.append(f"{px:.1f},{py:.1f}")
        if len(segment) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(segment)}"/>')
        elif len(segment) == 1:
            cx, cy = segment[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
    _legend(parts, list(series))
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, series: dict[str, Sequence[Optional[float]]], x_label: str, bins: int = 20) -> str:
    """Overlaid histograms (shared bins) of each series' finite values."""
    clean = {k: np.asarray([v for v in vs if v is not None and math.isfinite(v)], dtype=np.float64) for k, vs in series.items()}
    everything = np.concatenate([v for v in clean.values()]) if clean else np.zeros(0)
    if everything.size == 0:
        return empty_chart(title, "no data")
    lo, hi = float(everything.min()), float(everything.max())
    if hi <= lo:
        lo, hi = lo - 0.5 * abs(lo or 1.0), hi + 0.5 * abs(hi or 1.0)
    edges = np.linspace(lo, hi, bins + 1)
    counts = {k: np.histogram(v, bins=edges)[0] for k, v in clean.items()}
    top = max(int(c.max()) for c in counts.values()) or 1
    parts, to_px = _frame(title, x_label, "frames", (lo, hi), (0.0, top * 1.1))
    width = len(clean)
    for i, (label, count) in enumerate(counts.items()):
        color = COLORS[i % len(COLORS)]
        for b, n in enumerate(count):
            if n == 0:
                continue
            x_left, y_top = to_px(edges[b], float(n))
            x_right, y_bottom = to_px(edges[b + 1], 0.0)
            bar_w = (x_right - x_left) / width
            parts.append(f'<rect x="{x_left + i * bar_w:.1f}" y="{y_top:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                         f'height="{y_bottom - y_top:.1f}" fill="{color}" fill-opacity="0.8"/>')
    _legend(parts, list(series))
    parts.append("</svg>")
    return "".join(parts)


def empty_chart(title: str, message: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="60" viewBox="0 0 {WIDTH} 60">'
            f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">{html.escape(title)}</text>'
            f'<text x="{WIDTH / 2}" y="42" text-anchor="middle" font-size="12" fill="#777">{html.escape(message)}</text></svg>')
