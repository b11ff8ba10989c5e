"""Tornado handlers of the hdnotebook server extension: a JSON API and a plain HTML page.

Routes (under the server's base_url)::

    GET  /hdnotebook                                        plain page: the experiment list and the RunDetails view
    GET  /hdnotebook/static/<file>                          its JavaScript and CSS
    GET  /hdnotebook/bundle/run_details.js                  the RunDetails widget's front end (an ES module)
    GET  /hdnotebook/api/workspaces                         [{id, path, experiments}]
    GET  /hdnotebook/api/experiments[?workspace=ID]         experiments of every (or one) workspace, with summaries
    GET  /hdnotebook/api/workspaces/ID/experiments          the same for one workspace
    GET  /hdnotebook/api/workspaces/ID/runs/RUN             a parent run and its children (or one child)
    GET  /hdnotebook/api/workspaces/ID/runs/RUN/changes?since=CURSOR[&name=METRIC]
                                                            what changed since the cursor (store.changes)
    GET  /hdnotebook/api/workspaces/ID/runs/RUN/view?seq=N&epoch=E
                                                            the RunDetails view model's messages: a snapshot
                                                            (N 0 or absent, too old, or E another model's),
                                                            else the updates after N
    GET  /hdnotebook/api/workspaces/ID/runs/RUN/metrics[?name=&after=]
                                                            metric rows of one run
    POST /hdnotebook/api/workspaces/ID/runs/RUN/cancel      {"reason": "..."} -> cancel_requested event
    GET  /hdnotebook/api/workspaces/ID/runs/RUN/detail      one child run in full (metrics, output, error, links)
    GET  /hdnotebook/api/workspaces/ID/runs/RUN/steer       the steering log and whether it is paused
    POST /hdnotebook/api/workspaces/ID/runs/RUN/steer       {"action": "pause"|"resume"|"set_limits"|"enqueue"|
                                                            "restart", "args": {...}} -> the driver's answer
                                                            (200 applied, 400 rejected, 202 no driver yet)

Every handler requires an authenticated user (403 JSON for the API, a login redirect for the page).
Workspaces are named by the opaque ids of the listing; run ids must match the store's id shape.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
from typing import Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .. import steering
from ..store import Store, open_store
from . import api
from .views import ViewModels
from .workspaces import FoundWorkspace, WorkspaceFinder

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
#: the RunDetails widget's front end (``npm run build`` in ``js/``; the wheel carries it): the page and
#: the JupyterLab sidebar's experiment tab draw the widget's own view with it
BUNDLE_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")
BUNDLE_FILE = "run_details.js"
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_WS_ID = r"[0-9a-f]{16}"
_RUN = r"[A-Za-z0-9_.:-]{1,200}"


class _Base(APIHandler):
    """JSON API base: authenticated, JSON errors, blocking store reads off the event loop."""

    @property
    def finder(self) -> WorkspaceFinder:
        return self.settings["hdnotebook_finder"]

    def workspace(self, workspace_id: str) -> FoundWorkspace:
        if not re.fullmatch(_WS_ID, workspace_id or ""):
            raise web.HTTPError(400, f"workspace must be a workspace id (16 hex digits) from /hdnotebook/api/workspaces, got {workspace_id!r:.60}")
        found = self.finder.get(workspace_id)
        if found is None:
            raise web.HTTPError(404, f"no workspace with id {workspace_id!r}; list them at /hdnotebook/api/workspaces")
        return found

    def store(self, found: FoundWorkspace, write: bool = False) -> Store:
        """The workspace's store, read-only unless ``write`` (reads never create tables or switch
        the file to WAL: the server may look at files it did not make)."""
        try:
            return open_store(found.store_path, read_only=not write)
        except Exception as exc:  # unreadable or corrupt file
            raise web.HTTPError(500, f"cannot open the store of workspace {found.id}: {exc}") from exc

    def run_row(self, store: Store, run_id: str) -> Any:
        if not _RUN_ID.match(run_id or ""):
            raise web.HTTPError(400, f"bad run id {run_id!r}")
        row = store.run(run_id)
        if row is None:
            raise web.HTTPError(404, f"no run {run_id!r} in this workspace")
        return row

    async def blocking(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def send(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data, allow_nan=False))


def _metric_name(name: str | None) -> str | None:
    if name is not None and not 0 < len(name) <= 1000:
        raise web.HTTPError(400, f"name must be a metric name of 1 to 1000 characters, got {len(name)} characters")
    return name


class WorkspacesHandler(_Base):
    @web.authenticated
    async def get(self) -> None:
        def read() -> list[dict[str, Any]]:
            out = []
            for w in self.finder.list():
                try:
                    n = len(open_store(w.store_path, read_only=True).experiments())
                    error = None
                except Exception as exc:  # keep listing the others
                    n, error = 0, str(exc)
                out.append({"id": w.id, "path": w.relpath, "experiments": n, "error": error})
            return out

        self.send({"workspaces": await self.blocking(read)})


class ExperimentsHandler(_Base):
    @web.authenticated
    async def get(self, workspace_id: str | None = None) -> None:
        workspace_id = workspace_id or self.get_query_argument("workspace", None)
        chosen = [self.workspace(workspace_id)] if workspace_id else None

        def read() -> list[dict[str, Any]]:
            out = []
            for w in chosen if chosen is not None else self.finder.list():
                try:
                    exps = api.experiments_json(open_store(w.store_path, read_only=True))
                except Exception as exc:
                    out.append({"workspace": w.id, "workspace_path": w.relpath, "error": str(exc)})
                    continue
                for e in exps:
                    out.append({"workspace": w.id, "workspace_path": w.relpath, **e})
            return out

        self.send({"experiments": await self.blocking(read)})


class RunHandler(_Base):
    @web.authenticated
    async def get(self, workspace_id: str, run_id: str) -> None:
        store = self.store(self.workspace(workspace_id))
        self.run_row(store, run_id)
        self.send(await self.blocking(api.run_tree, store, run_id))


class ChangesHandler(_Base):
    @web.authenticated
    async def get(self, workspace_id: str, run_id: str) -> None:
        store = self.store(self.workspace(workspace_id))
        row = self.run_row(store, run_id)
        if row.parent_id is not None:
            raise web.HTTPError(400, f"{run_id!r} is a child run; ask for changes of its parent {row.parent_id!r}")
        try:
            cursor = api.parse_cursor(self.get_query_argument("since", None))
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from exc
        name = _metric_name(self.get_query_argument("name", None))
        self.send(await self.blocking(api.changes_json, store, row, cursor, name))


class ViewHandler(_Base):
    """The RunDetails view model of an experiment run (:mod:`hdnotebook.server.views`)."""

    @web.authenticated
    async def get(self, workspace_id: str, run_id: str) -> None:
        found = self.workspace(workspace_id)
        store = self.store(found)
        row = self.run_row(store, run_id)
        if row.parent_id is not None:
            raise web.HTTPError(400, f"{run_id!r} is a child run; ask for the view of its experiment run {row.parent_id!r}")
        seq = self.get_query_argument("seq", "0") or "0"
        if not re.fullmatch(r"[0-9]{1,18}", seq):  # ASCII digits only
            raise web.HTTPError(400, f"seq must be the seq of the last message the view applied (an integer >= 0), got {seq!r:.60}")
        epoch = self.get_query_argument("epoch", "")
        if not re.fullmatch(r"[0-9a-f]{0,32}", epoch):
            raise web.HTTPError(400, f"epoch must be the epoch of the last answer (hex digits), got {epoch!r:.60}")
        views: ViewModels = self.settings.setdefault("hdnotebook_views", ViewModels())
        self.send(await self.blocking(views.messages, (found.id, row.id), store, int(seq), epoch))


class MetricsHandler(_Base):
    @web.authenticated
    async def get(self, workspace_id: str, run_id: str) -> None:
        store = self.store(self.workspace(workspace_id))
        row = self.run_row(store, run_id)
        name = _metric_name(self.get_query_argument("name", None))
        after = self.get_query_argument("after", "0")
        if not re.fullmatch(r"[0-9]{1,18}", after):  # ASCII digits only: "²".isdigit() is true
            raise web.HTTPError(400, f"after must be a metric id (an integer), got {after!r:.60}")

        def read() -> dict[str, Any]:
            ids = [row.id] if row.parent_id is not None else [c.id for c in store.child_runs(row.id)]
            rows = store.metrics(ids, name, int(after), limit=api.MAX_METRICS)
            return {"metrics": [api.metric_json(m) for m in rows], "after": rows[-1].id if rows else int(after)}

        self.send(await self.blocking(read))


class CancelHandler(_Base):
    @web.authenticated
    async def post(self, workspace_id: str, run_id: str) -> None:
        found = self.workspace(workspace_id)
        row = self.run_row(self.store(found), run_id)  # read-only: an hdnotebook store with this run
        store = self.store(found, write=True)
        reason = "canceled from the Jupyter server"
        if self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError as exc:
                raise web.HTTPError(400, "the body must be JSON, e.g. {\"reason\": \"...\"}") from exc
            if not isinstance(body, dict):
                raise web.HTTPError(400, "the body must be a JSON object")
            given = body.get("reason")
            if given is not None:
                if not isinstance(given, str) or len(given) > 500:
                    raise web.HTTPError(400, "reason must be a string of at most 500 characters")
                reason = given
        user = getattr(self.current_user, "username", None)
        if user and reason == "canceled from the Jupyter server":
            reason = f"canceled by {user} from the Jupyter server"
        result = await self.blocking(api.request_cancel, store, row, reason)
        self.set_status(202 if result["requested"] else 409)
        self.send(result)


class DetailHandler(_Base):
    @web.authenticated
    async def get(self, workspace_id: str, run_id: str) -> None:
        store = self.store(self.workspace(workspace_id))
        row = self.run_row(store, run_id)
        if row.parent_id is None:
            raise web.HTTPError(400, f"{run_id!r} is an experiment run; ask for the detail of one of its children")
        self.send(await self.blocking(api.run_detail_json, store, row))


class SteerHandler(_Base):
    """Steering an experiment run (see :mod:`hdnotebook.steering`): the driver checks and applies it."""

    @web.authenticated
    async def get(self, workspace_id: str, run_id: str) -> None:
        store = self.store(self.workspace(workspace_id))
        row = self._parent(store, run_id)
        self.send(await self.blocking(api.steering_json, store, row))

    @web.authenticated
    async def post(self, workspace_id: str, run_id: str) -> None:
        found = self.workspace(workspace_id)
        row = self._parent(self.store(found), run_id)  # read-only: an hdnotebook store with this run
        store = self.store(found, write=True)
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as exc:
            raise web.HTTPError(400, 'the body must be JSON, e.g. {"action": "pause"}') from exc
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        actions = [str(a) for a in steering.SteerAction]
        action, args = body.get("action"), body.get("args", {})
        if action not in actions:
            raise web.HTTPError(400, f"action must be one of {', '.join(actions)}, got {action!r:.60}")
        if not isinstance(args, dict) or len(self.request.body) > 100_000:
            raise web.HTTPError(400, "args must be a JSON object (under 100 kB)")
        user = getattr(self.current_user, "username", None)
        source = f"jupyter-server ({user})" if user else "jupyter-server"
        status, answer = await self.blocking(api.request_steering, store, row, action, args, source)
        self.set_status(status)
        self.send(answer)

    def _parent(self, store: Store, run_id: str) -> Any:
        row = self.run_row(store, run_id)
        if row.parent_id is not None:
            raise web.HTTPError(400, f"{run_id!r} is a child run; steer its experiment run {row.parent_id!r}")
        return row


class PageHandler(JupyterHandler):
    """The plain page: server-rendered HTML shell; /hdnotebook/static/page.js fills it in with the
    experiment list (hdviews.js) and the RunDetails widget's own view of the chosen run."""

    @web.authenticated
    def get(self) -> None:
        base = self.base_url
        static = url_path_join(base, "hdnotebook", "static")
        xsrf = self.xsrf_token.decode() if isinstance(self.xsrf_token, bytes) else str(self.xsrf_token)
        config = json.dumps({"baseUrl": base, "xsrf": xsrf})
        # what the widget's front end reads where JupyterLab would have put it (no token: the cookie)
        page_config = json.dumps({"baseUrl": base}).replace("<", "\\u003c")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            _PAGE.format(
                static=html.escape(static, quote=True),
                config=html.escape(config, quote=True),
                page_config=page_config,
            )
        )


class StaticHandler(JupyterHandler, web.StaticFileHandler):
    """The page's JS and CSS; authenticated like everything else."""

    @web.authenticated
    def get(self, path: str, include_body: bool = True) -> Any:  # type: ignore[override]
        return web.StaticFileHandler.get(self, path, include_body)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hdnotebook experiments</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{static}/hdviews.css">
</head>
<body class="hdn-page">
<header class="hdn-page-header"><h1>hdnotebook experiments</h1></header>
<main class="hdn-page-main">
  <nav id="hdn-list" class="hdn-list" aria-label="experiments"><p class="hdn-muted">Loading…</p></nav>
  <section id="hdn-detail" class="hdn-detail"><p class="hdn-muted">Choose an experiment.</p></section>
</main>
<script id="hdn-config" type="application/json" data-config="{config}"></script>
<script id="jupyter-config-data" type="application/json">{page_config}</script>
<script src="{static}/hdviews.js"></script>
<script type="module" src="{static}/page.js"></script>
</body>
</html>
"""


def handlers(base_url: str) -> list[tuple[Any, ...]]:
    def u(*parts: str) -> str:
        return url_path_join(base_url, "hdnotebook", *parts)

    ws, run = f"(?P<workspace_id>{_WS_ID})", f"(?P<run_id>{_RUN})"
    return [
        (u() + "/?", PageHandler),
        (u("static", "(.*)"), StaticHandler, {"path": STATIC_DIR}),
        (u("bundle", f"({re.escape(BUNDLE_FILE)})"), StaticHandler, {"path": BUNDLE_DIR}),
        (u("api", "workspaces") + "/?", WorkspacesHandler),
        (u("api", "experiments") + "/?", ExperimentsHandler),
        (u("api", "workspaces", ws, "experiments") + "/?", ExperimentsHandler),
        (u("api", "workspaces", ws, "runs", run) + "/?", RunHandler),
        (u("api", "workspaces", ws, "runs", run, "changes") + "/?", ChangesHandler),
        (u("api", "workspaces", ws, "runs", run, "metrics") + "/?", MetricsHandler),
        (u("api", "workspaces", ws, "runs", run, "view") + "/?", ViewHandler),
        (u("api", "workspaces", ws, "runs", run, "cancel") + "/?", CancelHandler),
        (u("api", "workspaces", ws, "runs", run, "steer") + "/?", SteerHandler),
        (u("api", "workspaces", ws, "runs", run, "detail") + "/?", DetailHandler),
        (u("api", ".*"), NotFoundHandler),
    ]


class NotFoundHandler(_Base):
    """Anything else under the API: a JSON 404 (after authentication, so nothing leaks)."""

    @web.authenticated
    def get(self, *args: Any) -> None:
        raise web.HTTPError(404, "no such hdnotebook API route")

    post = get
