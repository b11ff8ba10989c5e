/* The plain /hdnotebook page: the experiment list on the left, one experiment on the right.
 * Authentication is the server's login cookie; POSTs carry the _xsrf token the page was given. */
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('hdn-config').getAttribute('data-config'));
  var base = (cfg.baseUrl || '/').replace(/\/$/, '') + '/hdnotebook/api';
  function check(res) {
    if (!res.ok) return res.text().then(function (t) { var m; try { m = JSON.parse(t).message; } catch (e) { m = t; } throw new Error(res.status + ' ' + (m || res.statusText)); });
    return res.json();
  }
  var api = {
    base: base,
    getJSON: function (url) { return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(check); },
    postJSON: function (url, body) {
      return fetch(url, { method: 'POST', credentials: 'same-origin', body: JSON.stringify(body || {}),
        headers: { 'Content-Type': 'application/json', 'X-XSRFToken': cfg.xsrf } }).then(check);
    }
  };
  var list = document.getElementById('hdn-list'), detail = document.getElementById('hdn-detail');
  var current = null;
  function open(workspace, run) {
    if (current) current.dispose();
    detail.textContent = '';
    var el = document.createElement('div'); detail.appendChild(el);
    current = HDViews.createDetail(el, { api: api, workspace: workspace, run: run });
    history.replaceState(null, '', '#' + workspace + '/' + run);
  }
  list.textContent = '';
  HDViews.createList(list, { api: api, onOpen: open });
  var m = /^#([0-9a-f]{16})\/([A-Za-z0-9_.:-]+)$/.exec(location.hash);
  if (m) open(m[1], m[2]);
})();
