"""A run's files on disk: the snapshot it ran from, its working directory, its artifacts.

As on Azure ML, a script experiment runs from a **snapshot** of ``source_directory`` taken when
it is submitted (later edits to the folder do not change its trials), and every trial runs in a
copy of that snapshot of its own, so ``./outputs/`` and ``./logs/`` belong to that trial alone::

    <workspace>/snapshots/<experiment run id>/   source_directory as it was at submit
    <workspace>/runs/<run id>/code/              the trial's working directory (a copy of it)
    <workspace>/runs/<run id>/code/outputs/      what the trial saves (models, checkpoints)
    <workspace>/runs/<run id>/code/logs/
    <workspace>/runs/<run id>/files/             files uploaded with run.upload_file, images,
                                                 azureml-logs/70_driver_log.txt (its output)
    <workspace>/runs/<run id>/run.json           tags set on the run

A run's *file names* (``run.get_file_names()``) are ``outputs/...`` and ``logs/...`` from its
working directory and everything under ``files/``, as relative POSIX paths.

This module only moves files; it imports nothing of hdnotebook, so the trial side, the engine
and the read side share it.

>>> import tempfile, pathlib
>>> ws = tempfile.mkdtemp()
>>> run_dir = run_directory(ws, "HD_1_0")
>>> _ = save_file(run_dir, "outputs/note.txt", io.BytesIO(b"hi"))
>>> list_file_names(run_dir)
['outputs/note.txt']
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import IO, Any

__all__ = [
    "DRIVER_LOG", "IGNORED_NAMES", "SNAPSHOT_LIMIT_BYTES", "run_directory", "snapshot_directory",
    "working_directory", "files_directory", "take_snapshot", "prepare_working_directory",
    "list_file_names", "resolve_file", "save_file", "read_run_json", "update_run_json",
]

#: where a script trial's standard output and error go, under the run's file names (the v1 name)
DRIVER_LOG = "azureml-logs/70_driver_log.txt"
#: folders of a working directory that are the run's own files
OUTPUT_FOLDERS = ("outputs", "logs")
#: never part of a snapshot: caches, version control, workspaces and earlier outputs
IGNORED_NAMES = (".hdnotebook", ".git", "__pycache__", ".ipynb_checkpoints", "outputs", "logs",
                 "azureml-logs", ".azureml", "mlruns")
#: Azure ML refuses a snapshot above 300 MB; so does this
SNAPSHOT_LIMIT_BYTES = 300 * 1024 * 1024
IGNORE_FILE = ".amlignore"


def run_directory(workspace_path: str, run_id: str) -> str:
    """``<workspace>/runs/<run id>``: everything of one run on disk."""
    return os.path.join(workspace_path, "runs", run_id)


def snapshot_directory(workspace_path: str, experiment_run_id: str) -> str:
    """``<workspace>/snapshots/<experiment run id>``: ``source_directory`` as it was at submit."""
    return os.path.join(workspace_path, "snapshots", experiment_run_id)


def working_directory(run_dir: str) -> str:
    return os.path.join(run_dir, "code")


def files_directory(run_dir: str) -> str:
    return os.path.join(run_dir, "files")


def _ignore_patterns(source: str) -> list[str]:
    patterns = list(IGNORED_NAMES)
    path = os.path.join(source, IGNORE_FILE)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            patterns += [line.strip().strip("/") for line in fh if line.strip() and not line.startswith("#")]
    return patterns


def take_snapshot(source_directory: str, destination: str, skip: Iterable[str] = ()) -> str:
    """Copy ``source_directory`` to ``destination`` (once; an existing snapshot is kept).

    Leaves out :data:`IGNORED_NAMES`, the patterns of a ``.amlignore`` file in the folder, and the
    folders in ``skip`` (e.g. the workspace, when it lies inside the source folder).

    Raises:
        FileNotFoundError: ``source_directory`` is not a folder.
        ValueError: the snapshot would be larger than :data:`SNAPSHOT_LIMIT_BYTES`.
    """
    source = os.path.abspath(source_directory)
    if not os.path.isdir(source):
        raise FileNotFoundError(f"source_directory {source_directory!r} is not a folder ({source})")
    if os.path.isdir(destination):
        return destination
    patterns = _ignore_patterns(source)
    skipped = {os.path.abspath(p) for p in skip}
    total = 0

    def ignore(folder: str, names: list[str]) -> set[str]:
        nonlocal total
        left_out = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
        left_out |= {n for n in names if os.path.abspath(os.path.join(folder, n)) in skipped}
        for name in names:
            path = os.path.join(folder, name)
            if name not in left_out and os.path.isfile(path):
                total += os.path.getsize(path)
        if total > SNAPSHOT_LIMIT_BYTES:
            raise ValueError(
                f"source_directory {source!r} holds more than {SNAPSHOT_LIMIT_BYTES // 2**20} MB; a "
                f"snapshot of it is taken for every experiment. Move data out of it, or list what to "
                f"leave out in {os.path.join(source, IGNORE_FILE)} (one pattern per line)"
            )
        return left_out

    parent = os.path.dirname(destination)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".snapshot-", dir=parent)
    try:
        shutil.copytree(source, os.path.join(staging, "s"), ignore=ignore, symlinks=True)
        try:
            os.replace(os.path.join(staging, "s"), destination)
        except OSError:
            if not os.path.isdir(destination):  # another process won the race: keep theirs
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def prepare_working_directory(snapshot: str | None, run_dir: str) -> str:
    """Make the run's working directory: a copy of ``snapshot`` with empty ``outputs/``, ``logs/``.

    A working directory that exists already (a retried trial) is used as it is.
    """
    work = working_directory(run_dir)
    if not os.path.isdir(work):
        if snapshot is not None:
            shutil.copytree(snapshot, work, symlinks=True)
        else:
            os.makedirs(work)
    for folder in OUTPUT_FOLDERS:
        os.makedirs(os.path.join(work, folder), exist_ok=True)
    os.makedirs(files_directory(run_dir), exist_ok=True)
    return work


def _walk(root: str, prefix: str) -> list[str]:
    names = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), root)
            names.append(f"{prefix}{relative.replace(os.sep, '/')}")
    return names


def list_file_names(run_dir: str) -> list[str]:
    """The run's file names, sorted: ``outputs/...``, ``logs/...`` and everything uploaded."""
    names: set[str] = set()
    work = working_directory(run_dir)
    for folder in OUTPUT_FOLDERS:
        names.update(_walk(os.path.join(work, folder), f"{folder}/"))
    names.update(_walk(files_directory(run_dir), ""))
    return sorted(names)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"a run's file name must be a non-empty string such as 'outputs/model.pkl', got {name!r}")
    clean = os.path.normpath(name.replace("\\", "/")).replace(os.sep, "/")
    if clean.startswith("../") or clean == ".." or os.path.isabs(clean):
        raise ValueError(f"a run's file name must be relative and stay inside the run, got {name!r}")
    return clean


def resolve_file(run_dir: str, name: str) -> str:
    """The path on disk of the run's file ``name`` (a file, or a folder for a prefix).

    Raises:
        FileNotFoundError: naming the file and listing the run's files.
    """
    clean = _check_name(name)
    candidates = [os.path.join(files_directory(run_dir), clean)]
    if clean.split("/", 1)[0] in OUTPUT_FOLDERS:
        candidates.insert(0, os.path.join(working_directory(run_dir), clean))
    for path in candidates:
        if os.path.exists(path):
            return path
    known = list_file_names(run_dir)
    shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
    raise FileNotFoundError(f"the run has no file {name!r}; its files: {shown or 'none'}")


def save_file(run_dir: str, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes]) -> str:
    """Store a file under the run's file name ``name`` (``upload_file``); returns its path."""
    clean = _check_name(name)
    target = os.path.join(files_directory(run_dir), clean)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if isinstance(path_or_stream, (str, os.PathLike)):
        if not os.path.isfile(path_or_stream):
            raise FileNotFoundError(f"upload_file({name!r}, ...): no file at {os.fspath(path_or_stream)!r}")
        shutil.copyfile(path_or_stream, target)
    else:
        with open(target, "wb") as out:
            data = path_or_stream.read()
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
    return target


def read_run_json(run_dir: str) -> dict[str, Any]:
    """``run.json`` of the run (its tags), or ``{}``."""
    try:
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_run_json(run_dir: str, key: str, values: dict[str, Any], replace: bool = False) -> dict[str, Any]:
    """Merge ``values`` into ``run.json[key]`` (or replace it); written atomically; returns the result."""
    os.makedirs(run_dir, exist_ok=True)
    data = read_run_json(run_dir)
    merged = dict(values) if replace else {**data.get(key, {}), **values}
    data[key] = merged
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=run_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, os.path.join(run_dir, "run.json"))
    return merged
