"""The package as a user gets it: a wheel built from a clean copy of the tree, installed (not
editable) into fresh virtualenvs, with nothing of this checkout on the path.

The wheel is built by ``python -m build`` from a ``git clone`` of HEAD (no node_modules, no built
bundles: the build hook runs npm itself; npm's download cache is reused). Two virtualenvs get it:

* ``lab``: the wheel + jupyterlab (+ nbclient) — what the README's install line gives. The bundle
  is inside the installed package, ``jupyter labextension list`` / ``jupyter server extension
  list`` show hdnotebook enabled, a notebook executed with nbclient stores the widget's ES module
  (the installed bundle, at most 1.5 MB) in its widget state, and JupyterLab started from this
  virtualenv renders the widget and the sidebar in a headless Chromium.
* ``ipywidgets 7``: the wheel + ipywidgets 7.x (as Colab ships it) + ipykernel, nbclient and
  pytest. The widget model tests run there, a notebook executed there stores the widget, and the
  same JupyterLab renders the widget from a kernel of this virtualenv.

Only commits are built: uncommitted changes are not in the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from browser.jupyter import (
    JupyterServer,
    browser_test_marks,
    chromium,
    open_notebook,
    run_all_cells,
    screenshot,
    write_notebook,
)

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
MAX_BUNDLE_BYTES = 1_500_000  # the widget's ES module
MAX_NOTEBOOK_GROWTH_BYTES = 1_500_000  # a saved notebook with one RunDetails vs without
LABEXTENSION = "hdnotebook-sidebar"


def _env(home: Path) -> dict[str, str]:
    """An environment for another installation: nothing of this checkout or this venv, and
    Jupyter's per-user folders under ``home`` (empty), so that only the installation counts."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        path = home / key.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    env.pop("JUPYTER_PATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 900,
         stdout_only: bool = False) -> str:
    """Run ``cmd``; its stdout + stderr (or stdout alone). A failure shows the command and what it
    printed."""
    t0 = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited with {proc.returncode}:\n{out[-6000:]}")
    print(f"[wheel] {time.monotonic() - t0:5.1f} s  {' '.join(map(str, cmd[:4]))} ...", file=sys.stderr)
    return proc.stdout if stdout_only else out


class Venv:
    """A fresh virtualenv at ``path`` with its own empty Jupyter user folders."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.home = path / "home"
        _run([sys.executable, "-m", "venv", path])
        self.env = _env(self.home)
        self.env["PATH"] = f"{path / 'bin'}{os.pathsep}{self.env.get('PATH', '')}"

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def pip_install(self, *requirements: str | Path) -> None:
        _run([self.python, "-m", "pip", "install", "-q", "--no-compile", *requirements], env=self.env)

    def run(self, *args: str | Path, cwd: Path | None = None, timeout: float = 600, stdout_only: bool = False) -> str:
        return _run([self.python, *args], env=self.env, cwd=cwd or self.home, timeout=timeout, stdout_only=stdout_only)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build`` of a clone of HEAD: the clone, its wheel and its sdist."""
    if subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout: the wheel is built from a clone of HEAD")
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: the wheel's build runs the npm builds (scripts/setup.sh needs it too)")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    _run(["git", "clone", "--quiet", "--no-hardlinks", REPO, src])
    assert not (src / "js" / "node_modules").exists() and not (src / "hdnotebook" / "static").exists()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "SKIP_JUPYTER_BUILDER"}}
    _run([sys.executable, "-m", "build", "--outdir", base / "dist", src], env=env, timeout=1200)
    wheels = list((base / "dist").glob("hdnotebook-*.whl"))
    sdists = list((base / "dist").glob("hdnotebook-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list((base / "dist").iterdir())
    print(f"[wheel] {wheels[0].name}: {wheels[0].stat().st_size / 1e6:.2f} MB; "
          f"{sdists[0].name}: {sdists[0].stat().st_size / 1e6:.2f} MB", file=sys.stderr)
    return {"src": src, "wheel": wheels[0], "sdist": sdists[0], "base": base}


@pytest.fixture(scope="module")
def lab_venv(built: dict[str, Path]) -> Venv:
    """The wheel + jupyterlab (the README's install line) + nbclient, in a fresh virtualenv."""
    venv = Venv(built["base"] / "venv-lab")
    venv.pip_install(built["wheel"], "jupyterlab>=4", "nbclient>=0.9")
    return venv


@pytest.fixture(scope="module")
def ipywidgets7_venv(built: dict[str, Path], lab_venv: Venv) -> Venv:
    """The wheel with ipywidgets 7.x (Colab's), the same anywidget as ``lab_venv``, a kernel,
    nbclient and pytest, in a fresh virtualenv."""
    anywidget_version = lab_venv.run("-c", "import anywidget; print(anywidget.__version__)", stdout_only=True).strip()
    venv = Venv(built["base"] / "venv-ipywidgets7")
    venv.pip_install(built["wheel"], "ipywidgets>=7.6,<8", f"anywidget=={anywidget_version}", "ipykernel>=6",
                     "nbclient>=0.9", "nbformat>=5", "pytest>=8")
    return venv


# -- the build ---------------------------------------------------------------------------------


def test_wheel_carries_the_widget_bundle_the_labextension_and_the_server_config(built):
    with zipfile.ZipFile(built["wheel"]) as whl:
        sizes = {info.filename: info.file_size for info in whl.infolist()}
        data = "hdnotebook-0.1.0.data/data/"
        bundle = sizes.get("hdnotebook/static/run_details.js")
        assert bundle is not None, sorted(sizes)
        assert 100_000 < bundle <= MAX_BUNDLE_BYTES, bundle
        labext = f"{data}share/jupyter/labextensions/{LABEXTENSION}/"
        assert f"{labext}package.json" in sizes and f"{labext}static/style.js" in sizes
        assert any(re.fullmatch(rf"{re.escape(labext)}static/remoteEntry\.\w+\.js", n) for n in sizes)
        install = json.loads(whl.read(f"{labext}install.json"))
        assert install["packageName"] == "hdnotebook" and install["packageManager"] == "python"
        config = json.loads(whl.read(f"{data}etc/jupyter/jupyter_server_config.d/hdnotebook.json"))
        assert config["ServerApp"]["jpserver_extensions"] == {"hdnotebook.server": True}
        # the server extension's own page and no build leftovers
        assert "hdnotebook/server/static/page.js" in sizes
        assert not [n for n in sizes if "node_modules" in n or n.startswith("js/")]
        requires = [line for line in whl.read("hdnotebook-0.1.0.dist-info/METADATA").decode().splitlines()
                    if line.startswith("Requires-Dist: ipywidgets")]
        assert requires == ["Requires-Dist: ipywidgets>=7.6"], requires
    print(f"[wheel] widget bundle in the wheel: {bundle / 1e6:.2f} MB", file=sys.stderr)


def test_sdist_carries_the_js_sources_and_lockfiles_and_no_node_modules(built):
    with tarfile.open(built["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for path in ("pyproject.toml", "js/package.json", "js/package-lock.json", "js/src/run_details.js",
                 "js/src/plotly.js", "js/labextension/package.json", "js/labextension/package-lock.json",
                 "js/labextension/build.js", "js/labextension/src/index.js", "js/labextension/install.json",
                 "jupyter-config/jupyter_server_config.d/hdnotebook.json"):
        assert path in names, path
    assert not [n for n in names if "node_modules" in n]


# -- the installed copy ------------------------------------------------------------------------


def test_installed_package_holds_the_bundle_and_jupyter_lists_both_extensions_enabled(lab_venv):
    where = json.loads(lab_venv.run("-c", (
        "import json, sysconfig, hdnotebook; from hdnotebook.widgets.run_details import BUNDLE; "
        "print(json.dumps({'package': hdnotebook.__file__, 'bundle': str(BUNDLE), "
        "'size': BUNDLE.stat().st_size, 'purelib': sysconfig.get_paths()['purelib']}))"), stdout_only=True))
    assert where["package"].startswith(where["purelib"]), where  # the installed copy, not the checkout
    assert Path(where["bundle"]).is_relative_to(Path(where["package"]).parent), where
    assert 100_000 < where["size"] <= MAX_BUNDLE_BYTES, where

    labext = lab_venv.run("-m", "jupyter", "labextension", "list")
    line = next((ln for ln in labext.splitlines() if LABEXTENSION in ln), "")
    assert "enabled" in line and "OK" in line and "python, hdnotebook" in line, labext

    server = _strip_ansi(lab_venv.run("-m", "jupyter", "server", "extension", "list"))
    line = next((ln for ln in server.splitlines() if "hdnotebook.server" in ln and "enabled" in ln), "")
    assert line, server
    assert re.search(r"hdnotebook\.server\s+\S*\s*OK", server), server


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _notebook_sizes(venv: Venv, built: dict[str, Path]) -> dict:
    """bench/widget.py --notebook, run by the virtualenv's Python on the installed package."""
    out = venv.run(built["src"] / "bench" / "widget.py", "--notebook", "--json", timeout=600, stdout_only=True)
    return json.loads(out.strip().splitlines()[-1])


def _assert_notebook_carries_the_bundle(sizes: dict, venv: Venv) -> None:
    assert Path(sizes["bundle_path"]).is_relative_to(venv.path), sizes  # the installed bundle
    assert sizes["widget_esm_bytes"] and all(sizes["widget_esm_is_the_bundle"]), sizes
    assert all(b <= MAX_BUNDLE_BYTES for b in sizes["widget_esm_bytes"]), sizes
    growth = sizes["notebook_with_bytes"] - sizes["notebook_without_bytes"]
    assert 0 < growth <= MAX_NOTEBOOK_GROWTH_BYTES, sizes
    print(f"[wheel] ipywidgets {sizes['ipywidgets']}: bundle {sizes['bundle_bytes'] / 1e6:.2f} MB; saved notebook "
          f"{sizes['notebook_without_bytes'] / 1e6:.3f} MB without RunDetails, {sizes['notebook_with_bytes'] / 1e6:.3f} "
          f"MB with (+{growth / 1e6:.3f} MB)", file=sys.stderr)


def test_notebook_executed_with_the_installed_package_stores_the_widget_and_its_small_bundle(lab_venv, built):
    sizes = _notebook_sizes(lab_venv, built)
    assert sizes["ipywidgets"].startswith("8."), sizes
    _assert_notebook_carries_the_bundle(sizes, lab_venv)


def test_with_ipywidgets7_the_notebook_stores_the_widget_and_the_model_tests_pass(ipywidgets7_venv, built):
    sizes = _notebook_sizes(ipywidgets7_venv, built)
    assert sizes["ipywidgets"].startswith("7."), sizes
    _assert_notebook_carries_the_bundle(sizes, ipywidgets7_venv)
    # the widget model's tests, against the installed package with ipywidgets 7
    out = ipywidgets7_venv.run("-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                               "--rootdir", built["src"], built["src"] / "tests" / "test_widget_model.py")
    assert re.search(r"\d+ passed", out) and "failed" not in out, out[-3000:]
    print(f"[wheel] ipywidgets 7: {out.strip().splitlines()[-1]}", file=sys.stderr)


# -- in JupyterLab -----------------------------------------------------------------------------


def _sidebar_lists(page, experiment: str) -> str:
    """Open the hdnotebook sidebar; the status it shows for ``experiment``."""
    page.locator('.jp-SideBar.jp-mod-left [data-id="hdnotebook-sidebar"]').click()
    item = page.locator(f'.hdn-item[data-experiment="{experiment}"]')
    item.wait_for(timeout=30_000)
    return item.get_attribute("data-status") or ""


def _browser(test):
    """Marks a test as a browser test (skipped with the reason when Chromium is missing)."""
    for mark in browser_test_marks():
        test = mark(test)
    return test


def _drive_lab(server: JupyterServer, name: str, ipywidgets_major: str, sidebar: bool,
               kernel: str | None = None) -> None:
    """The JupyterLab browser test of test_widget_browser.py, on ``server``, in a notebook of
    ``kernel`` (default: python3); its last cell prints the kernel's ipywidgets version, checked
    against ``ipywidgets_major``."""
    from test_widget_browser import SETUP, _check

    version_cell = "import ipywidgets\nprint('kernel ipywidgets', ipywidgets.__version__)"
    path = write_notebook(server.root / "rundetails.ipynb", [SETUP, "RunDetails(run)", version_cell])
    if kernel:
        nb = json.loads(path.read_text())
        nb["metadata"]["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
        path.write_text(json.dumps(nb, indent=1))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
        try:
            _check(page, "lab", server)
            printed = page.locator(".jp-OutputArea-output", has_text="kernel ipywidgets").first.inner_text()
            assert f"kernel ipywidgets {ipywidgets_major}." in printed, printed
            if sidebar:
                assert _sidebar_lists(page, "browser-test") == "Completed"
            screenshot(page, f"wheel-{name}.png")
        except Exception:
            screenshot(page, f"wheel-{name}-FAILED.png")
            raise
        ours = [e for e in errors if "anywidget" in e or "blob:" in e or "hdnotebook" in e]
        assert not ours, ours


@_browser
def test_jupyterlab_from_the_installed_wheel_renders_the_widget_and_the_sidebar(lab_venv, tmp_path):
    with JupyterServer(tmp_path, app="lab", python=lab_venv.python) as server:
        _drive_lab(server, "lab-ipywidgets8", "8", sidebar=True)


@_browser
def test_jupyterlab_renders_the_widget_from_an_ipywidgets7_kernel(lab_venv, ipywidgets7_venv, tmp_path):
    """JupyterLab 4 (its widget manager is ipywidgets 8's) with the kernel of the ipywidgets 7
    virtualenv, as when a kernel lives in another environment than the server."""
    server = JupyterServer(tmp_path, app="lab", python=lab_venv.python)
    kernel = tmp_path / "jupyter" / "data" / "kernels" / "ipywidgets7"  # in JupyterServer's data dir
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [ipywidgets7_venv.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipywidgets 7)", "language": "python"}))
    with server:
        _drive_lab(server, "lab-ipywidgets7-kernel", "7", sidebar=False, kernel="ipywidgets7")
