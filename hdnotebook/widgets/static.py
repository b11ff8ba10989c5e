"""The static views of RunDetails: HTML (table + inline SVG charts) and plain text.

They go into the widget's MIME bundle next to the live view, so a notebook shown without a kernel
(nbconvert, GitHub, a plain IPython terminal) still shows the runs. No script, no CDN: only
HTML, inline CSS and SVG.
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

from .._format import format_number
from ..run_view import curves

__all__ = ["static_html", "static_text", "STATUS_COLORS"]

#: the live widget's colours (js/src/theme.js): status colours and Okabe & Ito's colour-blind-safe palette
STATUS_COLORS = {
    "Queued": "#8c8c8c",
    "Running": "#0072B2",
    "Completed": "#009E73",
    "Failed": "#D55E00",
    "Canceled": "#E69F00",
}

_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]


def _duration(row: dict[str, Any], now: float) -> str:
    start = row.get("started")
    if not start:
        return ""
    seconds = (row.get("ended") or now) - start
    return _seconds(seconds)


def _seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _polyline(values: list[float | None], lo: float, hi: float, n: int, w: float, h: float) -> str:
    """SVG polyline points for ``values`` (None values break nothing: they are skipped)."""
    span = (hi - lo) or 1.0
    pts = []
    for i, v in enumerate(values):
        if v is None:
            continue
        x = (i / max(n - 1, 1)) * w
        y = h - (v - lo) / span * h
        pts.append(f"{x:.1f},{y:.1f}")
    return " ".join(pts)


def _range(seqs: list[list[float | None]]) -> tuple[float, float]:
    vals = [v for s in seqs for v in s if v is not None and math.isfinite(v)]
    if not vals:
        return 0.0, 1.0
    return min(vals), max(vals)


def _header_text(state: dict[str, Any]) -> list[str]:
    meta, head = state["meta"], state["header"] or {}
    total = head.get("total") or "?"
    lines = [
        f"Experiment {meta.get('experiment')} \u00b7 run {meta.get('parent_id')} \u00b7 {head.get('status')}",
        f"{head.get('finished', 0)}/{total} runs finished ({head.get('runs', 0)} created)",
    ]
    if head.get("best") is not None:
        lines.append(f"best {meta.get('primary')} = {format_number(head['best'])} ({head.get('best_run')})")
    if head.get("stopped_early"):
        lines.append(
            f"{head['stopped_early']} runs stopped early, about {head.get('saved_fraction', 0) * 100:.0f} % "
            f"compute saved ({head.get('saved_intervals')} intervals not run)"
        )
    if head.get("warning"):
        lines.append(f"warning: {head['warning']}")
    return lines


def static_text(state: dict[str, Any]) -> str:
    """A few lines of plain text: the header of the widget."""
    return "RunDetails: " + "\n  ".join(_header_text(state))


def static_html(state: dict[str, Any], max_rows: int = 1000) -> str:
    """A self-contained HTML snapshot: header, learning curves (SVG) and the table with sparklines."""
    meta, head = state["meta"], state["header"] or {}
    primary = meta.get("primary", "")
    now = head.get("now") or time.time()
    order = state["order"]
    runs = state["runs"]
    series = {rid: [] for rid in order}
    series.update({c["id"]: c["y"] for c in curves(state, primary)})
    lo, hi = _range(list(series.values()))
    longest = max((len(s) for s in series.values()), default=0)
    e = html.escape
    out = ['<div class="hdnotebook-rundetails-static" style="font-family:sans-serif;font-size:12px">']
    lines = _header_text(state)
    out.append(f"<div><b>{e(lines[0])}</b></div>")
    out.extend(f"<div>{e(line)}</div>" for line in lines[1:])

    # learning curves: one polyline per run
    w, h = 480.0, 160.0
    out.append(
        f'<svg width="{w + 60:.0f}" height="{h + 30:.0f}" viewBox="-50 -10 {w + 60:.0f} {h + 30:.0f}" '
        f'role="img" aria-label="learning curves of {e(primary)}">'
        f'<text x="-48" y="4" font-size="10">{e(format_number(hi))}</text>'
        f'<text x="-48" y="{h:.0f}" font-size="10">{e(format_number(lo))}</text>'
        f'<line x1="0" y1="{h:.0f}" x2="{w:.0f}" y2="{h:.0f}" stroke="#999"/>'
        f'<line x1="0" y1="0" x2="0" y2="{h:.0f}" stroke="#999"/>'
        f'<text x="{w / 2:.0f}" y="{h + 16:.0f}" font-size="10" text-anchor="middle">'
        f'{e(primary)} per interval (1..{longest})</text>'
    )
    for rid in order:
        pts = _polyline(series[rid], lo, hi, longest, w, h)
        if not pts:
            continue
        row = runs[rid]
        opacity = 0.3 if row.get("stopped_early") else 0.9
        width = 2.5 if rid == head.get("best_run") else 1.2
        out.append(
            f'<polyline fill="none" stroke="{_PALETTE[(row.get("number") or 0) % len(_PALETTE)]}" stroke-width="{width}" '
            f'stroke-opacity="{opacity}" points="{pts}"><title>{e(rid)}</title></polyline>'
        )
    out.append("</svg>")

    # table
    names = [a["name"] for a in meta.get("axes", [])]
    cols = ["#", "run", "status", *names, f"{primary} best", f"{primary} last", "intervals", "duration",
            "curve", "stop reason"]
    out.append('<table style="border-collapse:collapse"><thead><tr>')
    out.extend(f'<th style="text-align:left;padding:2px 6px;border-bottom:1px solid #999">{e(c)}</th>'
               for c in cols)
    out.append("</tr></thead><tbody>")
    for rid in order[:max_rows]:
        row = runs[rid]
        color = STATUS_COLORS.get(row["status"], "#000")
        pts = _polyline(series[rid], lo, hi, longest, 80, 16)
        spark = (f'<svg width="80" height="18" viewBox="0 -1 80 18"><polyline fill="none" stroke="{color}" '
                 f'stroke-width="1.2" points="{pts}"/></svg>') if pts else ""
        cells = [
            e(format_number(row.get("number"))), e(rid), f'<span style="color:{color};font-weight:bold">{e(row["status"])}</span>',
            *(e(format_number(row["params"].get(n))) for n in names),
            e(format_number(row.get("best"))), e(format_number(row.get("last"))), e(str(row.get("intervals", 0))),
            e(_duration(row, now)), spark, e(row.get("stop_reason") or row.get("error") or ""),
        ]
        out.append("<tr>" + "".join(f'<td style="padding:2px 6px">{c}</td>' for c in cells) + "</tr>")
    out.append("</tbody></table>")
    if len(order) > max_rows:
        out.append(f"<div>... and {len(order) - max_rows} more runs</div>")
    out.append("</div>")
    return "".join(out)
