// A stand-in for the anywidget model of RunDetails, fed over REST by the hdnotebook server extension
// instead of by a kernel: the JupyterLab sidebar's experiment tab and the plain /hdnotebook page draw
// the widget's own `render` through it, so the three views show the same thing.
//
// It polls GET .../runs/RUN/view?seq=N&epoch=E (about once a second; every 5 s once the experiment
// has ended or while no view of it is on screen, e.g. a JupyterLab tab in the background): a
// `snapshot` answer becomes the `_snapshot` attribute (as the kernel's synced trait), `update`
// answers become `msg:custom` events (as the kernel's messages). What the front end sends goes to
// the REST routes the kernel would have used:
//   {type: "snapshot"}                      -> the next poll asks for a snapshot (seq=0), at once
//   {type: "run_detail", id, run_id}        -> GET .../runs/RUN/detail, answered as a `run_detail` message
//   {type: "steer", action, args}           -> POST .../runs/PARENT/steer
//   {type: "cancel_run", run_id}            -> POST .../runs/RUN/cancel
//   {type: "cancel_experiment"}             -> POST .../runs/PARENT/cancel
// `selected_run` and `height` live here only (no kernel to sync them with).
import { restFetch } from "./page.js";

const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);

// `visible()`: whether a view of it is on screen; while none is, it polls 5x less often
export function createRestModel({ workspace, run, interval = 1000, height = 300, visible = () => true }) {
  const attrs = { _snapshot: null, _rest: { workspace, run }, height, selected_run: null };
  const handlers = new Map(); // event name -> Set of callbacks
  let seq = 0;
  let epoch = "";
  let wantSnapshot = false; // the view asked for one: the next polls ask with seq 0 until one comes
  let timer = null;
  let closed = false;
  let quietPolls = 0; // polls since the experiment ended that brought nothing
  let lastError = null;

  function emit(name, ...args) {
    for (const fn of [...(handlers.get(name) || [])]) {
      try { fn(...args); } catch (e) { console.error("hdnotebook: a view failed on", name, e); }
    }
  }

  const model = {
    get: (name) => attrs[name],
    set(name, value) {
      if (attrs[name] === value) return;
      attrs[name] = value;
      emit(`change:${name}`, value);
    },
    save_changes() {},
    on(name, fn) { (handlers.get(name) || handlers.set(name, new Set()).get(name)).add(fn); },
    off(name, fn) {
      if (!name) { handlers.clear(); return; }
      const set = handlers.get(name);
      if (set && fn) set.delete(fn); else if (set) set.clear();
    },
    send(msg) {
      if (!msg || typeof msg !== "object") return;
      if (msg.type === "snapshot") { wantSnapshot = true; pollSoon(0); }
      else if (msg.type === "run_detail") detail(msg);
      else if (msg.type === "steer") post(run, "steer", { action: msg.action, args: msg.args || {} });
      else if (msg.type === "cancel_run" && typeof msg.run_id === "string") post(msg.run_id, "cancel", { reason: "canceled from the experiment view" });
      else if (msg.type === "cancel_experiment") post(run, "cancel", { reason: "canceled from the experiment view" });
    },
    // not anywidget's: the first answer (a promise), a poll now, the last error, and the end
    ready: null,
    stats: { polls: 0, errors: 0, messages: 0 }, // for tests and benchmarks
    refresh() { pollSoon(0); },
    error: () => lastError,
    close() { closed = true; clearTimeout(timer); handlers.clear(); },
  };

  async function post(runId, route, body) {
    try {
      const res = await restFetch(workspace, runId, route, { method: "POST", body });
      if (!res.ok && res.status !== 202) console.warn(`hdnotebook: ${route} of ${runId}: ${res.status}`);
    } catch (e) { console.warn(`hdnotebook: ${route} of ${runId}:`, e); }
    pollSoon(300);
  }

  async function detail(msg) {
    const reply = { type: "run_detail", id: msg.id, run_id: msg.run_id };
    try {
      const res = await restFetch(workspace, msg.run_id, "detail");
      const body = await res.json();
      if (res.ok) reply.detail = body; else reply.error = body.message || res.statusText;
    } catch (e) { reply.error = String(e); }
    if (!closed) emit("msg:custom", reply, []);
  }

  async function poll() {
    model.stats.polls += 1;
    model.stats.asked = seq;
    const res = await restFetch(workspace, run, "view", { query: `?seq=${wantSnapshot ? 0 : seq}&epoch=${epoch}` });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${res.status} ${body.message || res.statusText}`);
    if (closed) return;
    epoch = body.epoch || "";
    let news = false;
    for (const msg of body.messages || []) {
      news = true;
      model.stats.messages += 1;
      if (msg.type === "snapshot") { wantSnapshot = false; model.set("_snapshot", { ...msg, epoch }); }
      else emit("msg:custom", msg, []);
      seq = msg.seq;
    }
    if (typeof body.seq === "number") seq = body.seq;
    const snap = attrs._snapshot;
    const last = (body.messages || []).filter((m) => m.header).pop();
    const status = last ? last.header.status : snap && snap.header && snap.header.status;
    quietPolls = TERMINAL.has(status) && !news ? quietPolls + 1 : 0;
  }

  function pollSoon(ms) {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(loop, ms);
  }
  let busy = false;
  async function loop() {
    timer = null;
    if (closed) return;
    if (busy || (typeof document !== "undefined" && document.hidden)) { pollSoon(busy ? 100 : interval); return; }
    busy = true;
    try {
      await poll();
      if (lastError) emit("ok");
      lastError = null;
    } catch (e) { lastError = e; model.stats.errors += 1; emit("error", e); }
    busy = false;
    pollSoon(quietPolls > 2 || !visible() ? 5 * interval : interval);
  }

  // the first snapshot: asked for until it comes (the server may be starting, the run not yet stored)
  model.ready = (async () => {
    for (;;) {
      busy = true;
      try { await poll(); } catch (e) { lastError = e; emit("error", e); }
      busy = false;
      if (closed) throw new Error("closed");
      if (attrs._snapshot) break;
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
    lastError = null;
    pollSoon(interval);
    return model;
  })();
  return model;
}
