/* The plain /hdnotebook page: the experiment list on the left (hdviews.js), one experiment run on the
 * right, drawn by the RunDetails widget's own front end (the bundle the package ships) from the
 * server's view model. Authentication is the server's login cookie; POSTs carry the _xsrf token. */
// loaded apart from the list: without the bundle (a checkout where js/ was not built) the list still works
var runView = import('../bundle/run_details.js');

var cfg = JSON.parse(document.getElementById('hdn-config').getAttribute('data-config'));
var base = (cfg.baseUrl || '/').replace(/\/$/, '') + '/hdnotebook/api';
function check(res) {
  if (!res.ok) return res.text().then(function (t) { var m; try { m = JSON.parse(t).message; } catch (e) { m = t; } throw new Error(res.status + ' ' + (m || res.statusText)); });
  return res.json();
}
var api = {
  base: base,
  getJSON: function (url) { return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(check); }
};
var list = document.getElementById('hdn-list'), detail = document.getElementById('hdn-detail');
var current = null;
function open(workspace, run) {
  if (current) current.dispose();
  detail.textContent = '';
  var el = document.createElement('div');
  el.className = 'hdn-run-view';
  detail.appendChild(el);
  var mine = { dispose: function () { this.disposed = true; if (this.view) this.view.dispose(); } };
  current = mine;
  runView.then(function (m) { if (!mine.disposed) mine.view = m.mountRunView(el, { workspace: workspace, run: run }); },
    function (err) { el.textContent = 'hdnotebook: cannot load the RunDetails front end (' + err + '); build it with npm run build in js/'; });
  history.replaceState(null, '', '#' + workspace + '/' + run);
}
list.textContent = '';
window.HDViews.createList(list, { api: api, onOpen: open });
var m = /^#([0-9a-f]{16})\/([A-Za-z0-9_.:-]+)$/.exec(location.hash);
if (m) open(m[1], m[2]);
