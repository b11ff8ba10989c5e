"""The import layers of DESIGN.md: every ``import`` in the package (inside functions too) points to
its own layer or a lower one; the worker side of the engine and the server import only what they
are allowed to. Read from the source with ``ast``, so nothing is imported to check it."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "hdnotebook"

#: layer of each module (longest dotted prefix wins); an import may point to its own layer or lower
LAYERS: dict[str, int] = {
    "_vocab": 0,
    "_format": 0,  # the one number format of every view
    "space": 1,
    "sampling": 2,
    "policy": 2,
    "insight": 2,  # pure analysis over a space and values
    "estimator": 3,
    "config": 3,
    "store": 4,
    "steering": 4,
    "run_detail": 4,  # one run in full, from the store and its output log  # steering requests and answers as store events
    "channel": 4,
    "run_files": 4,  # the layout of a run's folder
    "run_view": 4,  # the one view model of a run: widget, sidebar and /hdnotebook page draw from it
    "run": 5,
    "experiment_run": 5,
    "insight_job": 5,  # the insight of a run in a process of its own (the server runs it, never imports it)
    "engine": 6,
    "examples": 6,  # training functions for the demos: they log through Run
    "mlflow_store": 6,  # mlflow's tracking-store plugin in trials: it logs through Run
    "workspace": 7,
    "widgets": 8,
    "magic": 8,
    "_magic_options": 8,
    "_magic_space": 8,
    "server": 8,
    "azureml": 9,
    "azure": 9,
    "demo": 10,
    "": 10,  # the package itself: the public face, re-exports only
}

#: modules that may import only these (besides themselves): what runs in worker processes, and
#: the Jupyter server extension, which must not load the engine, scipy or the samplers
RESTRICTED: dict[str, tuple[str, ...]] = {
    "engine.lane": ("_vocab", "run", "channel", "run_files", "engine.trial", "engine.lane"),
    "engine.trial": ("_vocab", "run", "channel", "run_files", "engine.trial"),
    "server": ("_vocab", "_format", "store", "steering", "run_detail", "run_files", "run_view", "server"),
}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _longest(name: str, table: dict[str, object]) -> str | None:
    """The longest dotted prefix of ``name`` in ``table`` (``""``, the package itself, only for itself)."""
    parts = name.split(".") if name else []
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in table:
            return prefix
    return "" if name == "" and "" in table else None


def _imports(name: str, path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, module inside the package) for each import of ``name`` that targets the package."""
    tree = ast.parse(path.read_text(), str(path))
    package = name.split(".") if path.name != "__init__.py" else name.split(".") + ["x"]
    package = [p for p in package if p][:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "hdnotebook" or alias.name.startswith("hdnotebook."):
                    found.append((node.lineno, alias.name[len("hdnotebook") + 1:]))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module is None or not (node.module == "hdnotebook" or node.module.startswith("hdnotebook.")):
                    continue
                base = node.module.split(".")[1:]
            else:
                base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            for alias in node.names:
                if not base and alias.name == "__version__":
                    continue  # a constant of the package, not its public face
                target = ".".join([*base, alias.name])
                found.append((node.lineno, target if target in MODULES else ".".join(base)))
    return found


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _longest(m, LAYERS) is None)
    assert not missing, f"place these modules in a layer of DESIGN.md (and in LAYERS here): {missing}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_upward(name):
    layer = LAYERS[_longest(name, LAYERS)]
    restricted = _longest(name, RESTRICTED)
    problems = []
    for line, target in _imports(name, MODULES[name]):
        target_layer = LAYERS[_longest(target, LAYERS)]
        if target_layer > layer:
            problems.append(f"line {line}: imports {target} (layer {target_layer}) from layer {layer}")
        if restricted is not None and _longest(target, dict.fromkeys(RESTRICTED[restricted])) is None:
            problems.append(f"line {line}: imports {target}; {restricted} may import only {RESTRICTED[restricted]}")
    assert not problems, f"hdnotebook.{name}:\n" + "\n".join(problems)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The walk finds relative and absolute imports, inside functions too (so the test can fail)."""
    source = tmp_path / "space.py"
    source.write_text("def f():\n    from .engine import scheduler\n    import hdnotebook.workspace\n")
    monkeypatch.setitem(MODULES, "space", source)
    targets = [t for _, t in _imports("space", source)]
    assert targets == ["engine.scheduler", "workspace"]
    with pytest.raises(AssertionError, match="imports engine.scheduler"):
        test_no_module_imports_upward("space")
