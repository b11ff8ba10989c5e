"""The JupyterLab sidebar in a real headless Chromium (SPEC §7): it lists a running experiment whose
progress advances; opening it shows the RunDetails widget's own view, fed by the server's view model
(rows live, parallel coordinates with a log axis for a loguniform parameter and categories for a
choice, the steering panel) and a pause from it reaches the driver; it loads in Notebook 7 without
errors; the plain /hdnotebook page shows the same view. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")

from hdnotebook import (  # noqa: E402
    Experiment,
    HyperDriveConfig,
    NoTerminationPolicy,
    RandomParameterSampling,
    Workspace,
    choice,
    loguniform,
)
from hdnotebook.steering import steering_events  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # test_server, however pytest imports
from browser.jupyter import wait_until  # noqa: E402
from test_server import TOKEN, JupyterServer, slow_train  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEXTENSION = os.path.join(REPO, "hdnotebook", "labextension")
ARTIFACTS = os.path.join(REPO, "test-artifacts")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]


def browser_trial(lr: float, bs: int) -> None:
    slow_train(lr, bs, epochs=14, pause=0.2)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (scripts/test.sh installs Debian's)")
    if not os.path.exists(os.path.join(LABEXTENSION, "package.json")):
        pytest.fail("the JupyterLab extension is not built: run scripts/setup.sh (npm run build in js/labextension)")
    base = tmp_path_factory.mktemp("hdlab")
    root, home = base / "root", base / "home"
    root.mkdir()
    home.mkdir()
    # the freshly built extension, found through the isolated data dir (whatever pip installed)
    os.makedirs(home / "data" / "labextensions")
    os.symlink(LABEXTENSION, home / "data" / "labextensions" / "hdnotebook-sidebar")
    # no "get notified about Jupyter news?" toast over the screenshots
    os.makedirs(home / "config" / "labconfig")
    (home / "config" / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}'
    )
    # the freshly built extension, not one installed in the virtualenv: jupyter_core puts the
    # environment's folders before the user's in a virtualenv unless told otherwise
    server = JupyterServer(
        str(root), str(home), app="lab", env={"JUPYTER_PREFER_ENV_PATH": "0"},
        extra=[
            "--LabApp.news_url=None",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ],
    )
    os.makedirs(ARTIFACTS, exist_ok=True)
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield {"server": server, "browser": browser, "workspace": Workspace(str(root / ".hdnotebook"))}
        finally:
            browser.close()
            server.stop()


def new_page(lab: Any, errors: list[str]) -> Any:
    page = lab["browser"].new_page(viewport={"width": 1400, "height": 900})
    # only errors of this extension and of the widget's bundle (a blob: module in JupyterLab) count:
    # Notebook 7 itself throws one with isolated settings
    ours = ("hdnotebook", "blob:", "run_details.js")
    page.on("pageerror", lambda exc: any(s in (exc.stack or "") for s in ours) and errors.append(f"pageerror: {exc}\n{exc.stack}"))
    page.on("console", lambda msg: msg.type == "error" and any(s in msg.text for s in ours) and errors.append(msg.text))
    return page


def progress_done(page: Any, name: str) -> int:
    text = page.locator(f'.hdn-item[data-experiment="{name}"] .hdn-progress-text').inner_text()
    return int(text.split("/")[0])


def log_space_config(total: int, concurrent: int, seed: int) -> HyperDriveConfig:
    """``lr`` on a log scale and ``bs`` a choice: the views must draw a log axis and categories."""
    return HyperDriveConfig(
        estimator=browser_trial,
        hyperparameter_sampling=RandomParameterSampling({"lr": loguniform(-4, 0), "bs": choice(1, 2, 4)}, seed=seed),
        policy=NoTerminationPolicy(), primary_metric_name="accuracy", primary_metric_goal="maximize",
        max_total_runs=total, max_concurrent_runs=concurrent,
    )


def until(predicate: Any, timeout: float, what: str, page: Any = None) -> Any:
    return wait_until(predicate, timeout, what, page, "sidebar-FAILED.png")


def pauses_applied(store: Any, run_id: str) -> list[dict[str, Any]]:
    """The pause requests the driver applied, from the store's events."""
    store.flush()
    return [e for e in steering_events(store, run_id) if e["action"] == "pause" and e["state"] == "applied"]


def test_sidebar_follows_a_running_experiment_and_its_tab_is_the_widgets_view(lab: Any) -> None:
    errors: list[str] = []
    page = new_page(lab, errors)
    page.goto(f"{lab['server'].url}/lab?token={TOKEN}", wait_until="domcontentloaded", timeout=60000)
    tab = page.locator('.jp-SideBar.jp-mod-left [data-id="hdnotebook-sidebar"]')
    tab.wait_for(timeout=60000)
    tab.click()
    page.locator(".hdn-list-view").wait_for(state="visible", timeout=10000)

    store = lab["workspace"].store
    run = Experiment(lab["workspace"], "browser-live").submit(log_space_config(total=16, concurrent=2, seed=11))
    try:
        item = page.locator('.hdn-item[data-experiment="browser-live"]')
        item.wait_for(timeout=20000)
        assert item.get_attribute("data-status") == "Running"
        first = progress_done(page, "browser-live")
        # progress advances while the experiment runs, without reloading
        until(lambda: progress_done(page, "browser-live") > first, 60, "the sidebar's progress to advance", page)
        assert page.locator('.hdn-item[data-experiment="browser-live"]').get_attribute("data-status") == "Running"

        # the experiment's tab: the widget's own view, fed by the server's view model
        item.click()
        view = page.locator('.jp-MainAreaWidget .hdnotebook-rundetails[data-source="rest"]')
        view.wait_for(timeout=60000)
        rows = view.locator(".hd-table tbody tr[data-run]")
        until(lambda: rows.count() >= 1, 30, "rows in the tab's table", page)
        # rows arrive live: more rows (and a later seq) while the experiment still runs
        n0, seq0 = rows.count(), int(view.get_attribute("data-seq") or 0)
        until(lambda: rows.count() > n0 and int(view.get_attribute("data-seq") or 0) > seq0, 60, "new rows in the tab", page)
        assert run.get_status() == "Running" and view.get_attribute("data-status") == "Running"
        # the parallel coordinates: lr on a log axis, bs's choices as categories
        def annotations() -> list[str]:
            return view.locator(".hd-parcoords .annotation-text").evaluate_all("els => els.map(e => e.textContent)")
        until(lambda: "lr (log)" in annotations(), 30, "the log axis of lr", page)
        labels = annotations()
        for label in ("lr (log)", "bs", "accuracy", "1", "2", "4"):
            assert label in labels, (label, labels)
        # the steering panel, and a pause from it reaches the driver
        pause = view.locator(".hd-steer .hd-pause")
        until(lambda: pause.is_enabled() and pause.inner_text() == "Pause", 30, "an enabled Pause button", page)
        assert pauses_applied(store, run.id) == []
        pause.click()
        until(lambda: view.locator(".hd-steer").get_attribute("data-result") == "applied", 30, "the driver's answer", page)
        assert view.locator(".hd-steer").get_attribute("data-via") == "rest"
        applied = pauses_applied(store, run.id)
        assert len(applied) == 1 and applied[0]["source"].startswith("jupyter-server"), applied
        # the view shows it (the next poll carries the driver's answer), the list still says Running
        until(lambda: view.locator(".hd-steer").get_attribute("data-paused") == "1", 30, "the paused state in the tab", page)
        until(lambda: pause.inner_text() == "Resume", 10, "the Resume button", page)
        # paused: once the running trials end, no new one starts
        until(lambda: not [c for c in store.child_runs(run.id) if c.status in ("Running", "Queued")], 60,
              "the running trials to finish", page)
        created = len(store.child_runs(run.id))
        time.sleep(2.0)
        assert len(store.child_runs(run.id)) == created < 16
        page.screenshot(path=os.path.join(ARTIFACTS, "sidebar-lab.png"))

        # cancel from the tab reaches the driver too
        view.locator(".hd-cancel-exp").click()
        run.wait_for_completion()
        assert run.get_status() == "Canceled"
        page.locator('.hdn-item[data-experiment="browser-live"][data-status="Canceled"]').wait_for(timeout=15000)
        until(lambda: view.get_attribute("data-status") == "Canceled", 30, "Canceled in the tab", page)
        # every poll of the view answered (a failed one shows a warning on the view; none here)
        stats = view.evaluate("el => el.hdRestModel.stats")
        assert stats["errors"] == 0 and stats["polls"] >= 3, stats
        page.screenshot(path=os.path.join(ARTIFACTS, "sidebar-lab-canceled.png"))
        assert len(pauses_applied(store, run.id)) == 1
    finally:
        run.cancel()
        run.wait_for_completion()
        page.close()
    assert errors == []


def test_loads_in_notebook_7_without_errors(lab: Any) -> None:
    errors: list[str] = []
    page = new_page(lab, errors)
    page.goto(f"{lab['server'].url}/tree?token={TOKEN}", wait_until="domcontentloaded", timeout=60000)
    page.locator("#main-panel, .jp-FileBrowser").first.wait_for(timeout=60000)
    # Notebook 7 has a left area too: the sidebar panel is there (toggled from the View menu)
    page.wait_for_function(
        "() => document.querySelector('#hdnotebook-sidebar') !== null", timeout=20000
    )
    time.sleep(1)
    page.screenshot(path=os.path.join(ARTIFACTS, "notebook7-tree.png"))
    page.close()
    assert errors == []


def test_plain_page_shows_the_same_view(lab: Any) -> None:
    from hdnotebook._format import format_number
    from hdnotebook.run_view import RunDetailsModel

    run = Experiment(lab["workspace"], "plain-page").submit(log_space_config(total=3, concurrent=3, seed=2))
    run.wait_for_completion()
    errors: list[str] = []
    page = new_page(lab, errors)
    page.goto(f"{lab['server'].url}/hdnotebook?token={TOKEN}", wait_until="domcontentloaded", timeout=30000)
    item = page.locator('.hdn-item[data-experiment="plain-page"]')
    item.wait_for(timeout=15000)
    item.click()
    view = page.locator('#hdn-detail .hdnotebook-rundetails[data-source="rest"]')
    view.wait_for(timeout=60000)
    until(lambda: view.get_attribute("data-status") == "Completed" and view.locator(".hd-table tbody tr[data-run]").count() == 3,
          30, "the three runs on the page", page)
    assert re.search(r"#[0-9a-f]{16}/" + re.escape(run.id) + "$", page.url)
    # the numbers the kernel's model (the widget's) has, written in the one format, in the list and the view
    header = RunDetailsModel(lab["workspace"].store, run.id).header()
    best = format_number(header["best"])
    assert item.locator(".hdn-best").inner_text() == f"accuracy {best}"
    until(lambda: f"= {best} in run" in view.locator(".hd-stats").inner_text(), 10, "the best value in the header", page)
    best_row = view.locator(f'.hd-table tbody tr[data-run="{header["best_run"]}"]')
    assert "hd-best" in (best_row.get_attribute("class") or "") and best in best_row.inner_text()
    until(lambda: "lr (log)" in view.locator(".hd-parcoords .annotation-text").evaluate_all("els => els.map(e => e.textContent)"),
          30, "the log axis of lr", page)
    # the insight views: the importances the kernel computes, from the server's job in its own process
    if importlib.util.find_spec("sklearn") is not None:
        from hdnotebook.widgets.run_details import kernel_view_model

        want = kernel_view_model(lab["workspace"].store, run.id).header()["importance"]["values"]
        bars = view.locator(".hd-imp-row")
        view.locator(".hd-insight").scroll_into_view_if_needed()  # the insight panel draws while on screen
        until(lambda: bars.count() == len(want) == 2, 90, "the importance bars", page)
        assert {b.get_attribute("data-param"): float(b.get_attribute("data-value")) for b in bars.all()} == want
    page.screenshot(path=os.path.join(ARTIFACTS, "plain-page.png"))
    page.close()
    assert errors == []
