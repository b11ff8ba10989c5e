"""joblib dispatch: each lane is one task on the joblib backend active where submit was called.

The backend is captured by name when the experiment is submitted (joblib's ``parallel_config`` is
thread-local, and the driver runs in its own threads), then every lane (see
:mod:`hdnotebook.engine.lane`) is its own task, so a failed task touches only its own lane. For
``dask`` the client (and ``client.submit`` keywords such as ``resources``) is captured too: see
:mod:`hdnotebook.engine.dask`.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Executor, Future
from functools import partial
from types import SimpleNamespace
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs
from joblib._parallel_backends import LokyBackend
from joblib.parallel import BACKENDS, EXTERNAL_BACKENDS, get_active_backend

from .dask import DaskTarget, capture
from .lane import LaneSpec, run_lane

__all__ = ["Dispatcher", "active_backend_name"]


def active_backend_name() -> tuple[str, int | None]:
    """The name and ``n_jobs`` of the joblib backend active in the calling thread."""
    backend, n_jobs = get_active_backend()
    for name, cls in BACKENDS.items():
        if type(backend) is cls:
            return name, n_jobs
    return "loky", n_jobs


class Dispatcher:
    """Runs lanes of trials through joblib with a fixed backend.

    Args:
        backend: a joblib backend name (``"loky"``, ``"dask"``, ...); ``None``: the one active now.
        n_jobs: the backend's worker count; ``None`` or -1: all it has.
    """

    def __init__(self, backend: str | None = None, n_jobs: int | None = None) -> None:
        active, active_jobs = active_backend_name()
        self.backend = backend or active
        if self.backend not in BACKENDS and self.backend in EXTERNAL_BACKENDS:
            EXTERNAL_BACKENDS[self.backend]()  # registers dask (or ray) on first use
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown joblib backend {self.backend!r}; registered: {', '.join(sorted(BACKENDS))}")
        self.n_jobs = n_jobs if n_jobs is not None else (active_jobs if backend is None else None)
        self._loky: LokyBackend | None = None
        self._loky_lock = threading.Lock()
        if self.n_jobs in (None, 0):
            self.n_jobs = -1
        #: the cluster when the backend is dask: its client and ``client.submit`` keywords, taken
        #: from the ``parallel_config`` active here (it is thread-local; trials go from other threads)
        self.dask: DaskTarget | None = None
        if self.backend == "dask":
            self.dask = capture(get_active_backend()[0] if active == "dask" else None)

    def max_parallel(self) -> int:
        """How many tasks the backend runs at once."""
        from joblib import parallel_config

        if self.dask is not None:
            return self.dask.threads()
        with parallel_config(backend=self.backend):
            return max(1, effective_n_jobs(self.n_jobs))

    def configure(self, concurrency: int) -> None:
        """Size the worker pool to the experiment's concurrency (one lane per worker)."""
        self._jobs = concurrency

    def run(self, lane: LaneSpec) -> int:
        """Run one lane to its end (blocking); raises when the worker or backend is lost."""
        if self.backend == "loky":
            backend = self._loky_backend()
            try:
                return backend.submit(partial(run_lane, lane)).result()
            except BaseException:
                self._forget(backend)
                raise
        jobs: Any = getattr(self, "_jobs", None) or self.n_jobs
        backend_: Any = self.dask.backend() if self.dask is not None else self.backend
        result = Parallel(n_jobs=jobs, backend=backend_, batch_size=1, pre_dispatch="n_jobs")(
            [delayed(run_lane)(lane)]
        )
        return result[0]

    def submit(self, lane: LaneSpec, pool: Executor) -> Future[int]:
        """Start one lane; the future gives how many trials it ran, or raises when its worker is lost.

        loky lanes go straight to the worker pool (no thread waits on them); other backends run
        :meth:`run` on a thread of ``pool``.
        """
        if self.backend != "loky":
            return pool.submit(self.run, lane)
        backend = self._loky_backend()
        try:
            future: Future[int] = backend.submit(partial(run_lane, lane))
        except BaseException as exc:  # a pool that broke while idle
            self._forget(backend)
            failed: Future[int] = Future()
            failed.set_exception(exc)
            return failed
        future.add_done_callback(lambda f: f.exception() is not None and self._forget(backend))
        return future

    def _loky_backend(self) -> LokyBackend:
        """loky without a ``Parallel`` call per lane: joblib's own executor, submitted to directly.

        The executor is the one ``Parallel(n_jobs, backend="loky")`` would use (same arguments), so
        the user's own joblib calls share the worker pool instead of restarting it. It has at least
        two workers even for one lane: with one, joblib would fall back to running the lane in the
        notebook's own process.
        """
        with self._loky_lock:
            if self._loky is None:
                backend = LokyBackend(nesting_level=0)
                backend.configure(n_jobs=max(2, getattr(self, "_jobs", 2)), parallel=SimpleNamespace(_id=uuid.uuid4().hex))
                self._loky = backend
            return self._loky

    def _forget(self, backend: LokyBackend) -> None:
        """A broken pool: the next lane gets a fresh one."""
        with self._loky_lock:
            if self._loky is backend:
                self._loky = None
