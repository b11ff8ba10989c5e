"""The static HTML view of RunDetails (the text/html fallback and what nbconvert exports) draws
like the live widget: the colour-blind-safe palette while the runs fit it, viridis by best value
beyond, the status line styles, a legend, and every number through ``format_number``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hdnotebook._format import format_number
from hdnotebook.run_view import RunDetailsModel, apply_message
from hdnotebook.store import Store
from hdnotebook.widgets.static import PALETTE, VIRIDIS, static_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from widget import fill_store  # noqa: E402

#: matplotlib's / plotly's old 10-colour palette, which the static view used to draw with
OLD_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _state(tmp_path: Path, runs: int, running: int = 0) -> dict:
    path = str(tmp_path / "s.sqlite")
    pid = fill_store(path, runs, 20, status="Running" if running else "Completed", running=running)
    return apply_message({}, RunDetailsModel(Store(path), pid).snapshot())


def _curves(html: str) -> list[dict]:
    svg = html[html.index("<svg"):html.index("</svg>")]  # the learning curves (the first SVG)
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', m)) for m in re.findall(r"<polyline ([^>]*)>", svg)]


def test_many_runs_viridis_by_best_with_status_styles_and_a_legend(tmp_path: Path) -> None:
    state = _state(tmp_path, 40, running=8)
    html = static_html(state)
    lines = _curves(html)
    assert len(lines) == 40
    colours = {line["stroke"] for line in lines}
    assert colours <= set(VIRIDIS) | {"#8c8c8c"} and len(colours) >= 4, colours
    assert not any(c.lower() in html.lower() for c in OLD_PALETTE)
    stopped = [r for r in state["runs"].values() if r.get("stopped_early")]
    assert stopped and sum(line.get("stroke-dasharray") == "2,3" for line in lines) == len(stopped)
    # 8 running: thin (more than a few), none of them dotted; the best 3 thick
    widths = sorted(float(line["stroke-width"]) for line in lines)
    assert widths.count(3.0) == 3 and widths.count(1.4) == 8 - sum(
        1 for r in state["runs"].values() if r["status"] == "Running" and r["id"] in _best3(state)), widths
    assert "colour: best accuracy of the run" in html and "stopped early / canceled" in html
    # the "early" tag and the numbers in the one format
    assert html.count(">early</span>") == len(stopped)
    best = max(r["best"] for r in state["runs"].values() if r["best"] is not None)
    assert f">{format_number(best)}<" in html


def _best3(state: dict) -> set:
    scored = [r for r in state["runs"].values() if r.get("best") is not None and r["status"] != "Failed"]
    return {r["id"] for r in sorted(scored, key=lambda r: -r["best"])[:3]}


def test_few_runs_one_palette_colour_each(tmp_path: Path) -> None:
    state = _state(tmp_path, 5)
    lines = _curves(static_html(state))
    numbers = {r["id"]: r["number"] for r in state["runs"].values()}
    assert len(lines) == 5
    assert sorted(line["stroke"] for line in lines) == sorted(PALETTE[n % len(PALETTE)] for n in numbers.values())
