"""``RunDetails(run).show()``: the live view of an experiment run (SPEC §7).

An anywidget whose front end (``js/src/``, bundled with plotly into ``hdnotebook/static/
run_details.js``) draws a header, a sortable and filterable table, learning curves, parallel
coordinates and the primary metric over time. The kernel side is small:

- a :class:`~hdnotebook.run_view.RunDetailsModel` turns store changes into messages (the same
  model the Jupyter server serves to the sidebar and the /hdnotebook page);
- the full state travels in the synced trait ``_snapshot``: it reaches the front end with the
  widget itself (and again, refreshed, when the widget is displayed), so a view draws at once even
  while the next cell blocks in ``run.wait_for_completion()`` -- nothing the front end would have to
  ask a busy kernel for;
- a daemon thread polls the store at most ``1 / poll_seconds`` times a second (4/s by default)
  while the experiment runs and sends only what changed (``widget.send``, numbered ``seq``); it stops
  once the experiment has ended and everything is sent;
- the front end writes ``selected_run`` (the run selected in the table or a chart), so
  ``widget.selected_run`` tells it in Python and setting it selects a run in every view;
- the Cancel buttons go to the hdnotebook server extension's REST cancel where it runs (it acts
  while the kernel is busy); elsewhere they send ``cancel_run`` / ``cancel_experiment`` to the
  kernel, which calls :meth:`HyperDriveRun.cancel_child` / :meth:`HyperDriveRun.cancel` once it is
  free (the button says so).

Its MIME bundle also carries ``text/html`` (a static table with SVG curves) and ``text/plain``,
so saved notebooks show the runs where no widget manager runs; once the experiment has ended, the
displays made while it ran are updated with the final state (after the cell that saw it end).

>>> run = experiment.submit(config)     # doctest: +SKIP
>>> RunDetails(run).show()              # doctest: +SKIP
>>> run.wait_for_completion()           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import pathlib
import threading
import time
import uuid
from typing import Any

import anywidget
import traitlets

from ..server.workspaces import workspace_id
from ..run_view import RunDetailsModel, apply_message
from ..space import param_axes
from .static import static_html, static_text

__all__ = ["RunDetails", "BUNDLE", "kernel_view_model"]

log = logging.getLogger(__name__)

#: the front-end bundle built by ``npm run build`` in ``js/`` (scripts/setup.sh does it)
BUNDLE = pathlib.Path(__file__).resolve().parent.parent / "static" / "run_details.js"

#: after a display, the snapshot trait is refreshed for this long (a view that loaded while updates
#: were on their way may have missed some: it waits for the next snapshot)
_FRESH_AFTER_DISPLAY_S = 6.0
_SNAPSHOT_EVERY_S = 1.0

_MISSING_BUNDLE = """
export default { render({ el }) {
  el.innerHTML = '<div style="color:#b00">hdnotebook: the RunDetails front end is not built ' +
    '(hdnotebook/static/run_details.js). Run <code>bash scripts/setup.sh</code>, or ' +
    '<code>npm install && npm run build</code> in <code>js/</code>, then restart the kernel.</div>';
} };
"""


#: the ES module anywidget loads: a few lines that load the bundle (synced as ``_bundle``) in the
#: background. anywidget gives a module 2 s to load and initialize, and a model that misses it gets no
#: message ever after; the bundle (plotly inside) takes longer than that to compile on a busy machine.
#: Messages that come meanwhile wait in a queue and are handed to the bundle's ``initialize``.
_LOADER = """
const modules = new Map();
function load(model) {
  const src = model.get("_bundle");
  let p = modules.get(src);
  if (!p) {
    const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    p = import(url).then((m) => m.default);
    modules.set(src, p);
  }
  return p;
}
const ready = new WeakMap();
export default {
  initialize({ model }) {
    const queue = [];
    const hold = (msg, buffers) => queue.push([msg, buffers]);
    model.on("msg:custom", hold);
    const done = load(model).then((widget) => {
      model.off("msg:custom", hold);
      return widget.initialize({ model, queued: queue });
    });
    ready.set(model.get("_snapshot"), done);
  },
  async render(ctx) {
    await (ready.get(ctx.model.get("_snapshot")) || Promise.resolve());
    const widget = await load(ctx.model);
    return widget.render(ctx);
  },
};
"""


def _front_end() -> tuple[str, str]:
    """(``_esm``, ``_bundle``): the loader and the bundle, or a module saying it is not built."""
    if BUNDLE.is_file():
        return _LOADER, BUNDLE.read_text(encoding="utf-8")
    return _MISSING_BUNDLE, ""


class RunDetails(anywidget.AnyWidget):
    """Live table, learning curves and parallel coordinates of an experiment run.

    Args:
        run: a :class:`~hdnotebook.run.HyperDriveRun` (from ``experiment.submit`` or
            ``experiment.get_runs()``, also after a kernel restart).
        poll_seconds: seconds between store polls while the experiment runs (at least 0.25).

    Example:
        >>> w = RunDetails(run)          # doctest: +SKIP
        >>> w.show()                     # doctest: +SKIP
        >>> w.selected_run               # the run clicked in the table  # doctest: +SKIP
        'HD_3f2a..._7'
        >>> w.height = 400               # taller charts in every view  # doctest: +SKIP
    """

    _esm = _front_end()[0]
    #: the front end's bundle (see ``_LOADER``)
    _bundle = traitlets.Unicode("").tag(sync=True)

    #: everything so far (a ``snapshot`` message); the front end starts from it
    _snapshot = traitlets.Dict().tag(sync=True)
    #: where the front end can cancel over REST: ``{"workspace": id, "run": parent id}``
    _rest = traitlets.Dict().tag(sync=True)
    #: chart height in pixels (the front end follows changes)
    height = traitlets.Int(300).tag(sync=True)
    #: the run selected in the front end (written by it), or ``None``
    selected_run = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(self, run: Any, poll_seconds: float = 0.25, **kwargs: Any) -> None:
        store = getattr(run, "store", None)
        if store is None:
            raise TypeError(f"RunDetails(run): run must be an experiment run (HyperDriveRun), got {run!r}")
        store.flush()
        self.run = run
        self.run_id: str = run.id
        self.poll_seconds = max(float(poll_seconds), 0.25)
        self.model = kernel_view_model(store, run.id)
        self.experiment: str = self.model.meta()["experiment"]
        self.status: str = self.model.header()["status"]
        self._send_lock = threading.RLock()
        with self._send_lock:
            snapshot = self.model.snapshot()
        super().__init__(_snapshot=snapshot, _rest=self._rest_target(store), _bundle=_front_end()[1], **kwargs)
        self._snapshot_at = time.monotonic()
        self._displayed_at = -1e18
        self._display_ids: list[str] = []  # displays made before the experiment ended
        self._stop = threading.Event()
        self.on_msg(self._on_front_end_msg)
        self._thread: threading.Thread | None = None
        if not self.model.terminal:
            self._thread = threading.Thread(target=self._poll_loop, name=f"hdnotebook-rundetails[{run.id}]",
                                            daemon=True)
            self._thread.start()

    def _rest_target(self, store: Any) -> dict[str, str]:
        path = getattr(store, "path", None)
        if not path:
            return {}
        return {"workspace": workspace_id(os.path.dirname(path)), "run": self.run_id}

    @traitlets.validate("height")
    def _check_height(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 120 <= value <= 2000:
            raise traitlets.TraitError(f"RunDetails.height must be 120..2000 pixels, got {value}")
        return value

    @traitlets.validate("selected_run")
    def _check_selected(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is not None and value not in self.model.rows:
            raise traitlets.TraitError(
                f"RunDetails.selected_run must be a run of {self.run_id} or None, got {value!r}")
        return value

    # -- kernel -> front end ---------------------------------------------------------------------
    def _push_snapshot(self) -> None:
        """Set the ``_snapshot`` trait to everything so far (under the send lock)."""
        with self._send_lock:
            self._snapshot = self.model.snapshot()
            self._snapshot_at = time.monotonic()

    def _poll_loop(self) -> None:
        seen_terminal = False
        while not self._stop.wait(self.poll_seconds):
            try:
                with self._send_lock:
                    msg = self.model.poll()
                    if msg is not None:
                        self.send(msg)
                        self.status = msg["header"]["status"]
                    now = time.monotonic()
                    if (now - self._displayed_at < _FRESH_AFTER_DISPLAY_S and now - self._snapshot_at >= _SNAPSHOT_EVERY_S
                            and self._snapshot.get("seq") != self.model.seq):
                        self._push_snapshot()
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
        if kind == "snapshot":  # a view that missed an update (rare: the refresh after display covers it)
            self._push_snapshot()
        elif kind == "cancel_run" and isinstance(content.get("run_id"), str):
            if content["run_id"] in self.model.rows:
                self.run.cancel_child(content["run_id"])
        elif kind == "cancel_experiment":
            self.run.cancel()
        elif kind == "steer":  # the panel's fallback where no server extension answers (REST acts at once)
            self._steer_from_front_end(content.get("action"), content.get("args"))
        elif kind == "run_detail":  # request/response: {"type", "id", "run_id"} -> {"type", "id", "detail"|"error"}
            reply: dict[str, Any] = {"type": "run_detail", "id": content.get("id"), "run_id": content.get("run_id")}
            try:
                reply["detail"] = self.model.run_detail(str(content.get("run_id")))
            except LookupError as exc:
                reply["error"] = str(exc)
            self.send(reply)

    def _steer_from_front_end(self, action: Any, args: Any) -> None:
        """Write the panel's request for the driver (which checks it and answers in the store, where the
        panel's steering log reads the answer); a request that cannot even be sent is logged."""
        from ..steering import SteerAction, send_request

        try:
            request_id = send_request(self.model.store, self.run_id, SteerAction(action), dict(args or {}), source="widget")
        except (ValueError, TypeError):
            log.warning("RunDetails: not a steering request: %r %r", action, args)
            return
        poke = getattr(getattr(self.run, "_controller", None), "poke", None)
        if poke is not None:
            poke()
        log.debug("RunDetails: steering request %s sent", request_id)

    # -- display ---------------------------------------------------------------------------------
    def show(self) -> None:
        """Display the widget in the notebook (HyperDrive's ``RunDetails(run).show()``)."""
        from IPython.display import display

        display(self)

    def state(self) -> dict[str, Any]:
        """The view state now (what a freshly loaded view shows)."""
        return apply_message({}, self.model.snapshot())

    def _mime_bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        bundle = super()._repr_mimebundle_()
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        state = self.state()
        data = dict(data)
        data["text/plain"] = static_text(state)
        data["text/html"] = static_html(state)
        return data, metadata

    def _final_bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What a display shows once the experiment has ended. Under a headless executor
        (nbclient: ``jupyter nbconvert --execute``, papermill) only the static views: no view of
        the widget is ever drawn there, and nbconvert's HTML export prefers a widget view whose
        state the executor stored, which draws only with a widget manager from a CDN; without it
        the export shows the final table and curves offline."""
        data, metadata = self._mime_bundle()
        if _headless_execution():
            data.pop(WIDGET_VIEW_MIME, None)
            metadata = {k: v for k, v in metadata.items() if k != WIDGET_VIEW_MIME}
        return data, metadata

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._displayed_at = time.monotonic()
        return self._mime_bundle()

    def _ipython_display_(self) -> None:
        """Display with a display id while the experiment runs, so the static fallback of saved
        notebooks can be replaced with the final state once it ends."""
        from IPython.display import display

        self._displayed_at = time.monotonic()
        data, metadata = self._mime_bundle()
        if self.model.terminal:
            display(*self._final_bundle(), raw=True)
            return
        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        display(data, metadata=metadata, raw=True, display_id=display_id)
        self._watch_cells()

    def _watch_cells(self) -> None:
        shell = _ipython()
        if shell is not None and not getattr(self, "_watching", False):
            shell.events.register("post_run_cell", self._after_cell)
            self._watching = True

    def _after_cell(self, *_args: Any) -> None:
        """After each cell (in the cell's own context, so front ends accept it): once the experiment
        has ended, replace the displays' static fallback with the final state."""
        try:
            with self._send_lock:
                msg = self.model.poll()
                if msg is not None:
                    self.send(msg)
                    self.status = msg["header"]["status"]
            if not self.model.terminal:
                return
            from IPython.display import update_display

            data, metadata = self._final_bundle()
            for display_id in self._display_ids:
                update_display(data, metadata=metadata, raw=True, display_id=display_id)
        except Exception:
            log.exception("RunDetails: updating the display with the final state failed")
        self._display_ids.clear()
        self._unwatch_cells()

    def _unwatch_cells(self) -> None:
        shell = _ipython()
        if shell is not None and getattr(self, "_watching", False) and not self._display_ids:
            try:
                shell.events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass
            self._watching = False

    def close(self) -> None:
        self._stop.set()
        self._display_ids.clear()
        self._unwatch_cells()
        super().close()

    def __repr__(self) -> str:
        return f"RunDetails(run_id={self.run_id!r}, experiment={self.experiment!r})"


#: the MIME type of a widget view in a display's bundle
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def _headless_execution() -> bool:
    """Whether the cell running now was sent by a headless executor: nbclient (and so
    ``jupyter nbconvert --execute`` and papermill) executes with ``allow_stdin=False``; JupyterLab,
    Notebook 7, VS Code and Colab allow stdin (``input()`` works there), and they draw widget views."""
    kernel = getattr(_ipython(), "kernel", None)
    return kernel is not None and getattr(kernel, "_allow_stdin", True) is False


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


def kernel_view_model(store: Any, run_id: str) -> RunDetailsModel:
    """The view model as the kernel makes it for RunDetails: with the hyperparameter importances
    and the contour (scikit-learn, numpy and scipy, which the Jupyter server's copy goes without),
    and the axes of the stored space for runs whose details carry none.

    >>> kernel_view_model(run.store, run.id).header()["importance"]   # doctest: +SKIP
    {'values': {'lr': 0.91, 'bs': 0.09}, 'runs': 12, 'note': ''}
    """
    return RunDetailsModel(store, run_id, importances=_importances_of(store, run_id), contour=_contour,
                           axes_for=param_axes)


def _importances_of(store: Any, run_id: str) -> Any:
    """The importance function the model calls (a stored run read anew, so it sees every run)."""
    from ..experiment_run import HyperDriveRun

    return lambda: HyperDriveRun(store, run_id).get_param_importances()


def _contour(stored: dict[str, str], params: list[dict[str, Any]], values: list[Any], names: list[str]) -> dict[str, Any]:
    """The model's contour function: :func:`hdnotebook.insight.param_contour` over the stored space
    (numpy and scipy: loaded only once a view asks)."""
    from ..insight import param_contour
    from ..space import expression_from_repr

    space = {name: expression_from_repr(text) for name, text in stored.items()}
    return param_contour(space, params, values, names)
