// Charts through Chart.js (vendor/chart.umd.min.js, served by the service). Each chart is a <figure> with a
// caption and a text fallback inside the canvas for screen readers.

import { h } from "./ui.js";

const live = new Set();
const COLOURS = ["#1f6feb", "#8a8f98", "#d97706", "#15803d", "#b91c1c", "#7c3aed"];

export function destroyAll() {
  for (const chart of live) chart.destroy();
  live.clear();
}

function figure(caption, summary, config) {
  const canvas = h("canvas", { role: "img", "aria-label": `${caption}: ${summary}` }, summary);
  const el = h("figure", { class: "chart" }, h("div", { class: "chart-box" }, canvas), h("figcaption", {}, caption));
  // Drawn once it is in the page (Chart.js measures its container): a page that awaits more data after
  // building a chart attaches it later, so the draw waits for that (up to ~10 s of frames), then marks the
  // canvas `data-drawn` (the browser tests check that every chart drew).
  const draw = (frames) => {
    if (!canvas.isConnected) {
      if (frames > 0) requestAnimationFrame(() => draw(frames - 1));
      return;
    }
    if (!window.Chart) return;
    live.add(new window.Chart(canvas, {
      ...config,
      options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options },
    }));
    canvas.dataset.drawn = "true";
  };
  requestAnimationFrame(() => draw(600));
  return el;
}

// Grouped bars: labels along x, one dataset per series {name: [values]}.
export function bars(caption, labels, series, yTitle) {
  const datasets = Object.entries(series).map(([label, data], n) => ({ label, data, backgroundColor: COLOURS[n % COLOURS.length] }));
  const summary = datasets.map((d) => `${d.label} ${d.data.map((v) => (v === null ? "–" : v)).join(", ")}`).join("; ");
  return figure(caption, summary, {
    type: "bar", data: { labels, datasets },
    options: { scales: { y: { beginAtZero: true, title: { display: !!yTitle, text: yTitle } } } },
  });
}

// Lines over x: series {name: {data, axis}}, axis "y" (left) or "y2" (right).
export function lines(caption, labels, series, axes = {}) {
  const datasets = Object.entries(series).map(([label, s], n) => ({
    label, data: s.data, yAxisID: s.axis || "y", borderColor: COLOURS[n % COLOURS.length],
    backgroundColor: COLOURS[n % COLOURS.length], pointRadius: labels.length > 60 ? 0 : 2, spanGaps: true,
  }));
  const scales = { y: { title: { display: !!axes.y, text: axes.y } } };
  if (datasets.some((d) => d.yAxisID === "y2")) {
    scales.y2 = { position: "right", grid: { drawOnChartArea: false }, title: { display: !!axes.y2, text: axes.y2 } };
  }
  const summary = datasets.map((d) => `${d.label} from ${d.data[0]} to ${d.data[d.data.length - 1]}`).join("; ");
  return figure(caption, summary, { type: "line", data: { labels, datasets }, options: { scales } });
}
