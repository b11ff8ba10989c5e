/* hdnotebook experiment views: the experiment list and one experiment run's table, learning curves
 * and parallel coordinates, drawn as plain DOM + SVG (no chart library, so the JupyterLab extension
 * stays small). Shared by the JupyterLab sidebar (bundled) and the plain /hdnotebook page (a script).
 *
 *   HDViews.createList(el, {api, onOpen})          polls GET {base}/experiments every second
 *   HDViews.createDetail(el, {api, workspace, run}) polls GET .../runs/RUN/changes?since=CURSOR
 *
 * `api` is {base, getJSON(url), postJSON(url, body)}: the host supplies authentication.
 */
(function (root, factory) {
  var mod = factory();
  if (typeof module === 'object' && module.exports) { module.exports = mod; }
  else { root.HDViews = mod; }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  var TERMINAL = { Completed: 1, Failed: 1, Canceled: 1 };
  var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'onclick') el.addEventListener('click', attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null) el.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return el;
  }
  function s(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function fmt(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v !== 'number') return String(v);
    if (v === 0) return '0';
    var a = Math.abs(v);
    return (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(4));
  }
  function duration(r) {
    if (!r.started) return '';
    var end = r.ended || Date.now() / 1000;
    var d = Math.max(0, end - r.started);
    return d < 60 ? d.toFixed(1) + ' s' : d < 3600 ? (d / 60).toFixed(1) + ' min' : (d / 3600).toFixed(2) + ' h';
  }
  function badge(status) { return h('span', { 'class': 'hdn-status hdn-status-' + String(status).toLowerCase(), text: status }); }
  function better(a, b, goal) { return goal === 'minimize' ? a < b : a > b; }
  function visible(el) { return el.isConnected && (el.offsetParent !== null || el.getClientRects().length > 0); }

  /* A poll loop: calls step() every every() ms while the element is shown; one step at a time. */
  function poller(el, step, every) {
    var timer = null, stopped = false, busy = false;
    function schedule(ms) { clearTimeout(timer); timer = setTimeout(tick, ms); }
    function tick() {
      timer = null;
      if (stopped) return;
      if (!visible(el)) { schedule(every()); return; }
      busy = true;
      Promise.resolve().then(step).catch(function (err) { console.warn('hdnotebook:', err); })
        .then(function () { busy = false; if (!stopped) schedule(every()); });
    }
    tick();
    return {
      stop: function () { stopped = true; clearTimeout(timer); },
      now: function () { if (!busy && !stopped) schedule(0); }
    };
  }

  function progressBar(summary) {
    var c = summary.counts || {};
    var done = (c.Completed || 0) + (c.Failed || 0) + (c.Canceled || 0);
    var total = summary.max_total_runs || summary.children || 0;
    var pct = Math.round(100 * (summary.progress || 0));
    return h('div', { 'class': 'hdn-progress', title: done + ' of ' + total + ' runs finished, ' + (c.Running || 0) + ' running' }, [
      h('div', { 'class': 'hdn-progress-bar', style: 'width:' + pct + '%' }),
      h('span', { 'class': 'hdn-progress-text', text: done + '/' + total })
    ]);
  }

  // ---------------------------------------------------------------------------------------------
  // the experiment list (sidebar)
  // ---------------------------------------------------------------------------------------------
  function createList(el, opts) {
    var api = opts.api;
    el.classList.add('hdn-list-view');
    var head = h('div', { 'class': 'hdn-list-head' }, [h('h2', { text: 'Experiments' })]);
    var body = h('div', { 'class': 'hdn-list-body' }, [h('p', { 'class': 'hdn-muted', text: 'Loading…' })]);
    el.appendChild(head); el.appendChild(body);
    var lastJSON = '';
    function render(exps) {
      body.textContent = '';
      if (!exps.length) {
        body.appendChild(h('p', { 'class': 'hdn-muted', text: 'No experiments yet. Submit one from a notebook: Experiment(Workspace(), "name").submit(config).' }));
        return;
      }
      exps.forEach(function (e) {
        if (e.error) { body.appendChild(h('div', { 'class': 'hdn-item hdn-error', text: e.workspace_path + ': ' + e.error })); return; }
        var r = (e.runs || [])[0];
        if (!r) return;
        var item = h('div', {
          'class': 'hdn-item', role: 'button', tabindex: '0', 'data-experiment': e.name, 'data-run': r.id, 'data-status': r.status,
          title: e.workspace_path + ' / ' + e.name + ' (' + r.id + ')' + (e.runs.length > 1 ? ', ' + e.runs.length + ' runs' : ''),
          onclick: function () { opts.onOpen(e.workspace, r.id, e.name); }
        }, [
          h('div', { 'class': 'hdn-item-row' }, [h('span', { 'class': 'hdn-item-name', text: e.name }), badge(r.driver_alive === false && !TERMINAL[r.status] ? 'Stale' : r.status)]),
          h('div', { 'class': 'hdn-item-row' }, [
            progressBar(r),
            h('span', { 'class': 'hdn-best', title: 'best ' + (r.primary_metric_name || '') + ' (' + (r.goal || '') + ')', text: (r.primary_metric_name || 'best') + ' ' + fmt(r.best) })
          ]),
          h('div', { 'class': 'hdn-item-ws hdn-muted', text: e.workspace_path })
        ]);
        item.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') opts.onOpen(e.workspace, r.id, e.name); });
        body.appendChild(item);
      });
    }
    var p = poller(el, function () {
      return api.getJSON(api.base + '/experiments').then(function (data) {
        var exps = data.experiments || [];
        exps.sort(function (a, b) { var ra = (a.runs || [])[0], rb = (b.runs || [])[0]; return ((rb && rb.created) || 0) - ((ra && ra.created) || 0); });
        var text = JSON.stringify(exps);
        if (text !== lastJSON) { lastJSON = text; render(exps); }
      }, function (err) { body.textContent = ''; body.appendChild(h('p', { 'class': 'hdn-error', text: 'Cannot reach the hdnotebook server extension: ' + err })); });
    }, function () { return opts.interval || 1000; });
    return { dispose: p.stop, refresh: p.now };
  }

  // ---------------------------------------------------------------------------------------------
  // one experiment run: table, learning curves, parallel coordinates
  // ---------------------------------------------------------------------------------------------
  function learningCurves(state, width) {
    var W = Math.max(320, width), H = 280, m = { l: 56, r: 12, t: 12, b: 36 };
    var svg = s('svg', { 'class': 'hdn-chart hdn-curves', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'learning curves' });
    var xs = [], ys = [];
    state.order.forEach(function (id) { (state.curves[id] || []).forEach(function (p) { xs.push(p[0]); if (p[1] !== null) ys.push(p[1]); }); });
    if (!ys.length) { svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'class': 'hdn-axis-label' }, 'no ' + (state.primary || 'metric') + ' logged yet')); return svg; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (x1 === x0) x1 = x0 + 1; if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    var pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    function X(v) { return m.l + (v - x0) / (x1 - x0) * (W - m.l - m.r); }
    function Y(v) { return H - m.b - (v - y0) / (y1 - y0) * (H - m.t - m.b); }
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4;
      svg.appendChild(s('line', { x1: m.l, x2: W - m.r, y1: Y(yv), y2: Y(yv), 'class': 'hdn-grid' }));
      svg.appendChild(s('text', { x: m.l - 4, y: Y(yv) + 4, 'text-anchor': 'end', 'class': 'hdn-tick' }, fmt(yv)));
    }
    var step = Math.max(1, Math.ceil((x1 - x0) / 6)), xt;
    for (xt = Math.ceil(x0); xt <= x1; xt += step) {
      svg.appendChild(s('text', { x: X(xt), y: H - m.b + 14, 'text-anchor': 'middle', 'class': 'hdn-tick' }, String(xt)));
    }
    svg.appendChild(s('text', { x: (W + m.l) / 2, y: H - 4, 'text-anchor': 'middle', 'class': 'hdn-axis-label' }, 'interval (times ' + state.primary + ' was logged)'));
    svg.appendChild(s('text', { x: 12, y: (H - m.b) / 2, transform: 'rotate(-90 12 ' + (H - m.b) / 2 + ')', 'text-anchor': 'middle', 'class': 'hdn-axis-label' }, state.primary));
    state.order.forEach(function (id, k) {
      var pts = (state.curves[id] || []).filter(function (p) { return p[1] !== null; });
      if (!pts.length) return;
      var run = state.runs[id] || {};
      var best = id === state.bestRun;
      var path = s('polyline', {
        points: pts.map(function (p) { return X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1); }).join(' '),
        'class': 'hdn-line' + (best ? ' hdn-line-best' : '') + (run.status === 'Canceled' ? ' hdn-line-canceled' : ''),
        stroke: PALETTE[k % PALETTE.length], 'data-run': id
      });
      path.appendChild(s('title', {}, 'run ' + (run.number !== undefined ? run.number : id) + ' (' + run.status + '): last ' + fmt(pts[pts.length - 1][1])));
      svg.appendChild(path);
      if (pts.length === 1) svg.appendChild(s('circle', { cx: X(pts[0][0]), cy: Y(pts[0][1]), r: 2.5, fill: PALETTE[k % PALETTE.length] }));
    });
    return svg;
  }

  function colorFor(t) { // t in [0, 1] -> a viridis-like ramp
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    t = Math.max(0, Math.min(1, isFinite(t) ? t : 0)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
    return 'rgb(' + [0, 1, 2].map(function (j) { return Math.round(a[j] + (b[j] - a[j]) * f); }).join(',') + ')';
  }

  function parallelCoordinates(state, width) {
    var W = Math.max(320, width), H = 280, m = { l: 40, r: 56, t: 28, b: 24 };
    var svg = s('svg', { 'class': 'hdn-chart hdn-parcoords', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'parallel coordinates' });
    var runs = state.order.map(function (id) { return state.runs[id]; }).filter(function (r) { return r && r.params; });
    var names = state.paramNames.slice();
    var dims = names.map(function (n) { return { name: n, get: function (r) { return r.params[n]; } }; });
    dims.push({ name: state.primary || 'metric', metric: true, get: function (r) { return state.best[r.id]; } });
    if (!runs.length) { svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'class': 'hdn-axis-label' }, 'no runs yet')); return svg; }
    dims.forEach(function (d) {
      var vals = runs.map(d.get).filter(function (v) { return v !== undefined && v !== null; });
      d.numeric = vals.every(function (v) { return typeof v === 'number'; });
      if (d.numeric) {
        d.lo = vals.length ? Math.min.apply(null, vals) : 0; d.hi = vals.length ? Math.max.apply(null, vals) : 1;
        if (d.hi === d.lo) { d.lo -= 0.5; d.hi += 0.5; }
        d.pos = function (v) { return (v - d.lo) / (d.hi - d.lo); };
        d.ticks = [d.lo, (d.lo + d.hi) / 2, d.hi];
      } else {
        var cats = []; vals.forEach(function (v) { var k = JSON.stringify(v); if (cats.indexOf(k) < 0) cats.push(k); });
        d.cats = cats;
        d.pos = function (v) { return cats.length < 2 ? 0.5 : cats.indexOf(JSON.stringify(v)) / (cats.length - 1); };
      }
    });
    var n = dims.length;
    function X(i) { return m.l + (n === 1 ? 0.5 : i / (n - 1)) * (W - m.l - m.r); }
    function Y(t) { return H - m.b - t * (H - m.t - m.b); }
    var md = dims[n - 1];
    runs.forEach(function (r) {
      var pts = [], ok = true;
      dims.forEach(function (d, i) {
        var v = d.get(r);
        if (v === undefined || v === null) { ok = false; return; }
        pts.push(X(i).toFixed(1) + ',' + Y(d.pos(v)).toFixed(1));
      });
      var mv = md.get(r);
      var t = (mv === undefined || mv === null || !md.numeric) ? null : md.pos(mv);
      if (state.goal === 'minimize' && t !== null) t = 1 - t;
      var line = s('polyline', {
        points: pts.join(' '), 'class': 'hdn-pc-line' + (ok ? '' : ' hdn-pc-partial') + (r.id === state.bestRun ? ' hdn-line-best' : ''),
        stroke: t === null ? '#999' : colorFor(t), 'data-run': r.id
      });
      line.appendChild(s('title', {}, 'run ' + r.number + ': ' + names.map(function (k) { return k + '=' + fmt(r.params[k]); }).join(', ') + ' → ' + fmt(mv)));
      svg.appendChild(line);
    });
    dims.forEach(function (d, i) {
      var x = X(i);
      svg.appendChild(s('line', { x1: x, x2: x, y1: Y(0), y2: Y(1), 'class': 'hdn-axis' }));
      svg.appendChild(s('text', { x: x, y: m.t - 12, 'text-anchor': 'middle', 'class': 'hdn-axis-label' + (d.metric ? ' hdn-axis-metric' : '') }, d.name));
      var ticks = d.numeric ? d.ticks.map(function (v) { return [d.pos(v), fmt(v)]; })
        : d.cats.map(function (c) { return [d.pos(JSON.parse(c)), fmt(JSON.parse(c))]; });
      ticks.forEach(function (tk) { svg.appendChild(s('text', { x: x + 4, y: Y(tk[0]) + 4, 'class': 'hdn-tick' }, tk[1])); });
    });
    return svg;
  }

  function createDetail(el, opts) {
    var api = opts.api;
    var base = api.base + '/workspaces/' + encodeURIComponent(opts.workspace) + '/runs/' + encodeURIComponent(opts.run);
    var state = { cursor: '0', runs: {}, order: [], curves: {}, best: {}, bestRun: null, parent: null, primary: null, goal: 'maximize', paramNames: [] };
    el.classList.add('hdn-detail-view');
    var header = h('div', { 'class': 'hdn-detail-head' });
    var charts = h('div', { 'class': 'hdn-charts' });
    var curvesBox = h('figure', { 'class': 'hdn-figure' }, [h('figcaption', { text: 'Learning curves' })]);
    var pcBox = h('figure', { 'class': 'hdn-figure' }, [h('figcaption', { text: 'Parallel coordinates' })]);
    charts.appendChild(curvesBox); charts.appendChild(pcBox);
    var tableBox = h('div', { 'class': 'hdn-table-box' });
    var message = h('div', { 'class': 'hdn-message', role: 'status' });
    [header, message, charts, tableBox].forEach(function (c) { el.appendChild(c); });

    function cancel(id, what) {
      if (typeof confirm === 'function' && opts.confirm !== false && !confirm('Cancel ' + what + '?')) return;
      api.postJSON(base.replace(/runs\/[^/]+$/, 'runs/' + encodeURIComponent(id)) + '/cancel', { reason: 'canceled from the hdnotebook view' })
        .then(function (res) { message.textContent = res.requested ? 'Cancel requested for ' + id + '.' : (res.message || 'Not canceled.'); loop.now(); },
          function (err) { message.textContent = 'Cancel failed: ' + err; });
    }

    function renderHeader() {
      var p = state.parent; header.textContent = '';
      if (!p) return;
      var c = p.counts || {};
      header.appendChild(h('div', { 'class': 'hdn-title-row' }, [
        h('h2', { text: p.experiment + ' ' }, [h('small', { 'class': 'hdn-muted', text: p.id })]),
        badge(p.status),
        TERMINAL[p.status] ? null : h('button', { 'class': 'hdn-cancel', 'data-run': p.id, text: 'Cancel experiment', onclick: function () { cancel(p.id, 'the whole experiment ' + p.id); } })
      ]));
      header.appendChild(h('div', { 'class': 'hdn-summary' }, [
        progressBar(p),
        h('span', { text: 'best ' + (p.primary_metric_name || '') + ' (' + (p.goal || '') + '): ' }, [h('b', { 'class': 'hdn-best-value', text: fmt(p.best) })]),
        h('span', { 'class': 'hdn-muted', text: ['Queued', 'Running', 'Completed', 'Canceled', 'Failed'].map(function (k) { return (c[k] || 0) + ' ' + k.toLowerCase(); }).join(' · ') }),
        h('span', { 'class': 'hdn-muted', text: (p.details && p.details.sampling ? p.details.sampling + ' sampling · ' : '') + (p.details && p.details.policy ? p.details.policy : '') })
      ]));
      if (p.details && (p.details.warning || p.details.error)) header.appendChild(h('div', { 'class': 'hdn-error', text: p.details.error || p.details.warning }));
    }

    function renderTable() {
      tableBox.textContent = '';
      var cols = ['#', 'status'].concat(state.paramNames, [state.primary || 'metric', 'duration', '']);
      var thead = h('thead', {}, [h('tr', {}, cols.map(function (c) { return h('th', { text: c }); }))]);
      var tbody = h('tbody');
      state.order.forEach(function (id) {
        var r = state.runs[id];
        var reason = r.details && r.details.stop ? r.details.stop.reason : (r.details && r.details.error) || '';
        var tr = h('tr', { 'data-run': id, 'class': id === state.bestRun ? 'hdn-row-best' : '' }, [
          h('td', { text: r.number, title: id }),
          h('td', { title: reason || '' }, [badge(r.status)])
        ].concat(state.paramNames.map(function (k) { return h('td', { 'class': 'hdn-num', text: fmt(r.params ? r.params[k] : null) }); }), [
          h('td', { 'class': 'hdn-num', text: fmt(state.best[id]) }),
          h('td', { 'class': 'hdn-num', text: duration(r) }),
          h('td', {}, [TERMINAL[r.status] ? null : h('button', { 'class': 'hdn-cancel hdn-cancel-run', 'data-run': id, text: 'Cancel', onclick: function () { cancel(id, 'run ' + r.number); } })])
        ]));
        tbody.appendChild(tr);
      });
      tableBox.appendChild(h('table', { 'class': 'hdn-table' }, [thead, tbody]));
    }

    function renderCharts() {
      var w = Math.floor(((charts.clientWidth || el.clientWidth || 900) - 24) / (charts.clientWidth > 760 ? 2 : 1));
      if (curvesBox.lastChild.tagName !== 'FIGCAPTION') curvesBox.removeChild(curvesBox.lastChild);
      if (pcBox.lastChild.tagName !== 'FIGCAPTION') pcBox.removeChild(pcBox.lastChild);
      curvesBox.appendChild(learningCurves(state, w));
      pcBox.appendChild(parallelCoordinates(state, w));
    }

    function render() { renderHeader(); renderTable(); renderCharts(); if (opts.onUpdate) opts.onUpdate(state); }

    function apply(data) {
      state.parent = data.parent;
      state.goal = data.parent.goal || 'maximize';
      data.runs.forEach(function (r) {
        if (!r.parent_id) return;
        if (!state.runs[r.id]) state.order.push(r.id);
        state.runs[r.id] = r;
        Object.keys(r.params || {}).forEach(function (k) { if (state.paramNames.indexOf(k) < 0) state.paramNames.push(k); });
      });
      state.order.sort(function (a, b) { return (state.runs[a].number || 0) - (state.runs[b].number || 0); });
      data.metrics.forEach(function (m) {
        var id = m[1], v = m[4];
        (state.curves[id] = state.curves[id] || []).push([state.curves[id].length + 1, v]);
        if (v !== null && (state.best[id] === undefined || better(v, state.best[id], state.goal))) state.best[id] = v;
      });
      state.bestRun = data.parent.best_run || null;
      state.cursor = data.cursor;
    }

    var finished = 0;
    var loop = poller(el, function () {
      var first = state.primary === null ? api.getJSON(base).then(function (t) {
        state.primary = t.run.primary_metric_name || null;
        if (t.run.parent_id) throw new Error('that is a child run; open its experiment run ' + t.run.parent_id);
      }) : Promise.resolve();
      return first.then(function () {
        var url = base + '/changes?since=' + encodeURIComponent(state.cursor) + (state.primary ? '&name=' + encodeURIComponent(state.primary) : '');
        return api.getJSON(url);
      }).then(function (data) {
        var changed = data.cursor !== state.cursor || !state.parent || JSON.stringify(data.parent) !== JSON.stringify(state.parent);
        apply(data);
        if (changed || (state.parent && !TERMINAL[state.parent.status])) render();
        finished = TERMINAL[data.parent.status] ? finished + 1 : 0;
        state.more = !!data.more;
      }, function (err) { message.textContent = String(err); });
    }, function () { return state.more ? 0 : finished > 2 ? 5000 : (opts.interval || 1000); });
    return { dispose: loop.stop, refresh: loop.now, state: state };
  }

  return { createList: createList, createDetail: createDetail, format: fmt };
});
