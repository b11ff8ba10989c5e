// Colours from JupyterLab's CSS variables (read on the widget's own element, so a theme, a dark
// VS Code or a page without JupyterLab all work), and a watcher that calls back on theme changes.

// Okabe & Ito's colour-blind-safe palette (no black: it is the text colour in one theme or the other)
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"];

// status colours, also told apart by line style and the status text (never by colour alone)
export const STATUS_COLORS = {
  Queued: "#8c8c8c",
  Running: "#0072B2",
  Completed: "#009E73",
  Failed: "#D55E00",
  Canceled: "#E69F00",
};

// learning-curve line style per status (plotly dash names)
export const STATUS_DASH = { Running: "solid", Completed: "solid", Queued: "dot", Canceled: "dot", Failed: "dash" };


function cssVar(style, name, fallback) {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

// The colours the charts use, from the CSS variables in effect at `el`.
export function readTheme(el) {
  const s = getComputedStyle(el);
  const light = document.body.dataset.jpThemeLight !== "false";
  const theme = {
    light,
    font: cssVar(s, "--jp-ui-font-color1", light ? "#1f1f1f" : "#e6e6e6"),
    font2: cssVar(s, "--jp-ui-font-color2", light ? "#545454" : "#bdbdbd"),
    bg: cssVar(s, "--jp-layout-color0", light ? "#ffffff" : "#111111"),
    bg1: cssVar(s, "--jp-layout-color1", light ? "#ffffff" : "#212121"),
    bg2: cssVar(s, "--jp-layout-color2", light ? "#eeeeee" : "#424242"),
    border: cssVar(s, "--jp-border-color1", light ? "#bdbdbd" : "#616161"),
    grid: cssVar(s, "--jp-border-color2", light ? "#e0e0e0" : "#424242"),
    brand: cssVar(s, "--jp-brand-color1", "#1976d2"),
    fontFamily: cssVar(s, "--jp-ui-font-family", "sans-serif"),
  };
  theme.selected = theme.font; // the selected run: drawn in the text colour, on top
  theme.dimmed = theme.grid;
  return theme;
}

// Call `onChange` when JupyterLab switches theme (it sets data-jp-theme-* on <body>) or the OS
// colour scheme flips. Returns a function that stops watching.
export function watchTheme(onChange) {
  const observer = new MutationObserver(() => onChange());
  observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light"] });
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (media && media.addEventListener) media.addEventListener("change", onChange);
  return () => {
    observer.disconnect();
    if (media && media.removeEventListener) media.removeEventListener("change", onChange);
  };
}
