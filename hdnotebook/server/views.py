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

import threading
import time
import uuid
from collections import OrderedDict, deque
from typing import Any

from ..run_view import RunDetailsModel
from ..store import Store

__all__ = ["ViewModels", "CAPACITY", "KEEP_UPDATES", "MIN_POLL_SECONDS"]

#: how many view models the server keeps (the least recently asked for goes first)
CAPACITY = 16
#: how many update messages each keeps for views that poll from an older ``seq``
KEEP_UPDATES = 200
#: polls of the store for one model at most this often, however many views ask
MIN_POLL_SECONDS = 0.25


class _Served:
    """One model, the updates it made lately and when the store was last polled for it."""

    def __init__(self, model: RunDetailsModel, keep_updates: int) -> None:
        self.model = model
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

    Thread-safe (the handlers call it from executor threads).
    """

    def __init__(self, capacity: int = CAPACITY, keep_updates: int = KEEP_UPDATES) -> None:
        self.capacity = capacity
        self.keep_updates = keep_updates
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
        made = _Served(RunDetailsModel(store, key[1]), self.keep_updates)
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
