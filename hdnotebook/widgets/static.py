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

__all__ = ["static_html", "static_text", "STATUS_COLORS", "PALETTE", "curve_style"]

#: the live widget's colours (js/src/theme.js): status colours and Okabe & Ito's colour-blind-safe palette
STATUS_COLORS = {
    "Queued": "#8c8c8c",
    "Running": "#0072B2",
    "Completed": "#009E73",
    "Failed": "#D55E00",
    "Canceled": "#E69F00",
}

#: one colour per run while the runs fit (by run number, as the widget's table swatches)
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]

#: with more runs than PALETTE has colours, a run's colour tells its best value (js/src/charts.js VIRIDIS)
VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]

#: the status line styles of the widget (js/src/charts.js): SVG dash arrays
_DOTTED, _DASHED = "2,3", "6,3"

#: with more runs than PALETTE has colours, the best BEST_N stand out; with more running runs than
#: FEW_RUNNING they are drawn thin (as in the widget)
BEST_N = 3
FEW_RUNNING = 5


def curve_style(row: dict[str, Any], colouring: dict[str, Any]) -> dict[str, Any]:
    """The stroke of a run's learning curve, as the live widget draws it (charts.js ``lineStyle``).

    ``colouring`` is :func:`_colouring`'s answer. Colour: one per run while the runs fit
    :data:`PALETTE`, else viridis by the run's best value (bright = better); line style by status
    (dotted = stopped early or canceled, dashed = failed), width for the best and the running runs.

    >>> c = {"many": False, "top": {"r1"}, "running": 0}
    >>> curve_style({"id": "r1", "number": 1, "status": "Completed"}, c)["width"]
    3.0
    >>> curve_style({"id": "r2", "number": 2, "status": "Failed"}, c)["dash"]
    '6,3'
    """
    stopped = row.get("stopped_early") or row.get("status") == "Canceled"
    dash = _DOTTED if stopped else _DASHED if row.get("status") == "Failed" else ""
    if not colouring["many"]:
        color = PALETTE[max(0, row.get("number") or 0) % len(PALETTE)]
    elif row.get("best") is None:
        color = "#8c8c8c"
    else:
        lo, hi = colouring["lo"], colouring["hi"]
        t = (row["best"] - lo) / (hi - lo) if hi > lo else 1.0
        t = 1 - t if colouring["reverse"] else t
        color = VIRIDIS[round(min(1.0, max(0.0, t)) * (len(VIRIDIS) - 1))]
    faint = 0.35 if colouring["many"] else 0.8
    if row["id"] in colouring["top"]:
        return {"color": color, "width": 3.0, "opacity": 1.0, "dash": dash, "z": 4}
    if row.get("status") == "Running":
        return {"color": color, "width": 1.4 if colouring["running"] > FEW_RUNNING else 2.5, "opacity": 1.0,
                "dash": dash, "z": 3}
    if row.get("status") == "Failed":
        return {"color": STATUS_COLORS["Failed"], "width": 1.2, "opacity": faint, "dash": dash, "z": 1}
    return {"color": color, "width": 1.2, "opacity": faint * 0.7 if row.get("stopped_early") else faint,
            "dash": dash, "z": 0 if stopped else 2}


def _colouring(state: dict[str, Any]) -> dict[str, Any]:
    """Which runs stand out and the colour scale (charts.js ``curveColouring`` with automatic colour)."""
    rows = [state["runs"][rid] for rid in state["order"]]
    goal = state["meta"].get("goal", "maximize")
    scored = [r for r in rows if r.get("best") is not None and r["status"] != "Failed"]
    ranked = sorted(scored, key=lambda r: r["best"], reverse=goal != "minimize")
    many = len(rows) > len(PALETTE)
    ended = [r["best"] for r in scored if r["status"] != "Running"]
    values = ended if len(ended) >= 2 else [r["best"] for r in scored]
    return {"many": many, "top": {r["id"] for r in ranked[: BEST_N if many else 1]},
            "running": sum(r["status"] == "Running" for r in rows), "reverse": goal == "minimize",
            "lo": min(values, default=0.0), "hi": max(values, default=1.0)}


def _legend(colouring: dict[str, Any], primary: str) -> str:
    """What colours and line styles mean, under the static curves."""
    def line(style: str, label: str) -> str:
        return (f'<span style="margin-right:12px;white-space:nowrap"><svg width="26" height="10" aria-hidden="true">'
                f'<line x1="1" y1="5" x2="25" y2="5" stroke="#777" {style}/></svg> {label}</span>')

    if colouring["many"]:
        stops = ",".join(f"{c} {100 * i / (len(VIRIDIS) - 1):.0f}%" for i, c in enumerate(VIRIDIS))
        colour = (f'<span style="margin-right:12px"><span style="display:inline-block;width:60px;height:8px;'
                  f'background:linear-gradient(90deg,{stops})"></span> colour: best {html.escape(primary)} of the run '
                  f"(dark = worse, bright = better)</span>")
        best = line('stroke-width="3"', f"the best {BEST_N}")
    else:
        colour = '<span style="margin-right:12px">colour: one per run (as the dot in the # column)</span>'
        best = line('stroke-width="3"', "best run")
    return ('<div class="hd-static-legend" style="font-size:11px;margin:2px 0 6px">' + colour + best
            + line('stroke-width="2.5"', "running")
            + line(f'stroke-width="1.2" stroke-dasharray="{_DOTTED}"', "stopped early / canceled")
            + line(f'stroke-width="1.2" stroke-dasharray="{_DASHED}" stroke="{STATUS_COLORS["Failed"]}"', "failed")
            + "</div>")


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
    colouring = _colouring(state)
    styled = sorted(((curve_style(runs[rid], colouring), rid) for rid in order), key=lambda sr: sr[0]["z"])
    for style, rid in styled:
        pts = _polyline(series[rid], lo, hi, longest, w, h)
        if not pts:
            continue
        dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
        out.append(
            f'<polyline fill="none" stroke="{style["color"]}" stroke-width="{style["width"]}" '
            f'stroke-opacity="{style["opacity"]}"{dash} stroke-linecap="round" points="{pts}">'
            f"<title>{e(rid)}</title></polyline>"
        )
    out.append("</svg>")
    out.append(_legend(colouring, primary))

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
        color = STATUS_COLORS.get(row["status"], "#8c8c8c")
        style = curve_style(row, colouring)
        pts = _polyline(series[rid], lo, hi, longest, 80, 16)
        dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
        spark = (f'<svg width="80" height="18" viewBox="0 -1 80 18"><polyline fill="none" stroke="{style["color"]}" '
                 f'stroke-width="1.2"{dash} points="{pts}"/></svg>') if pts else ""
        early = (' <span style="font-size:10px;border:1px solid #999;border-radius:6px;padding:0 3px">early</span>'
                 if row.get("stopped_early") else "")
        cells = [
            f'<span style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:4px;'
            f'background:{style["color"]}"></span>{e(format_number(row.get("number")))}',
            e(rid), f'<span style="color:{color}" aria-hidden="true">\u25cf</span> {e(row["status"])}{early}',
            *(e(format_number(row["params"].get(n))) for n in names),
            e(format_number(row.get("best"))), e(format_number(row.get("last"))), e(format_number(row.get("intervals", 0))),
            e(_duration(row, now)), spark, e(row.get("stop_reason") or row.get("error") or ""),
        ]
        out.append("<tr>" + "".join(f'<td style="padding:2px 6px">{c}</td>' for c in cells) + "</tr>")
    out.append("</tbody></table>")
    if len(order) > max_rows:
        out.append(f"<div>... and {len(order) - max_rows} more runs</div>")
    out.append("</div>")
    return "".join(out)
