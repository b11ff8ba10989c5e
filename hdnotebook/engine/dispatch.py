"""joblib dispatch: each lane is one task on the joblib backend active where submit was called.

The backend is captured by name when the experiment is submitted (joblib's ``parallel_config`` is
thread-local, and the driver runs in its own threads), then every lane (see
:mod:`hdnotebook.engine.lane`) is its own task, so a failed task touches only its own lane. For
``dask`` the client (and ``client.submit`` keywords such as ``resources``) is captured too: see
:mod:`hdnotebook.engine.dask`.

For ``loky`` each running experiment has a worker pool of its own, one worker per lane, so that
lanes, which hold their worker for the whole experiment, never wait behind another experiment's
lanes or the user's own ``joblib.Parallel`` calls (those keep using joblib's shared pool). An
experiment's pool is kept warm when it ends, for the next experiment of the kernel.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs
from joblib._parallel_backends import LokyBackend
from joblib.externals.loky.process_executor import ProcessPoolExecutor
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


#: pools of experiments that ended, kept warm for the next ones: (workers, pool)
_IDLE_POOLS: list[tuple[int, ProcessPoolExecutor]] = []
_IDLE_LOCK = threading.Lock()
IDLE_POOLS_KEPT = 2
IDLE_WORKER_SECONDS = 300


def _broken(pool: ProcessPoolExecutor) -> bool:
    flags = getattr(pool, "_flags", None)
    return bool(flags is not None and (flags.broken or flags.shutdown))


def _take_pool(workers: int) -> ProcessPoolExecutor:
    """A warm idle pool with enough workers, else a new one (worker env as joblib's loky backend)."""
    with _IDLE_LOCK:
        for i, (size, pool) in enumerate(_IDLE_POOLS):
            if size >= workers and not _broken(pool):
                del _IDLE_POOLS[i]
                return pool
    env = LokyBackend(nesting_level=0)._prepare_worker_env(n_jobs=workers)  # threads per worker
    return ProcessPoolExecutor(max_workers=workers, timeout=IDLE_WORKER_SECONDS, env=env)


def _give_back_pool(workers: int, pool: ProcessPoolExecutor, busy: bool) -> None:
    """Keep an ended experiment's pool warm, unless it broke or a lane still runs in it."""
    if busy or _broken(pool):
        pool.shutdown(wait=False, kill_workers=True)
        return
    with _IDLE_LOCK:
        _IDLE_POOLS.append((workers, pool))
        surplus = _IDLE_POOLS[:-IDLE_POOLS_KEPT]
        del _IDLE_POOLS[:-IDLE_POOLS_KEPT]
    for _, old in surplus:
        old.shutdown(wait=False)


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
        if self.n_jobs in (None, 0):
            self.n_jobs = -1
        self._jobs: int | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._lanes: set[Future[int]] = set()
        self._closing: ProcessPoolExecutor | None = None
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

    @property
    def pool_size(self) -> int | None:
        """How many lanes the worker pool has room for (``None`` before :meth:`configure`)."""
        return self._jobs

    def configure(self, concurrency: int) -> None:
        """Size the worker pool to the experiment's concurrency (one lane per worker).

        Called again with more (``set_limits`` raised ``max_concurrent_runs``), the lanes started
        from then on go to a pool of the new size; the old pool's lanes finish where they are, then
        its workers exit.
        """
        with self._pool_lock:
            grow = self._jobs is not None and concurrency > self._jobs
            self._jobs = concurrency
            old, self._pool = (self._pool, None) if grow else (None, self._pool)
        if old is not None:
            old.shutdown(wait=False)  # takes no new lanes; its running lanes go on

    def run(self, lane: LaneSpec) -> int:
        """Run one lane to its end on the backend (blocking); raises when its worker is lost.

        Never in this process: joblib runs a ``Parallel`` call whose backend has one worker
        sequentially, in the caller (here the notebook kernel), so a one-worker Dask cluster gets
        the lane through its client, and other backends are given at least two workers.
        """
        if self.dask is not None:
            future = self.dask.client.submit(run_lane, lane, pure=False, **self.dask.submit_kwargs)
            return future.result()
        jobs: Any = self._jobs or self.n_jobs
        if jobs == 1:
            jobs = 2
        result = Parallel(n_jobs=jobs, backend=self.backend, batch_size=1, pre_dispatch="n_jobs")(
            [delayed(run_lane)(lane)]
        )
        return result[0]

    def submit(self, lane: LaneSpec, threads: Executor | None) -> Future[int]:
        """Start one lane; the future gives how many trials it ran, or raises when its worker is lost.

        loky lanes go straight to the experiment's worker pool (no thread waits on them); other
        backends run :meth:`run` on a thread of ``threads``.
        """
        if self.backend != "loky":
            assert threads is not None
            return threads.submit(self.run, lane)
        pool = self._lane_pool()
        try:
            future: Future[int] = pool.submit(partial(run_lane, lane))
        except BaseException as exc:  # a pool that broke while idle
            if _broken(pool):
                self._forget(pool)
            failed: Future[int] = Future()
            failed.set_exception(exc)
            return failed
        with self._pool_lock:
            self._lanes.add(future)
        future.add_done_callback(partial(self._lane_done, pool))
        return future

    def _lane_done(self, pool: ProcessPoolExecutor, future: Future[int]) -> None:
        with self._pool_lock:
            self._lanes.discard(future)
            closing = self._closing if self._closing is not None and not self._lanes else None
            if closing is not None:
                self._closing = None
        if future.exception() is not None and _broken(pool):
            self._forget(pool)
        if closing is not None:  # the experiment had ended; its last lane is done now
            _give_back_pool(max(1, self._jobs or 1), closing, busy=False)

    def _lane_pool(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = _take_pool(max(1, self._jobs or 1))
            return self._pool

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        """A broken pool (a worker died): the next lane gets a fresh one."""
        with self._pool_lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, kill_workers=True)

    def close(self) -> None:
        """The experiment ended: its pool is kept warm for the next one once its lanes are done."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
            if pool is not None and self._lanes:
                self._closing = pool  # lanes still winding down: the last one gives the pool back
                return
        if pool is not None:
            _give_back_pool(max(1, self._jobs or 1), pool, busy=False)
