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

// Curves over time, drawn by hand as SVG (no canvas: the markers are elements a test and a screen reader can
// find). series: [{name, points: [{at: Date, value}]}], one line each; marks: [{at: Date, label}], a vertical
// line with its label; domain: [Date, Date]; format(value) labels the y axis.
const SVG = "http://www.w3.org/2000/svg";
const W = 760, HT = 260, PAD = { left: 56, right: 16, top: 28, bottom: 34 };

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

const stamp = (d, hours) => (hours ? d.toISOString().slice(5, 16).replace("T", " ") : d.toISOString().slice(5, 10));

export function timeLines(caption, series, marks, domain, format = String) {
  const times = [...series.flatMap((s) => s.points.map((p) => +p.at)), ...marks.map((m) => +m.at)];
  const x0 = Math.min(+domain[0], ...times), x1 = Math.max(+domain[1], ...times, x0 + 1);
  const high = Math.max(...series.flatMap((s) => s.points.map((p) => p.value)), 0) * 1.1 || 1;
  const step = 10 ** Math.floor(Math.log10(high));
  const top = [1, 2, 2.5, 5, 10].map((m) => m * step).find((t) => t >= high); // a round top for round ticks
  const x = (t) => PAD.left + ((+t - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const y = (v) => HT - PAD.bottom - (v / top) * (HT - PAD.top - PAD.bottom);
  const summary = series.map((s) => `${s.name}: ${s.points.map((p) => format(p.value)).join(", ") || "no point"}`)
    .concat(marks.map((m) => `${m.label} at ${m.at.toISOString()}`)).join("; ");
  const root = svg("svg", { viewBox: `0 0 ${W} ${HT}`, class: "curves", role: "img", "aria-label": `${caption}: ${summary}` });
  root.append(svg("title", {}, caption));
  for (let n = 0; n <= 4; n += 1) { // the y grid and its labels
    const v = (top * n) / 4;
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, format(v)));
  }
  const hours = x1 - x0 <= 3 * 86400e3;
  for (let n = 0; n <= 4; n += 1) { // the time axis
    const t = new Date(x0 + ((x1 - x0) * n) / 4);
    root.append(svg("text", { x: x(t), y: HT - PAD.bottom + 16, "text-anchor": n === 0 ? "start" : n === 4 ? "end" : "middle", class: "tick" }, stamp(t, hours)));
  }
  root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "axis" }));
  for (const m of marks) {
    const g = svg("g", { class: "activation", "data-label": m.label });
    g.append(svg("line", { x1: x(m.at), x2: x(m.at), y1: PAD.top - 4, y2: y(0) }),
      svg("text", { x: x(m.at) > W * 0.65 ? x(m.at) - 3 : x(m.at) + 3, y: PAD.top - 8, class: "tick",
        "text-anchor": x(m.at) > W * 0.65 ? "end" : "start" }, m.label));
    root.append(g);
  }
  series.forEach((s, n) => {
    const colour = COLOURS[n % COLOURS.length];
    const g = svg("g", { class: "curve", "data-name": s.name, stroke: colour, fill: colour });
    const points = [...s.points].sort((a, b) => a.at - b.at);
    if (points.length) {
      g.append(svg("path", { d: points.map((p, i) => `${i ? "L" : "M"}${x(p.at).toFixed(1)} ${y(p.value).toFixed(1)}`).join(" "), fill: "none" }));
    }
    for (const p of points) g.append(svg("circle", { cx: x(p.at), cy: y(p.value), r: 3 }));
    root.append(g);
  });
  const swatch = (n) => {
    const box = svg("svg", { width: 12, height: 12, "aria-hidden": "true" });
    box.append(svg("rect", { width: 12, height: 12, rx: 2, fill: COLOURS[n % COLOURS.length] }));
    return box;
  };
  const legend = h("ul", { class: "legend" }, series.map((s, n) => h("li", {}, swatch(n), ` ${s.name}`)));
  return h("figure", { class: "chart" }, root, legend, h("figcaption", {}, caption));
}
