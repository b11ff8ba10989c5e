/* hdnotebook experiment list: every experiment the server extension finds, with its status,
 * progress and best primary value as the server summarises them, polled every second. Shared by the
 * JupyterLab sidebar (bundled) and the plain /hdnotebook page (a script). One experiment run is drawn
 * elsewhere: by the RunDetails widget's own front end (js/src/run_details.js, mountRunView), from the
 * server's view model, so the list never recomputes what a run view shows.
 *
 *   HDViews.createList(el, {api, onOpen})          polls GET {base}/experiments every second
 *   HDViews.format(value)                          the one number format (hdnotebook/_format.py)
 *
 * `api` is {base, getJSON(url)}: the host supplies authentication.
 */
(function (root, factory) {
  var mod = factory();
  if (typeof module === 'object' && module.exports) { module.exports = mod; }
  else { root.HDViews = mod; }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';
  var TERMINAL = { Completed: 1, Failed: 1, Canceled: 1 };

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
  /* The one number format of every view: hdnotebook/_format.py format_number, js/src/state.js fmt. */
  function fmt(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
    return String(v);
  }
  function badge(status) { return h('span', { 'class': 'hdn-status hdn-status-' + String(status).toLowerCase(), text: status }); }
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
            h('span', { 'class': 'hdn-best', title: 'best ' + (r.primary_metric_name || '') + ' (' + (r.goal || '') + ')', text: (r.primary_metric_name || 'best') + ' ' + (r.best === null || r.best === undefined ? '–' : fmt(r.best)) })
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

  return { createList: createList, format: fmt };
});
