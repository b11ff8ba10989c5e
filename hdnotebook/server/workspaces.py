"""Finding the workspaces under the Jupyter server's root, and naming them by opaque ids.

A workspace is a folder holding ``hdnotebook.sqlite`` (SPEC §9: ``Workspace(path)``, by default
``./.hdnotebook``). The server looks for them under its root folder, a few levels deep, skipping
hidden folders other than ``.hdnotebook`` and the usual heavy ones (``node_modules``...). Clients
name a workspace by the id the listing gave them, never by a path: an id is a hash of the folder's
real path, and only folders found inside the root ever get one, so no request can reach outside.

>>> finder = WorkspaceFinder("/srv/notebooks", max_depth=3)   # doctest: +SKIP
>>> [w.id for w in finder.list()]                              # doctest: +SKIP
['3f2a9c0d1e4b']
"""

from __future__ import annotations

import glob
import hashlib
import os
import threading
import time
from dataclasses import dataclass

from traitlets import Float, Int, List, Unicode
from traitlets.config import Configurable

#: the store's file name in a workspace folder; equal to ``hdnotebook.workspace.STORE_FILE`` (a test
#: checks), spelled out so the server starts without importing the engine and its samplers
STORE_FILE = "hdnotebook.sqlite"

__all__ = ["HDNotebook", "WorkspaceFinder", "FoundWorkspace", "inside", "workspace_id"]

_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", ".git", ".venv", "venv"})


class HDNotebook(Configurable):
    """Settings of the hdnotebook server extension (``c.HDNotebook.<name>`` in a Jupyter config)."""

    root_dir = Unicode(
        "",
        config=True,
        help="Folder to look for workspaces in; empty: the server's root_dir. Nothing outside it is served.",
    )
    max_depth = Int(
        4,
        config=True,
        help="How many folder levels below root_dir to search for workspaces (hdnotebook.sqlite files).",
    )
    workspaces = List(
        Unicode(),
        default_value=[],
        config=True,
        help=(
            "Extra glob patterns, relative to root_dir, naming workspace folders (or their "
            "hdnotebook.sqlite) that the depth-limited search would not find, e.g. 'projects/**/ws'."
        ),
    )
    max_dirs = Int(20000, config=True, help="Stop a search after visiting this many folders.")
    rescan_seconds = Float(3.0, config=True, help="How long a search result is reused before searching again.")


@dataclass(frozen=True)
class FoundWorkspace:
    id: str
    path: str  # absolute real path of the workspace folder
    relpath: str  # relative to the root, for display

    @property
    def store_path(self) -> str:
        return os.path.join(self.path, STORE_FILE)


def inside(path: str, root: str) -> bool:
    """Whether the real path of ``path`` is ``root`` or below it (``root`` already real)."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def workspace_id(folder: str) -> str:
    """The id the server's API names the workspace in ``folder`` by (a hash of its real path).

    The RunDetails widget computes it in the kernel to reach the same workspace over REST.

    >>> len(workspace_id("/srv/notebooks/.hdnotebook"))
    16
    """
    real = os.path.realpath(os.path.expanduser(folder))
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _store_inside(folder: str, root: str) -> bool:
    """Whether ``folder`` and the real path of its store file both lie under ``root`` (a store
    file that is a symlink to a database elsewhere is neither listed nor served)."""
    path = os.path.join(folder, STORE_FILE)
    return inside(folder, root) and os.path.isfile(path) and inside(path, root)


class WorkspaceFinder:
    """The workspaces under ``root``, found by a depth-limited walk plus optional globs, cached."""

    def __init__(
        self,
        root: str,
        max_depth: int = 4,
        patterns: list[str] | None = None,
        max_dirs: int = 20000,
        rescan_seconds: float = 3.0,
    ) -> None:
        self.root = os.path.realpath(os.path.expanduser(root))
        self.max_depth = max_depth
        self.patterns = list(patterns or [])
        self.max_dirs = max_dirs
        self.rescan_seconds = rescan_seconds
        self._lock = threading.Lock()
        self._found: dict[str, FoundWorkspace] = {}
        self._scanned_at = -1e18

    @classmethod
    def from_config(cls, settings: HDNotebook, server_root: str) -> WorkspaceFinder:
        return cls(
            settings.root_dir or server_root,
            max_depth=settings.max_depth,
            patterns=settings.workspaces,
            max_dirs=settings.max_dirs,
            rescan_seconds=settings.rescan_seconds,
        )

    # -- public ------------------------------------------------------------------------------------
    def list(self) -> list[FoundWorkspace]:
        with self._lock:
            if time.monotonic() - self._scanned_at > self.rescan_seconds:
                self._rescan()
            return sorted(self._found.values(), key=lambda w: w.relpath)

    def get(self, workspace_id: str) -> FoundWorkspace | None:
        """The workspace with this id, or ``None`` (unknown ids trigger one fresh search)."""
        if not isinstance(workspace_id, str) or len(workspace_id) != 16 or not all(
            c in "0123456789abcdef" for c in workspace_id
        ):
            return None
        with self._lock:
            found = self._found.get(workspace_id)
            if found is None and time.monotonic() - self._scanned_at > 0.2:
                self._rescan()
                found = self._found.get(workspace_id)
        if found is None or not _store_inside(found.path, self.root):
            return None
        return found

    # -- search ------------------------------------------------------------------------------------
    def _add(self, found: dict[str, FoundWorkspace], folder: str) -> None:
        real = os.path.realpath(folder)
        if not _store_inside(real, self.root):
            return
        wid = workspace_id(real)
        rel = os.path.relpath(real, self.root)
        found[wid] = FoundWorkspace(wid, real, "." if rel == "." else rel)

    def _rescan(self) -> None:
        found: dict[str, FoundWorkspace] = {}
        visited = 0
        base_depth = self.root.rstrip(os.sep).count(os.sep)
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            visited += 1
            if STORE_FILE in filenames:
                self._add(found, dirpath)
            depth = dirpath.rstrip(os.sep).count(os.sep) - base_depth
            if depth >= self.max_depth or visited >= self.max_dirs:
                dirnames[:] = []
                continue
            dirnames[:] = sorted(
                d for d in dirnames if d not in _SKIP_DIRS and (not d.startswith(".") or d == ".hdnotebook")
            )
        for pattern in self.patterns:
            if os.path.isabs(pattern) or ".." in pattern.replace("\\", "/").split("/"):
                continue  # patterns are relative to the root and never climb out of it
            for hit in glob.glob(os.path.join(self.root, pattern), recursive=True)[: self.max_dirs]:
                self._add(found, os.path.dirname(hit) if os.path.basename(hit) == STORE_FILE else hit)
        self._found = found
        self._scanned_at = time.monotonic()
