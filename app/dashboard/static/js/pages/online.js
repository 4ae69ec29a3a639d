// Online figures: what the answers shown did, per model version, experiment variant or route (GET
// /v1/metrics/online, docs/online.md), as a table with 95% intervals and CTR curves over time on which each
// model activation is marked.

import { api, canWrite } from "../api.js";
import { timeLines } from "../charts.js";
import { errorBox, fmt, form, h, section, table } from "../ui.js";

const PERIODS = { "24h": ["last 24 h", 1], "7d": ["last 7 days", 7], "30d": ["last 30 days", 30] };
const NONE = { version: "no model", variant: "no experiment", route: "none" };

export const percent = (x, digits = 2) => (x === undefined || x === null ? "–" : `${(100 * x).toFixed(digits)}%`);
export const interval = ([lo, hi]) => `${percent(lo)} – ${percent(hi)}`;
const withInterval = (x, ci) => h("span", {}, percent(x), h("span", { class: "meta" }, ` (${interval(ci)})`));

function choices(params) {
  const period = PERIODS[params.get("period")] ? params.get("period") : "7d";
  const by = ["version", "variant", "route"].includes(params.get("by")) ? params.get("by") : "version";
  const bucket = ["hour", "day"].includes(params.get("bucket")) ? params.get("bucket") : period === "30d" ? "day" : "hour";
  return { by, bucket, period };
}

export async function render(root, params, go) {
  if (!canWrite()) {
    root.append(errorBox({ status: 403 }));
    return null;
  }
  const chosen = choices(params);
  const from = new Date(Date.now() - PERIODS[chosen.period][1] * 86400e3).toISOString();
  const query = new URLSearchParams({ by: chosen.by, bucket: chosen.bucket, from }).toString();
  const controls = form("online", [
    { name: "by", label: "Group by", options: ["version", "variant", "route"], value: chosen.by },
    { name: "bucket", label: "Per", options: ["hour", "day"], value: chosen.bucket },
    { name: "period", label: "Period", options: Object.keys(PERIODS), value: chosen.period },
  ], "Show", (values) => go("online", values));
  for (const option of controls.querySelectorAll("#online-period option")) option.textContent = PERIODS[option.value][0];
  root.append(controls);

  const data = await api.get(`/metrics/online?${query}`);
  const name = (key) => key ?? NONE[data.by];
  const period = `${fmt.when(data.from)} to ${fmt.when(data.to)}`;
  const shown = data.groups.filter((g) => g.impressions > 0);
  const marks = data.activations.map((a) => ({ at: new Date(a.at), label: a.version }));
  if (!shown.length) {
    root.append(section("Figures", h("p", { class: "empty" }, `No impressions from ${period} yet: every list the service `
      + "answers is counted here, and each click, cart or purchase that names the list's recommendation_id is credited to it."),
    marks.length ? h("p", { class: "meta" }, `Activations in the period: ${marks.map((m) => `${m.label} (${fmt.when(m.at)})`).join(", ")}.`) : null));
    return null;
  }
  root.append(section(`Figures by ${data.by}`, table(`Per ${data.by}, ${period}; 95% Wilson intervals in brackets`, [
    [data.by[0].toUpperCase() + data.by.slice(1), (g) => h("code", {}, name(g.key))],
    ["Impressions", (g) => fmt.number(g.impressions)],
    ["Clicks", (g) => fmt.number(g.clicks)],
    ["Carts", (g) => fmt.number(g.carts)],
    ["Purchases", (g) => fmt.number(g.purchases)],
    ["CTR", (g) => withInterval(g.ctr, g.ci95.ctr)],
    ["Conversion", (g) => withInterval(g.conversion, g.ci95.conversion)],
  ], shown)));
  const series = shown.map((g) => ({ name: name(g.key),
    points: (g.series || []).filter((p) => p.impressions > 0).map((p) => ({ at: new Date(p.at), value: p.ctr })) }));
  root.append(section("Over time", timeLines(`CTR per ${chosen.bucket} and ${data.by}; dashed: a model version activated`,
    series, marks, [new Date(data.from), new Date(data.to)], (v) => percent(v, 1))));
  return null;
}
