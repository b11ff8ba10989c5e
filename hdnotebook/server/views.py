"""The server's view models: one :class:`~hdnotebook.run_view.RunDetailsModel` per workspace and
experiment run, kept in memory, and what ``GET .../runs/RUN/view?seq=N`` answers from it.

The JupyterLab sidebar's experiment tab and the plain ``/hdnotebook`` page draw the RunDetails
widget's own front end from these messages, so they show what the widget shows. Every open view
polls about once a second; the first asks for ``seq=0`` and gets a ``snapshot``, the next ones give
the ``seq`` they have and get the ``update`` messages after it. A view that fell behind further than
the updates kept (or asks after the server restarted or evicted the model) gets a snapshot again.

>>> views = ViewModels(capacity=16, keep_updates=200)          # doctest: +SKIP
>>> views.messages(("3f2a9c0d1e4b5a6f", run_id), store, 0)      # doctest: +SKIP
{'seq': 0, 'messages': [{'type': 'snapshot', 'seq': 0, ...}]}
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import OrderedDict, deque
from typing import Any

from ..run_view import RunDetailsModel
from ..store import Store

__all__ = ["ViewModels", "CAPACITY", "KEEP_UPDATES", "MIN_POLL_SECONDS", "MIN_INSIGHT_SECONDS"]

#: how many view models the server keeps (the least recently asked for goes first)
CAPACITY = 16
#: how many update messages each keeps for views that poll from an older ``seq``
KEEP_UPDATES = 200
#: polls of the store for one model at most this often, however many views ask
MIN_POLL_SECONDS = 0.25
#: an insight job (importances and contour, in a process of its own) for one model at most this often
MIN_INSIGHT_SECONDS = 5.0
#: how long an insight job may take
INSIGHT_TIMEOUT_SECONDS = 300.0


class _Insight:
    """The importances and the contour of one experiment run, from ``python -m hdnotebook.insight_job``
    (scikit-learn and scipy load there, never in the Jupyter server), run in the background when the
    number of Completed runs changed. The model asks :meth:`importances` and :meth:`contour`; they
    give the last answer (computed over ``runs`` Completed runs, maybe fewer than now: a new job
    is on its way), or raise ``ValueError`` saying why there is none."""

    def __init__(self, store_path: str, run_id: str) -> None:
        self.store_path, self.run_id = store_path, run_id
        self.answer: dict[str, Any] | None = None
        self.asked = -1  # the Completed count the last job started at
        self.started_at = -1e18
        self.running = False
        self.fresh = False  # an answer came that the model has not read yet
        self.jobs = 0

    def want(self, completed: int) -> None:
        """Start a job if ``completed`` differs from what the last one was asked at (not too often)."""
        now = time.monotonic()
        if self.running or completed == self.asked or now - self.started_at < MIN_INSIGHT_SECONDS:
            return
        self.running, self.asked, self.started_at = True, completed, now
        self.jobs += 1
        threading.Thread(target=self._run, name=f"hdnotebook-insight[{self.run_id}]", daemon=True).start()

    def _run(self) -> None:
        try:
            done = subprocess.run([sys.executable, "-m", "hdnotebook.insight_job", self.store_path, self.run_id],
                                  capture_output=True, text=True, timeout=INSIGHT_TIMEOUT_SECONDS)
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"exit status {done.returncode}: {tail}")
            answer = json.loads(done.stdout)
        except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired) as exc:
            answer = {"completed": self.asked, "contour": None,
                      "importance": {"values": None, "note": f"the insight job failed ({exc})"}}
        self.answer, self.fresh, self.running = answer, True, False

    def importances(self) -> dict[str, float]:
        if self.answer is None:
            raise ValueError("computing the importances (in a process of its own)\u2026")
        imp = self.answer["importance"]
        if imp.get("values") is None:
            raise ValueError(imp.get("note") or "no importances")
        return imp["values"]

    def contour(self, _space: Any, _params: Any, _values: Any, _names: Any) -> dict[str, Any]:
        if self.answer is None or self.answer.get("contour") is None:
            raise ValueError("no contour")
        return self.answer["contour"]


class _Served:
    """One model, the updates it made lately and when the store was last polled for it."""

    def __init__(self, model: RunDetailsModel, keep_updates: int, insight: _Insight | None = None) -> None:
        self.model = model
        self.insight = insight
        self.updates: deque[dict[str, Any]] = deque(maxlen=keep_updates)
        self.polled_at = time.monotonic()
        self.lock = threading.Lock()
        #: names this model: a view that polled another one (evicted, or before a restart) starts over
        self.epoch = uuid.uuid4().hex[:12]

    def poll(self) -> None:
        now = time.monotonic()
        if now - self.polled_at < MIN_POLL_SECONDS:
            return
        self.polled_at = now
        msg = self.model.poll()
        if msg is not None:
            self.updates.append(msg)
        if self.insight is not None:
            if self.insight.fresh:  # a job answered: the views get its numbers
                self.insight.fresh = False
                self.updates.append(self.model.refresh_insight())
            self.insight.want(self.model.completed())

    def after(self, seq: int) -> list[dict[str, Any]] | None:
        """The updates after ``seq``, or ``None`` when they are not all kept (then: a snapshot)."""
        current = self.model.seq
        if seq == current:
            return []
        if seq > current or not self.updates or self.updates[0]["seq"] > seq + 1:
            return None
        return [m for m in self.updates if m["seq"] > seq]


class ViewModels:
    """The view models of the runs views asked for, least recently used evicted past ``capacity``.

    With ``insight``, each model's importances and contour come from ``python -m
    hdnotebook.insight_job`` in the background (see :class:`_Insight`); without, the views say
    where to find them. Thread-safe (the handlers call it from executor threads).
    """

    def __init__(self, capacity: int = CAPACITY, keep_updates: int = KEEP_UPDATES, insight: bool = True) -> None:
        self.capacity = capacity
        self.keep_updates = keep_updates
        self.insight = insight
        self._served: OrderedDict[tuple[str, str], _Served] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._served)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._served

    def _get(self, key: tuple[str, str], store: Store) -> _Served:
        with self._lock:
            served = self._served.get(key)
            if served is not None and served.model.store is store:
                self._served.move_to_end(key)
                return served
        # made outside the lock: the first read of a big experiment takes a while
        insight = _Insight(store.path, key[1]) if self.insight else None
        model = RunDetailsModel(store, key[1], importances=insight and insight.importances,
                                contour=insight and insight.contour)
        made = _Served(model, self.keep_updates, insight)
        with self._lock:
            served = self._served.get(key)
            if served is None or served.model.store is not store:
                served = self._served[key] = made
            self._served.move_to_end(key)
            while len(self._served) > self.capacity:
                self._served.popitem(last=False)
            return served

    def messages(self, key: tuple[str, str], store: Store, seq: int, epoch: str = "") -> dict[str, Any]:
        """``{"seq", "epoch", "messages"}``: a snapshot when ``seq`` is 0, or ``epoch`` names
        another model than the one kept now, or ``seq`` is not followed by the updates kept; else
        the updates after ``seq`` (none when nothing changed).

        ``key`` is (workspace id, experiment run id); ``store`` the workspace's store.
        """
        served = self._get(key, store)
        with served.lock:
            served.poll()
            same = seq > 0 and (not epoch or epoch == served.epoch)
            updates = served.after(seq) if same else None
            messages = updates if updates is not None else [served.model.snapshot()]
            return {"seq": served.model.seq, "epoch": served.epoch, "messages": messages}
