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
