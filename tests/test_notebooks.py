"""Every example notebook runs top to bottom on a fresh kernel and shows what it promises.

Each notebook is executed with nbclient in a temporary copy of ``notebooks/`` (so the repository
keeps notebooks without outputs, and the workspace ``.hdnotebook`` lands in the copy). The kernel
is this interpreter, through a kernel spec written for the test, so the test does not depend on
which ``python3`` kernel spec happens to be installed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("sklearn")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL_NAME = "hdnotebook-test"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: notebooks that need an optional package: skipped, with the reason, when it is missing
REQUIRES = {"06_pytorch_gpu.ipynb": "torch", "08_azureml_pytorch_cpu.ipynb": "torch",
            "21_sweep_job_pytorch_v2.ipynb": "torch"}
TIMEOUT = 240

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory, monkeypatch_module):
    """A kernel spec that runs this very interpreter, found through JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hdnotebook tests",
        "language": "python",
    }))
    monkeypatch_module.setenv("JUPYTER_PATH", str(root))
    return KERNEL_NAME


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def notebook_names() -> list[str]:
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_notebooks_are_saved_without_outputs():
    names = notebook_names()
    assert len(names) == 11, names
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name} is saved with outputs"


def _outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def _text(output) -> str:
    if output.output_type == "stream":
        return output.text
    data = output.get("data", {})
    return data.get("text/plain", "")


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_runs_and_shows_the_widget_and_the_best_run(name, kernel_name, tmp_path):
    module = REQUIRES.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{name} needs {module}, which is not installed")
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns(".hdnotebook", ".ipynb_checkpoints"))
    nb = nbformat.read(folder / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(folder)}})
    started = time.time()
    client.execute()
    seconds = time.time() - started
    print(f"{name}: {seconds:.1f} s")

    outputs = list(_outputs(nb))
    for cell in nb.cells:
        if cell.cell_type == "code" and "raises-exception" not in cell.metadata.get("tags", []):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, [(e.ename, e.evalue) for e in errors]
    views = [o for o in outputs if "hdnotebook-rundetails-static" in o.get("data", {}).get("text/html", "")]
    assert views, f"{name} displayed no RunDetails"
    # run headless (nbclient, as nbconvert --execute and papermill), a RunDetails ends as its static
    # view of the final state, which the saved notebook and an HTML export show without a widget manager
    assert not any(WIDGET_VIEW in o["data"] for o in views), f"{name} kept a widget view nothing can draw"
    for o in views:  # the final state, not the one at display time
        assert re.search(r"\u00b7 (Completed|Canceled|Failed)\b", o["data"]["text/plain"]), o["data"]["text/plain"]
    text = "\n".join(_text(o) for o in outputs)
    assert re.search(r"Best run: HD_\w+", text), f"{name} printed no best run:\n{text[-2000:]}"
    assert (folder / ".hdnotebook").is_dir(), "the workspace should be next to the notebook"


def test_magic_notebook_shows_the_error_with_its_line(kernel_name, tmp_path):
    """The deliberate mistake in 03_magic prints IPython's one-line UsageError with the line."""
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns(".hdnotebook"))
    nb = nbformat.read(folder / "03_magic.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type == "code" and (
        any(key in c.source for key in ("load_ext", "load_digits", "def train"))
        or "raises-exception" in c.metadata.get("tags", []))]
    nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(folder)}}).execute()
    (cell,) = [c for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    # IPython prints a UsageError as one line on stderr, without a traceback
    assert "UsageError: line 3: unknown expression choise()" in stderr, cell.outputs
    assert "did you mean 'choice'" in stderr
    assert "Traceback" not in stderr
