"""``RunDetails(run).show()``: the live view of an experiment run (SPEC §7).

An anywidget whose front end (``js/src/``, bundled with plotly into ``hdnotebook/static/
run_details.js``) draws a header, a sortable and filterable table, learning curves, parallel
coordinates and the primary metric over time. The kernel side is small:

- a :class:`~hdnotebook.widgets.model.RunDetailsModel` turns store changes into messages;
- a daemon thread polls the store at most ``1 / poll_seconds`` times a second (4/s by default)
  while the experiment runs and sends only what changed (``widget.send``); it stops once the
  experiment has ended and everything is sent;
- a view that loads (or reloads) asks for a ``snapshot`` and gets everything so far;
- the view's buttons send ``cancel_run`` / ``cancel_experiment``, which call
  :meth:`HyperDriveRun.cancel_child` / :meth:`HyperDriveRun.cancel`.

Its MIME bundle also carries ``text/html`` (a static table with SVG curves) and ``text/plain``,
so saved notebooks show the runs where no widget manager runs.

>>> run = experiment.submit(config)     # doctest: +SKIP
>>> RunDetails(run).show()              # doctest: +SKIP
"""

from __future__ import annotations

import logging
import pathlib
import threading
from typing import Any

import anywidget
import traitlets

from .model import RunDetailsModel, apply_message
from .static import static_html, static_text

__all__ = ["RunDetails", "BUNDLE"]

log = logging.getLogger(__name__)

#: the front-end bundle built by ``npm run build`` in ``js/`` (scripts/setup.sh does it)
BUNDLE = pathlib.Path(__file__).resolve().parent.parent / "static" / "run_details.js"

_MISSING_BUNDLE = """
export default { render({ el }) {
  el.innerHTML = '<div style="color:#b00">hdnotebook: the RunDetails front end is not built ' +
    '(hdnotebook/static/run_details.js). Run <code>bash scripts/setup.sh</code>, or ' +
    '<code>npm install && npm run build</code> in <code>js/</code>, then restart the kernel.</div>';
} };
"""


def _front_end() -> Any:
    return BUNDLE if BUNDLE.is_file() else _MISSING_BUNDLE


class RunDetails(anywidget.AnyWidget):
    """Live table, learning curves and parallel coordinates of an experiment run.

    Args:
        run: a :class:`~hdnotebook.run.HyperDriveRun` (from ``experiment.submit`` or
            ``experiment.get_runs()``, also after a kernel restart).
        poll_seconds: seconds between store polls while the experiment runs (at least 0.25).
    """

    _esm = _front_end()

    run_id = traitlets.Unicode("").tag(sync=True)
    experiment = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(300).tag(sync=True)

    def __init__(self, run: Any, poll_seconds: float = 0.25, **kwargs: Any) -> None:
        store = getattr(run, "store", None)
        if store is None:
            raise TypeError(f"RunDetails(run): run must be an experiment run (HyperDriveRun), got {run!r}")
        store.flush()
        self.run = run
        self.poll_seconds = max(float(poll_seconds), 0.25)
        self.model = RunDetailsModel(store, run.id)
        super().__init__(run_id=run.id, experiment=self.model.meta()["experiment"],
                         status=self.model.header()["status"], **kwargs)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self.on_msg(self._on_front_end_msg)
        self._thread: threading.Thread | None = None
        if not self.model.terminal:
            self._thread = threading.Thread(target=self._poll_loop, name=f"hdnotebook-rundetails[{run.id}]",
                                            daemon=True)
            self._thread.start()

    # -- kernel -> front end ---------------------------------------------------------------------
    def _poll_loop(self) -> None:
        seen_terminal = False
        while not self._stop.wait(self.poll_seconds):
            try:
                with self._send_lock:
                    msg = self.model.poll()
                    if msg is not None:
                        self.send(msg)
                        self.status = msg["header"]["status"]
            except Exception:  # keep the view alive; the next poll tries again
                log.exception("RunDetails: polling the store failed")
                continue
            if self.model.terminal:
                if seen_terminal and msg is None:
                    break  # ended, and one more poll found nothing left
                seen_terminal = True

    @property
    def polling(self) -> bool:
        """Whether the widget still follows the store (False once the experiment ended)."""
        return self._thread is not None and self._thread.is_alive()

    def _on_front_end_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "snapshot":
            with self._send_lock:
                self.send(self.model.snapshot())
        elif kind == "cancel_run" and isinstance(content.get("run_id"), str):
            if content["run_id"] in self.model.rows:
                self.run.cancel_child(content["run_id"])
        elif kind == "cancel_experiment":
            self.run.cancel()

    # -- display ---------------------------------------------------------------------------------
    def show(self) -> None:
        """Display the widget in the notebook (HyperDrive's ``RunDetails(run).show()``)."""
        from IPython.display import display

        display(self)

    def state(self) -> dict[str, Any]:
        """The view state now (what a freshly loaded view shows)."""
        return apply_message({}, self.model.snapshot())

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        state = self.state()
        data = dict(data)
        data["text/plain"] = static_text(state)
        data["text/html"] = static_html(state)
        return data, metadata

    def close(self) -> None:
        self._stop.set()
        super().close()

    def __repr__(self) -> str:
        return f"RunDetails(run_id={self.run_id!r}, experiment={self.experiment!r})"
