"""RunDetails at scale: bytes and Python time per incremental update against a full snapshot.

Fills a store by hand with an experiment of RUNS runs x INTERVALS intervals of the primary metric
(plus a second metric), then, while the experiment is "Running", logs one new value at a time and
measures what the widget's poller does for it: ``RunDetailsModel.poll()`` plus the JSON encoding of
the update it sends. The baseline is what a widget without an incremental feed would do on every
change: build and encode a full snapshot (``RunDetailsModel.snapshot()``).

    python bench/widget.py                      # 1000 runs x 100 intervals, 50 updates
    python bench/widget.py --runs 200 --intervals 50 --updates 20
    python bench/widget.py --browser            # + JupyterLab in headless Chromium, streaming

What a displayed RunDetails costs a saved notebook: ``--notebook`` executes the same small
experiment notebook twice with nbclient (as ``jupyter nbconvert --execute`` would, widget state
stored), once ending in ``print(run.get_status())`` and once in ``RunDetails(run)``, and prints
the front-end bundle's size and both saved notebooks' sizes (``--json``: as one JSON object). The
widget's ES module is stored in the notebook's widget state, so the bundle's size is most of the
difference. Needs nbclient, nbformat and ipykernel (the ``test`` extra).

    python bench/widget.py --notebook

Measured (2 shared cores, ipywidgets 8.1.9 and 7.8.5, anywidget 0.11.0): the bundle with all of
plotly (plotly.js-dist-min 3.7.0) was 4.87 MB and a saved notebook grew from 0.003 MB to 4.981 MB
(+4.977 MB) with one RunDetails; with plotly built from lib/core + scatter (js/src/plotly.js) the
bundle is 1.10 MB (0.38 MB gzipped) and the same notebook 1.148 MB (+1.145 MB), with either major
of ipywidgets (tests/test_wheel.py asserts both stay under 1.5 MB).

The browser render time at this size is measured by tests/test_widget_browser.py
(``test_render_time_1000_runs_x_100_intervals``), which uses :func:`fill_store` from here.

``--browser`` measures the front end in a real JupyterLab 4 driven by headless Chromium (the test
helpers in ``tests/browser/``): the store holds RUNS runs of which ``--running`` are still running
(half their intervals logged); a notebook shows ``RunDetails``; then this process appends one value
per second to every running run for ``--stream`` seconds, as trials would. Reported: widget shown ->
first full draw; each incremental draw (JavaScript time, and time until the next frame is painted);
how busy the page's main thread was while streaming (Chrome's TaskDuration over wall time); and how
many draws were full redraws. Targets (issue 14): first draw <= 1.5 s, an update <= 100 ms, main
thread <= 20 % busy. ``--trace FILE`` also writes a Chrome trace of the streaming and prints the
page's main-thread time by trace event (script, paint, layerize...: where the busy time goes).

    python bench/widget.py --browser --stream 20 [--trace /tmp/rundetails-trace.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time

SPACE = {"learning_rate": "loguniform(-6, -1)", "batch_size": "choice(16, 32, 64, 128)",
         "optimizer": "choice('sgd', 'adam', 'rmsprop')", "dropout": "uniform(0, 0.5)"}


def fill_store(path: str, runs: int = 1000, intervals: int = 100, status: str = "Running",
               seed: int = 0, running: int = 0) -> str:
    """Write an experiment of ``runs`` x ``intervals`` into the store at ``path``; its parent id.

    About a third of the runs are "stopped early" (Canceled by a policy after 10..60 intervals); the
    last ``running`` runs are still Running, with half their intervals logged.
    """
    from hdnotebook.store import Store

    rng = random.Random(seed)
    store = Store(path)
    pid = f"HD_bench{seed:04d}"
    t0 = time.time() - 3600
    store.add_experiment("bench")
    store.insert_run(id=pid, experiment="bench", parent_id=None, number=None, status=status, created=t0, started=t0,
                     params={}, details={"primary_metric_name": "accuracy", "goal": "maximize",
                                         "max_total_runs": runs, "space": SPACE, "sampling": "random",
                                         "policy": "MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5)"})
    for n in range(runs):
        rid = f"{pid}_{n}"
        lr = math.exp(rng.uniform(-6, -1))
        params = {"learning_rate": lr, "batch_size": rng.choice([16, 32, 64, 128]),
                  "optimizer": rng.choice(["sgd", "adam", "rmsprop"]), "dropout": rng.uniform(0, 0.5)}
        live = n >= runs - running
        stopped = not live and rng.random() < 0.33
        length = rng.randint(10, 60) if stopped else intervals // 2 if live else intervals
        start = t0 + n * 3
        ceiling = 0.7 + 0.25 * rng.random()
        details = {"arguments": [], "gpus": []}
        if stopped:
            details["stop"] = {"policy": "MedianStoppingPolicy", "interval": length, "value": 0.5, "threshold": 0.6,
                               "reason": f"MedianStoppingPolicy: below the median at interval {length}"}
        store.insert_run(id=rid, experiment="bench", parent_id=pid, number=n,
                         status="Running" if live else "Canceled" if stopped else "Completed", created=start,
                         started=start, ended=None if live else start + length, params=params, details=details)
        rows = []
        for k in range(length):
            acc = ceiling * (1 - math.exp(-(k + 1) / 15)) + rng.gauss(0, 0.005)
            rows.append((rid, "accuracy", k, 0, acc, None, start + k))
            rows.append((rid, "loss", k, 0, 1 - acc, None, start + k))
        store.add_metrics(rows)
    store.flush()
    return pid


NOTEBOOK_SETUP = """
from hdnotebook import (Experiment, HyperDriveConfig, RandomParameterSampling, Run, RunDetails, Workspace,
                        choice, uniform)

def train(lr, batch_size):
    run = Run.get_context()
    for epoch in range(5):
        run.log("accuracy", 1 - lr / (epoch + 1) - 1 / batch_size)

space = {"lr": uniform(0.01, 0.5), "batch_size": choice(16, 32, 64)}
config = HyperDriveConfig(estimator=train, hyperparameter_sampling=RandomParameterSampling(space, seed=1),
                          primary_metric_name="accuracy", primary_metric_goal="maximize",
                          max_total_runs=4, max_concurrent_runs=2)
run = Experiment(Workspace("ws"), "bench-notebook").submit(config)
run.wait_for_completion()
"""


def executed_notebook(folder: str, last_cell: str, timeout: float = 180.0) -> tuple[int, dict]:
    """Execute the bench notebook ending in ``last_cell`` in ``folder`` (kernel ``python3``, widget
    state stored); its saved size in bytes and its JSON.

    >>> size, nb = executed_notebook(tmp, "RunDetails(run)")      # doctest: +SKIP
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_SETUP), nbformat.v4.new_code_cell(last_cell)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    os.makedirs(folder, exist_ok=True)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": folder}}).execute()
    text = nbformat.writes(nb)
    with open(os.path.join(folder, "executed.ipynb"), "w", encoding="utf-8") as f:
        f.write(text)
    return len(text.encode("utf-8")), json.loads(text)


def widget_esm_states(nb: dict) -> list[str]:
    """The front-end modules stored in a saved notebook's widget state, one per widget model: the
    bundle (``_bundle``, which RunDetails' small ``_esm`` loader imports), else ``_esm``."""
    state = nb.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    out = []
    for m in state.get("state", {}).values():
        st = m.get("state", {})
        module = st.get("_bundle") or st.get("_esm")
        if isinstance(module, str):
            out.append(module)
    return out


def notebook_sizes() -> dict:
    """The widget bundle's size and a saved notebook's size without and with one ``RunDetails``."""
    import anywidget
    import ipywidgets

    from hdnotebook.widgets.run_details import BUNDLE

    with tempfile.TemporaryDirectory() as tmp:
        without, _ = executed_notebook(os.path.join(tmp, "without"), "print(run.get_status())")
        with_widget, nb = executed_notebook(os.path.join(tmp, "with"), "RunDetails(run)")
    esms = widget_esm_states(nb)
    return {
        "bundle_path": str(BUNDLE),
        "bundle_bytes": BUNDLE.stat().st_size if BUNDLE.is_file() else None,
        "notebook_without_bytes": without,
        "notebook_with_bytes": with_widget,
        "widget_esm_bytes": [len(e.encode("utf-8")) for e in esms],
        "widget_esm_is_the_bundle": [BUNDLE.is_file() and e == BUNDLE.read_text(encoding="utf-8") for e in esms],
        "ipywidgets": ipywidgets.__version__,
        "anywidget": anywidget.__version__,
    }


def print_notebook_sizes(sizes: dict) -> None:
    mb = 1e6
    print(f"RunDetails in a saved notebook (ipywidgets {sizes['ipywidgets']}, anywidget {sizes['anywidget']})")
    bundle = sizes["bundle_bytes"]
    print(f"  widget ES module {sizes['bundle_path']}: " + (f"{bundle / mb:.2f} MB" if bundle else "not built"))
    print(f"  saved notebook without RunDetails: {sizes['notebook_without_bytes'] / mb:8.3f} MB")
    print(f"  saved notebook with one RunDetails: {sizes['notebook_with_bytes'] / mb:7.3f} MB "
          f"(+{(sizes['notebook_with_bytes'] - sizes['notebook_without_bytes']) / mb:.3f} MB; ES modules in the "
          f"widget state: {', '.join(f'{b / mb:.2f} MB' for b in sizes['widget_esm_bytes']) or 'none'})")


def curve_value(n: int, k: int) -> float:
    """The accuracy a streamed run logs at interval ``k`` (a smooth rising curve per run)."""
    return (0.7 + 0.25 * ((n * 7919) % 100) / 100) * (1 - math.exp(-(k + 1) / 15))


def stream(path: str, pid: str, seconds: float, per_second: float = 1.0) -> int:
    """Append a value to every running run of ``pid`` ``per_second`` times a second; values written."""
    from hdnotebook.store import Store

    import sqlite3

    con = sqlite3.connect(path)
    numbers = dict(con.execute("SELECT id, number FROM runs WHERE parent_id = ? AND status = 'Running'", (pid,)))
    steps = {rid: con.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ? AND name = 'accuracy'", (rid,)).fetchone()[0]
             for rid in numbers}
    con.close()
    store = Store(path)
    written = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        now = time.time()
        rows = []
        for rid, k in steps.items():
            acc = curve_value(numbers[rid], k)
            rows += [(rid, "accuracy", k, 0, acc, None, now), (rid, "loss", k, 0, 1 - acc, None, now)]
            steps[rid] = k + 1
        store.add_metrics(rows)
        store.flush()
        written += len(rows) // 2
        time.sleep(max(0.0, 1.0 / per_second - (time.monotonic() - tick)))
    return written


def browser(args: argparse.Namespace) -> None:
    """The front end at scale in JupyterLab + headless Chromium (see the module docstring)."""
    import threading
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "tests"))
    from browser.jupyter import JupyterServer, chromium, open_notebook, run_all_cells, screenshot, write_notebook, WATCH_FIRST_DRAW_JS

    with tempfile.TemporaryDirectory() as tmp:
        server = JupyterServer(Path(tmp), app="lab")
        server.root.mkdir(parents=True, exist_ok=True)
        path = str(server.root / "ws" / "hdnotebook.sqlite")
        pid = fill_store(path, args.runs, args.intervals, status="Running", running=args.running)
        cell = ("from hdnotebook.store import Store\nfrom hdnotebook.experiment_run import HyperDriveRun\n"
                "from hdnotebook import RunDetails\n"
                f"run = HyperDriveRun(Store({path!r}), {pid!r})\nRunDetails(run)")
        write_notebook(server.root / "bench.ipynb", [cell])
        with server, chromium() as b:
            page = b.new_page(viewport={"width": 1280, "height": 1800})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            open_notebook(page, server, "bench.ipynb")
            page.evaluate(WATCH_FIRST_DRAW_JS)
            run_all_cells(page)
            page.wait_for_function(
                "() => { const el = document.querySelector('.hdnotebook-rundetails');"
                f" return el && el.dataset.runs === '{args.runs}' && Number(el.dataset.draws) >= 1; }}",
                timeout=180_000)
            first = page.evaluate("() => window.__hd")
            page_first = page.evaluate("() => document.querySelector('.hdnotebook-rundetails').hdDrawLog[0]")
            page.wait_for_timeout(2000)  # let the page settle

            def metric(name: str) -> float:
                return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == name)

            idle0, iwall0 = metric("TaskDuration"), time.monotonic()
            page.wait_for_timeout(5000)  # the same page, nothing streaming: the baseline
            idle_busy = (metric("TaskDuration") - idle0) / (time.monotonic() - iwall0)
            before = page.evaluate("() => document.querySelector('.hdnotebook-rundetails').hdDrawLog.length")
            if args.trace:
                b.start_tracing(page=page, path=args.trace, categories=["devtools.timeline", "v8.execute"])
            task0, wall0 = metric("TaskDuration"), time.monotonic()
            writer = threading.Thread(target=lambda: setattr(writer, "n", stream(path, pid, args.stream)))
            writer.start()
            writer.join()
            page.wait_for_timeout(1000)
            task1, wall1 = metric("TaskDuration"), time.monotonic()
            if args.trace:
                b.stop_tracing()
            log = page.evaluate(f"() => document.querySelector('.hdnotebook-rundetails').hdDrawLog.slice({before})")
            overlays = page.evaluate("""() => { const el = document.querySelector('.hdnotebook-rundetails');
                const n = (sel, key) => Number((el.querySelector(sel) || {dataset: {}}).dataset[key] || 0);
                return {curves: n('.hd-curves svg.hd-overlay', 'lines'), parcoords: n('.hd-parcoords svg.hd-overlay', 'lines'),
                        time: n('.hd-time svg.hd-overlay', 'markers'), parcoordsRedrawn: n('.hd-parcoords', 'redrawn')}; }""")
            screenshot(page, "rundetails-bench-browser.png")
    updates = [d for d in log if not d["full"]]
    full = [d for d in log if d["full"]]
    js = sorted(d["ms"] for d in updates) or [float("nan")]
    painted = sorted(d["painted"] for d in updates if d["painted"] is not None) or [float("nan")]

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]

    busy = (task1 - task0) / (wall1 - wall0)
    print(f"RunDetails in JupyterLab (headless Chromium): {args.runs} runs x {args.intervals} intervals, "
          f"{args.running} running, streaming {getattr(writer, 'n', 0)} values over {args.stream:.0f} s")
    print(f"  widget shown -> first full draw:  {first['drawn'] - first['shown']:7.0f} ms   (target <= 1500)")
    print(f"  incremental draw, JS (median/p95/max): {pct(js, .5):6.1f} / {pct(js, .95):6.1f} / {js[-1]:6.1f} ms   "
          f"until painted {pct(painted, .5):6.1f} / {pct(painted, .95):6.1f} / {painted[-1]:6.1f} ms   (target <= 100)")
    print(f"  draws while streaming: {len(log)} ({len(full)} full redraws); curves "
          f"{ {k: sum(d['curves'] == k for d in log) for k in ('extended', 'redrawn', 'unchanged', '')} }")
    for name in ("parcoords", "table", "curves", "time"):
        xs = sorted(d["parts"].get(name, 0) for d in updates) or [float("nan")]
        fs = sorted(d["parts"].get(name, 0) for d in full) or [float("nan")]
        print(f"    {name:10s} median {pct(xs, .5):6.1f} ms in updates, {pct(fs, .5):6.1f} ms in full redraws")
    print(f"  on the overlays at the end: {overlays['curves']} curves, {overlays['parcoords']} parallel-coordinates lines, "
          f"{overlays['time']} time-chart markers; parallel coordinates given to plotly {overlays['parcoordsRedrawn']} times")
    first_parts = page_first.get("parts") if page_first else None
    print(f"  first draw by part (ms): {first_parts}")
    print(f"  main thread busy while streaming: {100 * busy:5.1f} %   (target <= 20 %); the same page idle before: "
          f"{100 * idle_busy:4.1f} %; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.trace:
        print("  main thread by trace event (ms, nested counted twice): " +
              ", ".join(f"{name} {ms:.0f}" for name, ms in trace_summary(args.trace)))


def trace_summary(path: str, top: int = 14) -> list[tuple[str, float]]:
    """The renderer main thread's time by trace event name (ms; nested events count in their
    parents too), from a Chrome trace written by ``--trace``: where the busy time goes."""
    with open(path) as f:
        raw = json.load(f)
    events = raw["traceEvents"] if isinstance(raw, dict) else raw
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"}
    totals: dict[str, float] = {}
    for e in events:
        if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in main:
            totals[e["name"]] = totals.get(e["name"], 0.0) + e.get("dur", 0) / 1000
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--intervals", type=int, default=100)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--notebook", action="store_true",
                        help="measure the bundle and a saved notebook with and without RunDetails instead")
    parser.add_argument("--json", action="store_true", help="with --notebook: print the figures as JSON")
    parser.add_argument("--browser", action="store_true", help="measure the front end in JupyterLab + Chromium")
    parser.add_argument("--running", type=int, default=20, help="--browser: runs still running")
    parser.add_argument("--stream", type=float, default=20.0, help="--browser: seconds of streaming")
    parser.add_argument("--trace", default="", help="--browser: write a Chrome trace of the streaming here and "
                        "print the main thread's time by event")
    args = parser.parse_args(argv)
    if args.notebook:
        sizes = notebook_sizes()
        print(json.dumps(sizes)) if args.json else print_notebook_sizes(sizes)
        return
    if args.browser:
        browser(args)
        return

    from hdnotebook.store import Store
    from hdnotebook.run_view import RunDetailsModel

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.sqlite")
        t = time.perf_counter()
        pid = fill_store(path, args.runs, args.intervals)
        fill_s = time.perf_counter() - t
        store = Store(path)
        t = time.perf_counter()
        model = RunDetailsModel(store, pid)
        load_s = time.perf_counter() - t
        points = sum(len(v) for s in model.series.values() for v in s.values())

        snap_times, snap_bytes = [], 0
        for _ in range(5):
            t = time.perf_counter()
            snap_bytes = len(json.dumps(model.snapshot(), allow_nan=False))
            snap_times.append(time.perf_counter() - t)

        # time the store query apart from the model: Store.changes is not this widget's code
        query_times: list[float] = []
        changes = store.changes

        def timed_changes(*a, **k):
            t0 = time.perf_counter()
            try:
                return changes(*a, **k)
            finally:
                query_times.append(time.perf_counter() - t0)

        store.changes = timed_changes  # type: ignore[method-assign]
        rng = random.Random(1)
        upd_times, upd_bytes = [], []
        next_step = {rid: len(s.get("accuracy", [])) for rid, s in model.series.items()}
        ids = list(next_step)
        for _ in range(args.updates):
            rid = rng.choice(ids)
            store.add_metrics([(rid, "accuracy", next_step[rid], 0, rng.random(), None, time.time())])
            next_step[rid] += 1
            store.flush()
            t = time.perf_counter()
            msg = model.poll()
            size = len(json.dumps(msg, allow_nan=False))
            upd_times.append(time.perf_counter() - t)
            upd_bytes.append(size)

    snap_ms = statistics.median(snap_times) * 1000
    upd_ms = statistics.median(upd_times) * 1000
    upd_b = statistics.median(upd_bytes)
    query_ms = statistics.median(query_times) * 1000
    model_ms = statistics.median(u - q for u, q in zip(upd_times, query_times)) * 1000
    print(f"RunDetails bench: {args.runs} runs x {args.intervals} intervals ({points} points, 2 metrics); "
          f"fill {fill_s:.1f} s, first load {load_s:.2f} s (python {sys.version.split()[0]})")
    print(f"  full snapshot (baseline):  {snap_bytes / 1e6:8.2f} MB   {snap_ms:8.1f} ms per change")
    print(f"  incremental update:        {upd_b / 1e3:8.2f} KB   {upd_ms:8.2f} ms per change "
          f"(median of {args.updates}; max {max(upd_bytes)} B, {max(upd_times) * 1000:.2f} ms)")
    print(f"    of which Store.changes:  {query_ms:8.2f} ms; model + JSON {model_ms:.2f} ms")
    print(f"  ratio snapshot/update:     {snap_bytes / upd_b:8.0f} x bytes   {snap_ms / upd_ms:8.0f} x time "
          f"({snap_ms / model_ms:.0f} x without the store query)")


if __name__ == "__main__":
    main()
