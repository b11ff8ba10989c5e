// Small helpers every panel of the widget shares: HTML escaping, and where the Jupyter server that
// serves the page is (its base URL and token, from the page's #jupyter-config-data) so panels can
// call the hdnotebook server extension's REST API while the kernel is busy.

export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function serverConfig() {
  const node = document.getElementById("jupyter-config-data");
  if (!node) return null;
  try {
    const c = JSON.parse(node.textContent);
    return { base: String(c.baseUrl || "/").replace(/\/?$/, "/"), token: c.token || "" };
  } catch (e) {
    return null;
  }
}

// A request to the hdnotebook server extension about one run: `route` is "" (the run), "view",
// "detail", "steer" or "cancel". Authentication as the page has it: the token of the page config,
// the login cookie, and the _xsrf cookie for POSTs.
export function restFetch(workspace, runId, route, { method = "GET", body, query = "" } = {}) {
  const cfg = serverConfig();
  if (!cfg || !workspace) return Promise.reject(new Error("no Jupyter server page"));
  const url = `${cfg.base}hdnotebook/api/workspaces/${encodeURIComponent(workspace)}/runs/${encodeURIComponent(runId)}` +
    (route ? `/${route}` : "") + query;
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const xsrf = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  if (xsrf && method !== "GET") headers["X-XSRFToken"] = decodeURIComponent(xsrf[1]);
  if (cfg.token) headers.Authorization = `token ${cfg.token}`;
  return fetch(url, { method, headers, credentials: "same-origin", body: body !== undefined ? JSON.stringify(body) : undefined });
}
