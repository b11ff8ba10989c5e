"""The JupyterLab sidebar in a real headless Chromium (SPEC §7): it lists a running experiment whose
progress advances, opening it shows the table and charts; it loads in Notebook 7 without errors;
the plain /hdnotebook page shows the same. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")

from hdnotebook import Experiment, Workspace  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # test_server, however pytest imports
from test_server import TOKEN, JupyterServer, config, slow_train  # noqa: E402

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
    server = JupyterServer(
        str(root), str(home), app="lab",
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
    # only errors of this extension count: Notebook 7 itself throws one with isolated settings
    page.on("pageerror", lambda exc: "hdnotebook" in (exc.stack or "") and errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and "hdnotebook" in msg.text and errors.append(msg.text))
    return page


def progress_done(page: Any, name: str) -> int:
    text = page.locator(f'.hdn-item[data-experiment="{name}"] .hdn-progress-text').inner_text()
    return int(text.split("/")[0])


def test_sidebar_follows_a_running_experiment_and_opens_its_charts(lab: Any) -> None:
    errors: list[str] = []
    page = new_page(lab, errors)
    page.goto(f"{lab['server'].url}/lab?token={TOKEN}", wait_until="domcontentloaded", timeout=60000)
    tab = page.locator('.jp-SideBar.jp-mod-left [data-id="hdnotebook-sidebar"]')
    tab.wait_for(timeout=60000)
    tab.click()
    page.locator(".hdn-list-view").wait_for(state="visible", timeout=10000)

    run = Experiment(lab["workspace"], "browser-live").submit(config(browser_trial, total=8, concurrent=2, seed=11))
    try:
        item = page.locator('.hdn-item[data-experiment="browser-live"]')
        item.wait_for(timeout=20000)
        assert item.get_attribute("data-status") == "Running"
        first = progress_done(page, "browser-live")
        # progress advances while the experiment runs, without reloading
        deadline = time.time() + 40
        while progress_done(page, "browser-live") <= first and time.time() < deadline:
            time.sleep(0.3)
        second = progress_done(page, "browser-live")
        assert second > first, "the sidebar's progress did not advance"
        assert page.locator('.hdn-item[data-experiment="browser-live"]').get_attribute("data-status") == "Running"

        item.click()
        detail = page.locator(".jp-MainAreaWidget .hdn-detail-view")
        detail.wait_for(timeout=15000)
        detail.locator("svg.hdn-curves polyline").first.wait_for(timeout=15000)
        detail.locator("svg.hdn-parcoords polyline").first.wait_for(timeout=15000)
        rows = detail.locator("table.hdn-table tbody tr")
        assert rows.count() >= 2
        header = detail.locator("table.hdn-table thead").inner_text()
        assert "lr" in header and "bs" in header and "accuracy" in header
        # the curves keep growing live
        n0 = detail.locator("svg.hdn-curves polyline").count()
        deadline = time.time() + 30
        while detail.locator("svg.hdn-curves polyline").count() <= n0 and time.time() < deadline:
            time.sleep(0.3)
        assert detail.locator("svg.hdn-curves polyline").count() > n0
        page.screenshot(path=os.path.join(ARTIFACTS, "sidebar-lab.png"))

        # cancel from the view reaches the driver
        page.once("dialog", lambda d: d.accept())
        detail.locator(f'.hdn-detail-head button.hdn-cancel[data-run="{run.id}"]').click()
        run.wait_for_completion()
        assert run.get_status() == "Canceled"
        page.locator('.hdn-item[data-experiment="browser-live"][data-status="Canceled"]').wait_for(timeout=15000)
        detail.locator(".hdn-detail-head .hdn-status-canceled").wait_for(timeout=15000)
        page.screenshot(path=os.path.join(ARTIFACTS, "sidebar-lab-canceled.png"))
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


def test_plain_page_shows_the_same_views(lab: Any) -> None:
    run = Experiment(lab["workspace"], "plain-page").submit(config(slow_train, total=2, concurrent=2, seed=2))
    run.wait_for_completion()
    errors: list[str] = []
    page = new_page(lab, errors)
    page.goto(f"{lab['server'].url}/hdnotebook?token={TOKEN}", wait_until="domcontentloaded", timeout=30000)
    item = page.locator('.hdn-item[data-experiment="plain-page"]')
    item.wait_for(timeout=15000)
    item.click()
    page.locator("#hdn-detail svg.hdn-curves polyline").first.wait_for(timeout=15000)
    page.locator("#hdn-detail svg.hdn-parcoords polyline").first.wait_for(timeout=15000)
    assert page.locator("#hdn-detail table.hdn-table tbody tr").count() == 2
    assert re.search(r"#[0-9a-f]{16}/" + re.escape(run.id) + "$", page.url)
    page.screenshot(path=os.path.join(ARTIFACTS, "plain-page.png"))
    page.close()
    assert errors == []
