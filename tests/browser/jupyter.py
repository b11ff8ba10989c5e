"""A real JupyterLab / Notebook 7 server and a headless Debian Chromium, for browser tests.

Everything is local and isolated: the server listens on 127.0.0.1 on a free port with a random
token, serves a temporary root folder, and reads and writes its config, data, runtime, settings and
workspaces only under a temporary folder. Playwright never downloads a browser: it drives
``/usr/bin/chromium`` (``scripts/test.sh`` installs it).

>>> with JupyterServer(tmp_path, app="lab") as server:            # doctest: +SKIP
...     with chromium() as browser:
...         page = browser.new_page()
...         open_notebook(page, server, "demo.ipynb")
...         run_all_cells(page)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "chromium_missing",
    "free_port",
    "JupyterServer",
    "chromium",
    "write_notebook",
    "open_notebook",
    "run_all_cells",
    "accept_dialog",
    "wait_kernel_idle",
    "screenshot",
]

CHROMIUM = os.environ.get("HDNOTEBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or ``None`` when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (scripts/test.sh installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e .[test])"
    return None


def browser_test_marks() -> list:
    """``pytestmark`` for a module of browser tests: marked, and skipped with the reason when
    Chromium or Playwright is missing."""
    import pytest

    marks = [pytest.mark.browser, pytest.mark.slow]
    missing = chromium_missing()
    if missing:
        marks.append(pytest.mark.skip(reason=missing))
    return marks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """``jupyter lab`` (``app="lab"``) or ``jupyter notebook`` (``app="notebook"``) in a subprocess.

    Args:
        base: a temporary folder; the served root is ``base/root``, everything else goes in
            ``base/jupyter``.
        app: ``"lab"`` or ``"notebook"``.
        startup_timeout: seconds to wait for the server to answer.
        python: the Python whose Jupyter runs (another installation, e.g. a virtualenv where the
            wheel is installed); default: this one. For another one, ``PYTHONPATH`` is dropped
            from its environment so that nothing of this checkout leaks in.
    """

    def __init__(self, base: Path, app: str = "lab", startup_timeout: float = 60.0,
                 python: str | None = None) -> None:
        if app not in {"lab", "notebook"}:
            raise ValueError(f"app must be 'lab' or 'notebook', got {app!r}")
        self.app = app
        self.base = Path(base)
        self.root = self.base / "root"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.python = python or sys.executable
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.base / f"jupyter-{app}.log"

    def env(self) -> dict[str, str]:
        home = self.base / "jupyter"
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": home / "config",
            "JUPYTER_DATA_DIR": home / "data",
            "JUPYTER_RUNTIME_DIR": home / "runtime",
            "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
            "IPYTHONDIR": home / "ipython",
        }
        for key, path in dirs.items():
            path.mkdir(parents=True, exist_ok=True)
            env[key] = str(path)
        # no "fetch Jupyter news?" toast, no update check: nothing reaches out
        notes = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
        notes.mkdir(parents=True, exist_ok=True)
        (notes / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env.pop("JUPYTER_PATH", None)
        if self.python != sys.executable:
            env.pop("PYTHONPATH", None)
            env.pop("VIRTUAL_ENV", None)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> JupyterServer:
        self.root.mkdir(parents=True, exist_ok=True)
        module = "jupyterlab" if self.app == "lab" else "notebook"
        cmd = [
            self.python, "-m", module, "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
        ]
        if self.app == "lab":
            cmd.append("--LabApp.extension_manager=readonly")  # no PyPI look-ups
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"jupyter {self.app} did not answer in {self.startup_timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def notebook_url(self, path: str) -> str:
        prefix = "lab/tree" if self.app == "lab" else "notebooks"
        return f"{self.url}/{prefix}/{path}?token={self.token}"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # shut the server down cleanly (it stops its kernels), then make sure it is gone
        try:
            req = urllib.request.Request(f"{self.url}/api/shutdown?token={self.token}", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
            self.proc.wait(timeout=15)
        except Exception:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextlib.contextmanager
def chromium(**launch: Any) -> Iterator[Any]:
    """A headless Chromium (the system one) through Playwright; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **launch)
        try:
            yield browser
        finally:
            browser.close()


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code cells (nbformat 4) to ``path``."""
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
            for src in cells
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path


def open_notebook(page: Any, server: JupyterServer, path: str, timeout: float = 60.0) -> None:
    """Open ``path`` (relative to the server root) and wait until its kernel is idle.

    A "Select Kernel" dialog (shown when the kernel specs load after the notebook) is accepted.
    """
    page.goto(server.notebook_url(path), wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count() and dialog.first.is_visible():
            dialog.first.click()
            quiet_since = None
        elif page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').count():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 1.0:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(200)
    raise TimeoutError(f"the kernel of {path} was not idle after {timeout} s")


def wait_kernel_idle(page: Any, timeout: float = 60.0) -> None:
    """Wait for the notebook toolbar's execution indicator to say the kernel is idle."""
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', state="attached",
                           timeout=timeout * 1000)


def run_all_cells(page: Any, attempts: int = 3, timeout: float = 20.0) -> None:
    """Run > Run All Cells, through the menu bar (the same in JupyterLab 4 and Notebook 7).

    Checks that a cell got queued (its prompt shows ``[*]`` or a number) and tries again if not:
    a click that lands while the application is still settling can be lost.
    """
    queued = ("() => [...document.querySelectorAll('.jp-Cell .jp-InputPrompt')]"
              ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    for attempt in range(attempts):
        accept_dialog(page)  # a late "Select Kernel" dialog would swallow the clicks
        if attempt and page.evaluate(queued):
            return  # the earlier click landed late
        try:
            page.locator(".lm-MenuBar-item", has_text="Run").first.click(timeout=timeout * 1000)
            page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click(timeout=timeout * 1000)
            page.wait_for_function(queued, timeout=timeout * 1000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def accept_dialog(page: Any) -> bool:
    """Accept a modal dialog if one is shown (JupyterLab's "Select Kernel" can come late on a busy
    machine); whether there was one."""
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count() and dialog.first.is_visible():
        dialog.first.click()
        page.wait_for_timeout(300)
        return True
    return False


#: run in a page before its cells: ``window.__hd.shown`` / ``.drawn`` become the times (ms) the first
#: RunDetails view appeared and finished its first full draw
WATCH_FIRST_DRAW_JS = """() => { window.__hd = {}; new MutationObserver(() => {
    const el = document.querySelector('.hdnotebook-rundetails');
    if (el && !window.__hd.shown) window.__hd.shown = performance.now();
    if (el && el.dataset.draws && !window.__hd.drawn) window.__hd.drawn = performance.now();
  }).observe(document.body, {subtree: true, childList: true, attributes: true}); }"""


def wait_until(predicate: Any, timeout: float, what: str, page: Any = None, shot: str = "FAILED.png") -> Any:
    """``predicate()``'s first true value, polled every 0.2 s; after ``timeout`` seconds an
    ``AssertionError`` naming ``what`` (and, given ``page``, a screenshot named ``shot``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    if page is not None:
        screenshot(page, shot)
    raise AssertionError(f"not within {timeout} s: {what}")


def screenshot(page: Any, name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """A full-page screenshot under ``test-artifacts/`` (gitignored) or ``directory``."""
    out = Path(directory or Path(__file__).resolve().parents[2] / "test-artifacts")
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    page.screenshot(path=str(path), full_page=True)
    return path

