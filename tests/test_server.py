"""The Jupyter server extension, against a real jupyter_server on 127.0.0.1 (SPEC §7).

One server (random port, a token, JUPYTER_* folders of its own) serves a root folder holding a
workspace; experiments are submitted from this process with function trials, exactly as a notebook
would, and the API is checked against the store, live, and for cancel and refusals.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

pytest.importorskip("jupyter_server")

from hdnotebook import (  # noqa: E402
    Experiment,
    HyperDriveConfig,
    NoTerminationPolicy,
    RandomParameterSampling,
    Run,
    Workspace,
    choice,
    uniform,
)

TOKEN = "hdnotebook-test-token"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------------------------
# a real server
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """``jupyter server`` (or ``jupyter lab``) in a subprocess with isolated Jupyter folders."""

    def __init__(self, root: str, home: str, app: str = "server", extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        extra_env = env or {}
        env = dict(os.environ)
        for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
            env[name] = os.path.join(home, sub)
            os.makedirs(env[name], exist_ok=True)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env.pop("JUPYTER_TOKEN", None)
        env.update(extra_env)
        self.log_path = os.path.join(home, f"jupyter-{app}.log")
        module = "jupyterlab.labapp" if app == "lab" else "jupyter_server"
        cmd = [
            sys.executable, "-m", module, "--no-browser", "--allow-root",
            f"--port={self.port}", "--port-retries=0", "--ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions={'hdnotebook.server': True}",
            *(extra or []),
        ]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=root)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited:\n{self.log()}")
            try:
                status, _ = self.request("/hdnotebook/api/workspaces")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter {app} did not answer in 60 s:\n{self.log()}")

    def log(self) -> str:
        with open(self.log_path) as fh:
            return fh.read()[-5000:]

    def request(
        self, path: str, method: str = "GET", body: Any = None, token: str | None = TOKEN, raw: bool = False
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"token {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=30) as res:
                status, text = res.status, res.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode(errors="replace")
        if raw:
            return status, text
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def get(self, path: str, **kw: Any) -> Any:
        status, data = self.request(path, **kw)
        assert status == 200, (path, status, data)
        return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kw: Any) -> None:
        return None


# ------------------------------------------------------------------------------------------------
# trials (module level so they pickle into trial processes)
# ------------------------------------------------------------------------------------------------
def quick_train(lr: float, bs: int) -> None:
    run = Run.get_context()
    for epoch in range(5):
        run.log("accuracy", 1 - lr * (5 - epoch) / bs)
        run.log("loss", lr / (epoch + 1))
    return None


def slow_train(lr: float, bs: int, epochs: int = 12, pause: float = 0.12) -> None:
    run = Run.get_context()
    for epoch in range(epochs):
        run.log("accuracy", 1 - lr * (epochs - epoch) / (bs * epochs))
        time.sleep(pause)
    return None


def endless_train(lr: float, bs: int) -> None:
    run = Run.get_context()
    epoch = 0
    while True:
        epoch += 1
        run.log("accuracy", lr * epoch)
        time.sleep(0.05)


def config(fn: Any, total: int, concurrent: int, seed: int = 1) -> HyperDriveConfig:
    return HyperDriveConfig(
        estimator=fn,
        hyperparameter_sampling=RandomParameterSampling({"lr": uniform(0.1, 1), "bs": choice(1, 2, 4)}, seed=seed),
        policy=NoTerminationPolicy(),
        primary_metric_name="accuracy",
        primary_metric_goal="maximize",
        max_total_runs=total,
        max_concurrent_runs=concurrent,
    )


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("hdserver")
    root, home = base / "root", base / "home"
    root.mkdir()
    home.mkdir()
    workspace = Workspace(str(root / "project" / ".hdnotebook"))
    # a workspace outside the root, reachable from inside only through a symlink: never served
    outside = Workspace(str(base / "outside" / ".hdnotebook"))
    Experiment(outside, "secret").store.add_experiment("secret")
    outside.store.flush()
    os.symlink(base / "outside", root / "link-out")
    # a workspace folder inside the root whose store FILE links to a database outside it
    foreign = base / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE private (secret TEXT)")
    conn.execute("INSERT INTO private VALUES ('do not serve')")
    conn.commit()
    conn.close()
    (root / "linked" / ".hdnotebook").mkdir(parents=True)
    os.symlink(foreign, root / "linked" / ".hdnotebook" / "hdnotebook.sqlite")
    done = Experiment(workspace, "done").submit(config(quick_train, total=4, concurrent=2))
    done.wait_for_completion()
    server = JupyterServer(str(root), str(home))
    try:
        yield {"server": server, "workspace": workspace, "done": done, "root": str(root), "foreign": str(foreign)}
    finally:
        server.stop()


def workspace_id(site: Any) -> str:
    listing = site["server"].get("/hdnotebook/api/workspaces")["workspaces"]
    assert [w["path"] for w in listing] == [os.path.join("project", ".hdnotebook")]
    return listing[0]["id"]


def api(site: Any, *parts: str) -> str:
    return "/hdnotebook/api/workspaces/" + "/".join([workspace_id(site), *parts])


def poll_until(predicate: Any, timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------
def test_config_file_enables_an_importable_extension() -> None:
    with open(os.path.join(REPO, "jupyter-config", "jupyter_server_config.d", "hdnotebook.json")) as fh:
        enabled = json.load(fh)["ServerApp"]["jpserver_extensions"]
    import importlib

    for name, on in enabled.items():
        assert on is True
        module = importlib.import_module(name)
        points = module._jupyter_server_extension_points()
        assert hasattr(importlib.import_module(points[0]["module"]), "_load_jupyter_server_extension")


def test_experiments_and_runs_match_the_store(site: Any) -> None:
    server, store, done = site["server"], site["workspace"].store, site["done"]
    wid = workspace_id(site)
    exps = server.get("/hdnotebook/api/experiments")["experiments"]
    [entry] = [e for e in exps if e["name"] == "done"]
    assert entry["workspace"] == wid
    summary = entry["runs"][0]
    assert summary["id"] == done.id
    assert summary["status"] == done.get_status() == "Completed"
    assert summary["counts"]["Completed"] == 4 and summary["progress"] == 1.0
    best = done.get_best_run_by_primary_metric()
    assert summary["best_run"] == best.id
    assert summary["best"] == pytest.approx(max(best.get_metrics()["accuracy"]))
    assert summary["primary_metric_name"] == "accuracy" and summary["goal"] == "maximize"
    # the same through the per-workspace route
    assert server.get(f"/hdnotebook/api/workspaces/{wid}/experiments")["experiments"][0]["name"] == "done"

    tree = server.get(api(site, "runs", done.id))
    children = {c.id: c for c in store.child_runs(done.id)}
    assert [c["id"] for c in tree["children"]] == list(children)
    for c in tree["children"]:
        row = children[c["id"]]
        assert (c["status"], c["params"], c["number"], c["parent_id"]) == (row.status, row.params, row.number, done.id)
        assert c["details"] == row.details

    ch = server.get(api(site, "runs", done.id, "changes") + "?since=0")
    stored = store.metrics(list(children))
    assert [m[0] for m in ch["metrics"]] == [m.id for m in stored]
    assert [(m[1], m[2], m[3], m[4]) for m in ch["metrics"]] == [(m.run_id, m.name, m.step, m.value) for m in stored]
    only = server.get(api(site, "runs", done.id, "changes") + "?since=0&name=loss")["metrics"]
    assert only and {m[2] for m in only} == {"loss"}
    # nothing new after the cursor
    again = server.get(api(site, "runs", done.id, "changes") + "?since=" + ch["cursor"])
    assert again["runs"] == [] and again["metrics"] == [] and again["cursor"] == ch["cursor"]
    # one child's metrics
    child = tree["children"][0]["id"]
    rows = server.get(api(site, "runs", child, "metrics") + "?name=accuracy")["metrics"]
    assert [m[0] for m in rows] == [m.id for m in store.metrics([child], "accuracy")]


def test_live_updates_arrive_through_the_cursor(site: Any) -> None:
    server = site["server"]
    run = Experiment(site["workspace"], "live").submit(config(slow_train, total=4, concurrent=2, seed=3))
    url = api(site, "runs", run.id, "changes")
    cursor, seen, polls_with_news, statuses = "0", [], 0, set()
    deadline = time.time() + 60
    while time.time() < deadline:
        ch = server.get(f"{url}?since={cursor}&name=accuracy")
        if ch["metrics"] and ch["parent"]["status"] == "Running":
            polls_with_news += 1
        seen.extend(ch["metrics"])
        statuses.update(r["status"] for r in ch["runs"] if r["parent_id"])
        cursor = ch["cursor"]
        if ch["parent"]["status"] == "Completed":
            break
        time.sleep(0.2)
    run.wait_for_completion()
    info = f"polls with news: {polls_with_news}, statuses seen: {statuses}, last parent: {ch['parent']['status']}"
    assert polls_with_news >= 2, "metrics should arrive over several polls while the experiment runs; " + info
    assert {"Running", "Completed"} <= statuses, info
    ids = [m[0] for m in seen]
    assert ids == sorted(set(ids)), "each metric exactly once, in arrival order"
    store = site["workspace"].store
    stored = store.metrics([c.id for c in store.child_runs(run.id)], "accuracy")
    assert ids == [m.id for m in stored]
    final = server.get(f"{url}?since={cursor}")
    assert final["metrics"] == [] and final["parent"]["status"] == "Completed"


def test_cancel_through_the_api_reaches_the_driver(site: Any) -> None:
    server = site["server"]
    run = Experiment(site["workspace"], "endless").submit(config(endless_train, total=4, concurrent=2, seed=5))
    tree = poll_until(lambda: (t := server.get(api(site, "runs", run.id))) and
                      [c for c in t["children"] if c["status"] == "Running"] and t)
    child = next(c["id"] for c in tree["children"] if c["status"] == "Running")
    status, res = server.request(api(site, "runs", child, "cancel"), "POST", {"reason": "enough of this one"})
    assert status == 202 and res["requested"] is True
    poll_until(lambda: server.get(api(site, "runs", child))["run"]["status"] == "Canceled", timeout=20)
    t0 = time.time()
    status, res = server.request(api(site, "runs", run.id, "cancel"), "POST")
    assert status == 202
    poll_until(lambda: server.get(api(site, "runs", run.id))["run"]["status"] == "Canceled", timeout=30)
    took = time.time() - t0
    assert took < 15, f"the cancel took {took:.1f} s"
    assert run.get_status() == "Canceled"
    reason = site["workspace"].store.run(child).details.get("stop", {}).get("reason", "")
    assert "enough of this one" in reason
    # canceling again: refused with 409, the run stays as it is
    status, res = server.request(api(site, "runs", run.id, "cancel"), "POST")
    assert status == 409 and res["requested"] is False


def test_unauthenticated_requests_are_refused(site: Any) -> None:
    server, done = site["server"], site["done"]
    paths = [
        "/hdnotebook/api/workspaces",
        "/hdnotebook/api/experiments",
        api(site, "runs", done.id),
        api(site, "runs", done.id, "changes") + "?since=0",
        "/hdnotebook/api/nothing-here",
    ]
    for path in paths:
        for token in (None, "wrong-token"):
            status, body = server.request(path, token=token)
            assert status == 403, (path, token, status)
            assert done.id not in json.dumps(body)
    status, _ = server.request(api(site, "runs", done.id, "cancel"), "POST", {}, token=None)
    assert status == 403
    status, _ = server.request("/hdnotebook", token=None, raw=True)
    assert status == 302  # to the login page
    for script in ["/hdnotebook/static/hdviews.js", "/hdnotebook/bundle/run_details.js"]:
        status, _ = server.request(script, token=None, raw=True)
        assert status in (302, 403), script
    # with the token: the page, its scripts and the widget's front end it draws a run with
    status, page = server.request("/hdnotebook", raw=True)
    assert status == 200 and "hdviews.js" in page and '<script type="module" src="/hdnotebook/static/page.js">' in page
    status, js = server.request("/hdnotebook/static/hdviews.js", raw=True)
    assert status == 200 and "createList" in js and "createDetail" not in js
    status, js = server.request("/hdnotebook/static/page.js", raw=True)
    assert status == 200 and "../bundle/run_details.js" in js
    status, bundle = server.request("/hdnotebook/bundle/run_details.js", raw=True)
    assert status == 200 and "mountRunView" in bundle
    assert server.request("/hdnotebook/bundle/other.js", raw=True)[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/hdnotebook/api/workspaces/..%2F..%2Fetc/experiments",
        "/hdnotebook/api/workspaces/%2Fetc%2Fpasswd/experiments",
        "/hdnotebook/api/workspaces/../../../etc/experiments",
        "/hdnotebook/api/workspaces/0123456789abcdef/experiments",  # well-formed, unknown
        "/hdnotebook/api/experiments?workspace=..%2F..",
        "/hdnotebook/api/experiments?workspace=/tmp",
        "/hdnotebook/static/..%2F__init__.py",
        "/hdnotebook/static/%2E%2E/handlers.py",
        "/hdnotebook/bundle/..%2Fstore.py",
        "/hdnotebook/bundle/%2E%2E/store.py",
    ],
)
def test_path_escaping_inputs_are_refused(site: Any, path: str) -> None:
    status, body = site["server"].request(path, raw=True)
    assert status in (400, 403, 404), (path, status)
    assert "_load_jupyter_server_extension" not in body and "root:" not in body


def test_bad_run_ids_and_cursors_are_refused(site: Any) -> None:
    server, done = site["server"], site["done"]
    for run_id in ["..%2F..%2Fx", "HD_nope", "%00", "a%20b"]:
        status, _ = server.request(api(site, "runs", run_id))
        assert status in (400, 404), run_id
    for since in ["abc", "1.2.3", "-1.0", "1e9.0", "99999999999999999999.0"]:
        status, _ = server.request(api(site, "runs", done.id, "changes") + "?since=" + urllib.parse.quote(since))
        assert status == 400, since
    child = done.get_children()[0].id
    status, _ = server.request(api(site, "runs", child, "changes"))
    assert status == 400  # changes are asked of the experiment run
    status, _ = server.request(api(site, "runs", done.id, "cancel"), "POST", ["not", "an", "object"])
    assert status == 400


def test_workspaces_outside_the_root_are_never_listed(site: Any) -> None:
    listing = site["server"].get("/hdnotebook/api/workspaces")["workspaces"]
    names = [e["name"] for e in site["server"].get("/hdnotebook/api/experiments")["experiments"]]
    assert all("link-out" not in w["path"] and "outside" not in w["path"] for w in listing)
    assert "secret" not in names


def test_server_and_workspace_agree_on_the_store_file_name() -> None:
    from hdnotebook.server.workspaces import STORE_FILE
    from hdnotebook.workspace import STORE_FILE as ENGINE_STORE_FILE

    assert STORE_FILE == ENGINE_STORE_FILE


def test_finder_refuses_patterns_that_climb_out(tmp_path: Any) -> None:
    from hdnotebook.server.workspaces import WorkspaceFinder

    root = tmp_path / "root"
    Workspace(str(root / "a" / "b" / "c" / "d" / "e" / "deep")).store  # the store file makes it a workspace
    Workspace(str(tmp_path / "elsewhere")).store
    finder = WorkspaceFinder(str(root), max_depth=2, patterns=["../elsewhere", "/tmp", "a/**/deep"])
    found = [w.relpath for w in finder.list()]
    assert found == [os.path.join("a", "b", "c", "d", "e", "deep")]
    assert finder.get("../../etc") is None and finder.get("0" * 16) is None


def test_a_symlinked_store_file_pointing_outside_the_root_is_neither_listed_nor_touched(site: Any) -> None:
    from hdnotebook.server.workspaces import WorkspaceFinder, workspace_id as wid

    server, foreign = site["server"], site["foreign"]
    linked = os.path.join(site["root"], "linked", ".hdnotebook")
    assert [w.relpath for w in WorkspaceFinder(site["root"]).list()] == [os.path.join("project", ".hdnotebook")]
    status, _ = server.request(f"/hdnotebook/api/workspaces/{wid(linked)}/experiments")
    assert status == 404
    for path in ["/hdnotebook/api/workspaces", "/hdnotebook/api/experiments", api(site, "experiments")]:
        assert server.request(path)[0] == 200
    conn = sqlite3.connect(f"file:{foreign}?mode=ro", uri=True)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["private"]
    assert not os.path.exists(foreign + "-wal")


def test_reading_never_writes_the_store(site: Any) -> None:
    server, done = site["server"], site["done"]
    path = site["workspace"].store_path
    before = os.stat(path).st_mtime_ns
    for url in [api(site, "experiments"), api(site, "runs", done.id), api(site, "runs", done.id, "changes"),
                api(site, "runs", done.id, "metrics")]:
        assert server.request(url)[0] == 200
    assert os.stat(path).st_mtime_ns == before


def test_every_bad_query_parameter_is_a_400(site: Any) -> None:
    server, done = site["server"], site["done"]
    for query in ["after=%C2%B2", "after=-1", "after=1.5", "after=" + "9" * 19, "name=" + "x" * 1001]:
        status, _ = server.request(api(site, "runs", done.id, "metrics") + "?" + query)
        assert status == 400, query
    status, _ = server.request(api(site, "runs", done.id, "changes") + "?name=" + "x" * 1001)
    assert status == 400
    status, _ = server.request("/hdnotebook/api/experiments?workspace=not-an-id")
    assert status == 400


def test_changes_filter_by_name_and_stop_at_the_limit_in_sql(site: Any, monkeypatch: Any) -> None:
    from hdnotebook.server import api as server_api

    store, done = site["workspace"].store, site["done"]
    parent = store.run(done.id)
    everything = server_api.changes_json(store, parent, (0, 0))
    assert not everything["more"] and {m[2] for m in everything["metrics"]} >= {"accuracy"}
    only = server_api.changes_json(store, parent, (0, 0), name="accuracy")
    assert {m[2] for m in only["metrics"]} == {"accuracy"}
    monkeypatch.setattr(server_api, "MAX_METRICS", 3)
    pages, cursor = [], (0, 0)
    while True:
        page = server_api.changes_json(store, parent, cursor, name="accuracy")
        pages.append(page["metrics"])
        cursor = server_api.parse_cursor(page["cursor"])
        if not page["more"]:
            break
    assert all(len(p) <= 3 for p in pages)
    assert [m[0] for p in pages for m in p] == [m[0] for m in only["metrics"]]


def test_steering_through_the_api_reaches_the_driver(site: Any) -> None:
    """POST .../steer: the driver applies it and its answer comes back; bad requests get its reason."""
    server = site["server"]
    run = Experiment(site["workspace"], "steered").submit(config(slow_train, total=3, concurrent=1, seed=9))
    poll_until(lambda: [c for c in server.get(api(site, "runs", run.id))["children"] if c["status"] == "Running"])
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST", {"action": "pause"})
    assert status == 200 and res["state"] == "applied" and "paused" in res["message"]
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST",
                                 {"action": "set_limits", "args": {"max_total_runs": 4, "max_concurrent_runs": 0}})
    assert status == 400 and "max_concurrent_runs must be from 1 to 100, got 0" in res["message"]
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST",
                                 {"action": "enqueue", "args": {"params": {"lr": 0.5, "bs": 3}}})
    assert status == 400 and "bs=3 is not a value of choice(1, 2, 4)" in res["message"]
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST",
                                 {"action": "enqueue", "args": {"params": {"lr": 0.5, "bs": 2}}})
    assert status == 200, res
    enqueued = res["result"]["run_id"]
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST", {"action": "fly"})
    assert status == 400 and "action must be one of pause, resume" in res["message"]
    child = server.get(api(site, "runs", run.id))["children"][0]["id"]
    status, res = server.request(api(site, "runs", child, "steer"), "POST", {"action": "pause"})
    assert status == 400 and "is a child run" in res["message"]
    log = server.get(api(site, "runs", run.id, "steer"))
    assert log["paused"] is True
    assert [(r["action"], r["state"]) for r in log["requests"]] == [
        ("pause", "applied"), ("set_limits", "rejected"), ("enqueue", "rejected"), ("enqueue", "applied")]
    assert all(r["source"].startswith("jupyter-server") for r in log["requests"])
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST", {"action": "resume"})
    assert status == 200
    run.wait_for_completion()
    rows = {r.id: r for r in site["workspace"].store.child_runs(run.id)}
    assert len(rows) == 3 and rows[enqueued].params == {"lr": 0.5, "bs": 2} and rows[enqueued].status == "Completed"
    # the experiment has ended: 409
    status, res = server.request(api(site, "runs", run.id, "steer"), "POST", {"action": "pause"})
    assert status == 409
    # one run in full
    detail = server.get(api(site, "runs", enqueued, "detail"))
    assert detail["params"] == {"lr": 0.5, "bs": 2} and len(detail["metrics"]["accuracy"]) == 12
    assert detail["links"] == {"enqueued": True}
    status, res = server.request(api(site, "runs", run.id, "detail"))
    assert status == 400


# ------------------------------------------------------------------------------------------------
# the view model (GET .../runs/RUN/view?seq=N): what the sidebar's experiment tab and the page draw
# ------------------------------------------------------------------------------------------------
def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    """A view state without what differs between two readers of the same store: their clocks."""
    state = json.loads(json.dumps(state))
    state["header"].pop("now")
    return state


def test_the_view_route_serves_the_widgets_model_live(site: Any) -> None:
    from hdnotebook.run_view import apply_message
    from hdnotebook.widgets.run_details import kernel_view_model

    pytest.importorskip("sklearn", reason="the importances need scikit-learn (the examples extra)")
    server = site["server"]
    run = Experiment(site["workspace"], "viewed").submit(config(slow_train, total=4, concurrent=2, seed=4))
    url = api(site, "runs", run.id, "view")
    first = server.get(url)
    assert [m["type"] for m in first["messages"]] == ["snapshot"] and first["seq"] == first["messages"][0]["seq"]
    view, seq, updates, running_updates = apply_message({}, first["messages"][0]), first["seq"], 0, 0

    def follow() -> None:
        nonlocal seq, updates, running_updates
        answer = server.get(f"{url}?seq={seq}")
        for msg in answer["messages"]:
            assert msg["type"] == "update" and msg["seq"] == seq + 1, "updates follow one by one"
            apply_message(view, msg)
            seq = msg["seq"]
            updates += 1
            running_updates += msg["header"]["status"] == "Running"
        assert answer["seq"] == seq

    while view["header"]["status"] != "Completed":
        follow()
        time.sleep(0.3)
    assert running_updates >= 2, f"updates should come while the experiment runs ({updates} in all)"
    run.wait_for_completion()
    # the importances and the contour come from a job in a process of its own, once it has answered
    kernel = kernel_view_model(site["workspace"].store, run.id)
    want = kernel.header()["importance"]
    assert want["values"] and want["runs"] == 4
    poll_until(lambda: follow() or view["header"]["importance"] == want, timeout=90, every=0.5)
    # what the views built from the updates is what the kernel's model (the widget's) holds
    assert view["meta"]["contour"] is not None
    assert _comparable(view) == _comparable(kernel.state())
    # ... and what the list shows: the same best run and value
    summary = server.get(api(site, "runs", run.id))["run"]
    assert (view["header"]["best"], view["header"]["best_run"]) == (summary["best"], summary["best_run"])
    assert len(view["order"]) == 4 and all(len(s["accuracy"]) == 12 for s in view["series"].values())
    # a seq the server never made (a restarted server, another's model): a fresh snapshot
    again = server.get(f"{url}?seq={seq + 1000}")
    assert [m["type"] for m in again["messages"]] == ["snapshot"]
    assert _comparable(apply_message({}, again["messages"][0])) == _comparable(view)
    assert server.get(f"{url}?seq={seq}")["messages"] == []  # nothing new
    assert server.get(f"{url}?seq={seq}&epoch={again['epoch']}")["messages"] == []
    # ... and a view that polled another model of this run (evicted, or before a restart): a snapshot
    assert [m["type"] for m in server.get(f"{url}?seq={seq}&epoch=0123abcd")["messages"]] == ["snapshot"]


def test_the_view_route_refuses_bad_parameters(site: Any) -> None:
    server, done = site["server"], site["done"]
    url = api(site, "runs", done.id, "view")
    for query in ["seq=-1", "seq=1.5", "seq=abc", "seq=%C2%B2", "seq=" + "9" * 19]:
        status, res = server.request(f"{url}?{query}")
        assert status == 400 and "seq must be" in res["message"], query
    status, res = server.request(f"{url}?seq=1&epoch=not-hex")
    assert status == 400 and "epoch must be" in res["message"]
    child = site["workspace"].store.child_runs(done.id)[0].id
    status, res = server.request(api(site, "runs", child, "view"))
    assert status == 400 and "is a child run" in res["message"]
    assert server.request(api(site, "runs", "HD_nope", "view"))[0] == 404
    assert server.request("/hdnotebook/api/workspaces/" + "0" * 16 + f"/runs/{done.id}/view")[0] == 404
    assert server.request(url, token=None)[0] == 403


def test_view_models_keep_a_bounded_history_and_evict_the_least_recently_used(site: Any) -> None:
    from hdnotebook.run_view import apply_message
    from hdnotebook.server.views import MIN_POLL_SECONDS, ViewModels

    store = site["workspace"].store
    views = ViewModels(capacity=2, keep_updates=3, insight=False)
    run = Experiment(site["workspace"], "history").submit(config(slow_train, total=3, concurrent=3, seed=6))
    key = ("w" * 16, run.id)
    first = views.messages(key, store, 0)
    state, seq, answers = apply_message({}, first["messages"][0]), first["seq"], []
    while state["header"]["status"] != "Completed" or len(answers) < 8:
        time.sleep(MIN_POLL_SECONDS * 1.2)
        answers.append(views.messages(key, store, seq))  # another view keeps up; this one only looks
        if state["header"]["status"] != "Completed":
            for msg in answers[-1]["messages"]:
                apply_message(state, msg)
            seq = answers[-1]["seq"]
    run.wait_for_completion()
    made = views.messages(key, store, seq)["seq"]
    assert made >= 5, f"only {made} updates: the history test needs more than it keeps"
    # within the last 3 updates: the updates; older: a snapshot
    assert [m["seq"] for m in views.messages(key, store, made - 3)["messages"]] == [made - 2, made - 1, made]
    assert [m["type"] for m in views.messages(key, store, made - 4)["messages"]] == ["snapshot"]
    # least recently used goes first: a third run evicts the one not asked for longest
    done = site["done"].id
    views.messages(("x" * 16, done), store, 0)
    views.messages(key, store, made)
    views.messages(("y" * 16, done), store, 0)
    assert len(views) == 2 and key in views and ("x" * 16, done) not in views


def test_the_model_leaves_the_answers_it_is_given_alone_and_numbers_every_update(site: Any) -> None:
    """The server's insight job answers with the same grid until it answers again: the model asks
    for it more than once and must not change it (it did: the second ask raised, and the update
    it was making was numbered and lost, so views waited for it forever)."""
    from hdnotebook.run_view import RunDetailsModel

    grid = {"x": {"name": "lr"}, "y": {"name": "bs"}, "z": [[0.5]], "trials": [[0.1, 1, 0.5]] * 3}
    model = RunDetailsModel(site["workspace"].store, site["done"].id, contour=lambda *_: grid)
    seqs = [model.seq]
    for _ in range(3):
        msg = model.refresh_insight()
        seqs.append(msg["seq"])
        assert model.meta()["contour"]["trials"] == 3
    assert grid["trials"] == [[0.1, 1, 0.5]] * 3
    assert seqs == list(range(seqs[0], seqs[0] + 4))
