// hdnotebook JupyterLab extension: a left sidebar listing the experiments found by the hdnotebook
// server extension, live (polled every second), and a main-area tab per experiment run drawn by the
// RunDetails widget's own front end (table, curves, parallel coordinates, insight, steering), loaded
// from the server (GET /hdnotebook/bundle/run_details.js, the bundle the package ships) and fed by
// the server's view model instead of a kernel. Plain JS on the JupyterLab 4 APIs; the list is the
// file the plain /hdnotebook page uses too (hdnotebook/server/static/hdviews.js).
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';
import HDViews from '../../../hdnotebook/server/static/hdviews.js';
import '../style/index.css';

const PLUGIN_ID = 'hdnotebook-sidebar:plugin';
const OPEN_COMMAND = 'hdnotebook:open-experiment';

// A small flask icon (inline SVG) for the sidebar tab.
const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<path class="jp-icon3" fill="#616161" d="M9 2h6v2h-1v5.2l5.6 9.4A2 2 0 0 1 17.9 22H6.1a2 2 0 0 1-1.7-3.4L10 9.2V4H9V2zm3 9.1L8.3 17h7.4L12 11.1z"/></svg>';

function makeApi(settings) {
  const base = settings.baseUrl.replace(/\/$/, '') + '/hdnotebook/api';
  async function call(url, init) {
    const res = await ServerConnection.makeRequest(url, init || {}, settings);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      throw new Error(`${res.status} ${(data && data.message) || res.statusText}`);
    }
    return data;
  }
  return {
    base,
    getJSON: url => call(url, { method: 'GET' }),
    postJSON: (url, body) => call(url, { method: 'POST', body: JSON.stringify(body || {}) })
  };
}

// the widget's front end, fetched once (with the server's authentication) and imported as a module
let runViewModule = null;
function loadRunView(settings) {
  if (!runViewModule) {
    runViewModule = (async () => {
      const url = settings.baseUrl.replace(/\/$/, '') + '/hdnotebook/bundle/run_details.js';
      const res = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
      if (!res.ok) throw new Error(`${res.status} ${res.statusText} for ${url}`);
      const src = URL.createObjectURL(new Blob([await res.text()], { type: 'text/javascript' }));
      return import(/* webpackIgnore: true */ src);
    })();
    runViewModule.catch(() => { runViewModule = null; }); // try again on the next tab
  }
  return runViewModule;
}

// one experiment run in a tab: the widget's own view (mountRunView), once the bundle has loaded
function mountRunTab(el, settings, workspace, run) {
  let view = null;
  let disposed = false;
  el.classList.add('hdn-run-view');
  el.textContent = 'Loading the experiment view\u2026';
  loadRunView(settings).then(
    mod => { if (!disposed) { el.textContent = ''; view = mod.mountRunView(el, { workspace, run }); } },
    err => { el.textContent = `hdnotebook: cannot load the experiment view: ${err.message || err}`; }
  );
  return {
    refresh: () => view && view.refresh(),
    dispose: () => { disposed = true; if (view) view.dispose(); }
  };
}

class ViewWidget extends Widget {
  constructor(make, id) {
    super();
    this.id = id;
    this._make = make;
    this._view = null;
  }
  onAfterAttach() {
    if (!this._view) this._view = this._make(this.node);
  }
  onAfterShow() {
    if (this._view) this._view.refresh();
  }
  dispose() {
    if (this._view) this._view.dispose();
    this._view = null;
    super.dispose();
  }
}

function activate(app, restorer) {
  const settings = ServerConnection.makeSettings();
  const api = makeApi(settings);
  const tracker = new WidgetTracker({ namespace: 'hdnotebook-experiment' });
  const isLab = typeof app.shell.activateById === 'function' && app.name !== 'Jupyter Notebook';

  app.commands.addCommand(OPEN_COMMAND, {
    label: args => `hdnotebook: ${args.name || args.run || 'experiment'}`,
    execute: args => {
      const { workspace, run, name } = args;
      const id = `hdnotebook-run-${workspace}-${run}`;
      const existing = tracker.find(w => w.id === id);
      if (existing) {
        app.shell.activateById(id);
        return existing;
      }
      if (!isLab) {
        // Notebook 7 has no free main area next to a notebook: open the plain page instead.
        window.open(`${settings.baseUrl.replace(/\/$/, '')}/hdnotebook#${workspace}/${run}`, '_blank');
        return null;
      }
      const content = new ViewWidget(el => mountRunTab(el, settings, workspace, run), `${id}-content`);
      content.addClass('hdn-lab-detail');
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = name || run;
      widget.title.caption = `hdnotebook experiment ${name || ''} (${run})`;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      tracker.add(widget);
      app.shell.activateById(id);
      return widget;
    }
  });

  const sidebar = new ViewWidget(
    el =>
      HDViews.createList(el, {
        api,
        onOpen: (workspace, run, name) => app.commands.execute(OPEN_COMMAND, { workspace, run, name })
      }),
    'hdnotebook-sidebar'
  );
  sidebar.addClass('hdn-lab-sidebar');
  sidebar.title.caption = 'hdnotebook experiments';
  sidebar.title.iconClass = 'hdn-sidebar-icon';
  sidebar.title.label = isLab ? '' : 'Experiments';
  try {
    app.shell.add(sidebar, 'left', { rank: 600 });
  } catch (err) {
    console.warn('hdnotebook: this front end has no left area; the experiments are at /hdnotebook', err);
  }
  if (restorer) {
    restorer.add(sidebar, 'hdnotebook-sidebar');
    restorer.restore(tracker, {
      command: OPEN_COMMAND,
      args: w => {
        const m = /^hdnotebook-run-([0-9a-f]{16})-(.+)$/.exec(w.id);
        return { workspace: m ? m[1] : '', run: m ? m[2] : '', name: w.title.label };
      },
      name: w => w.id
    });
  }
  // the icon, as a CSS background so no ui-components import is needed
  const style = document.createElement('style');
  style.textContent = `.hdn-sidebar-icon{background-image:url("data:image/svg+xml,${encodeURIComponent(ICON_SVG)}");background-repeat:no-repeat;background-position:center;background-size:16px;min-width:16px;min-height:16px;display:inline-block;}`;
  document.head.appendChild(style);
}

const plugin = {
  id: PLUGIN_ID,
  description: 'hdnotebook experiments sidebar and experiment views',
  autoStart: true,
  requires: [JupyterFrontEnd.IPaths],
  optional: [ILayoutRestorer],
  activate: (app, _paths, restorer) => activate(app, restorer)
};

export default plugin;
