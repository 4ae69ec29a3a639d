// Model versions: their figures against the simple peers on the same validation events, their training
// curves, and activation (a rollback is activating an older version).

import { api, canWrite, path } from "../api.js";
import { bars } from "../charts.js";
import { badge, confirmAction, errorBox, fmt, h, section, table } from "../ui.js";
import { epochsChart } from "./jobs.js";

export const peerFigures = (model) => (model.metrics.peers && model.metrics.peers["val_recall@20"]) || {};

export async function render(root, params, go) {
  if (!canWrite()) {
    root.append(errorBox({ status: 403 }));
    return null;
  }
  const { models } = await api.get("/models");
  if (!models.length) {
    root.append(h("p", { class: "empty" }, "No model versions yet: train one on the Jobs page."));
    return null;
  }
  const chosen = models.find((m) => m.version === params.get("version")) || models.find((m) => m.active) || models[0];
  const serving = models.find((m) => m.active);
  const older = (m) => serving && m.created_at < serving.created_at;
  const status = h("p", { role: "status", class: "status" },
    params.get("activated") === chosen.version && chosen.active ? `Model ${chosen.version} is serving.` : "");
  const activate = async (model) => {
    const ok = await confirmAction(`Serve model ${model.version}? Every answer comes from it from the next request on`
      + (serving ? `, instead of ${serving.version}.` : "."));
    if (!ok) return;
    try {
      await api.post(path("/models/{}/activate", model.version));
      go("models", { version: model.version, activated: model.version }); // shows the list as it is now
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  root.append(section("Versions", status, table("Model versions, newest first", [
    ["Version", (m) => h("a", { href: `#/models?version=${encodeURIComponent(m.version)}` }, m.version)],
    ["Trained", (m) => fmt.when(m.created_at)],
    ["Serving", (m) => (m.active ? badge("active", "ok") : "")],
    ["Recall@20 served", (m) => fmt.figure(peerFigures(m).semrec)],
    ["Factors alone", (m) => fmt.figure(m.metrics["val_recall@20"])],
    ["Popular", (m) => fmt.figure(peerFigures(m).popular)],
    ["Item-kNN", (m) => fmt.figure(peerFigures(m).item_knn)],
    ["RMSE", (m) => fmt.figure(m.metrics.val_rmse)],
    ["Epochs", (m) => m.metrics.epochs ?? "–"],
    ["Seconds", (m) => fmt.figure(m.metrics.train_seconds, 1)],
    ["Action", (m) => (m.active ? "" : h("button", { type: "button", class: "activate", "data-version": m.version,
      "aria-label": `${older(m) ? "Roll back to" : "Activate"} ${m.version}`, onclick: () => activate(m) },
      older(m) ? "Roll back to this" : "Activate"))],
  ], models)));
  const shown = [...models].reverse().slice(-12);
  root.append(section("Evaluation", bars("Validation recall@20 of each version against most-popular and item-kNN on the same held-out events",
    shown.map((m) => m.version), {
      "semrec, as served": shown.map((m) => peerFigures(m).semrec ?? null),
      "factors alone (best epoch)": shown.map((m) => m.metrics["val_recall@20"] ?? null),
      "most popular": shown.map((m) => peerFigures(m).popular ?? null),
      "item-kNN": shown.map((m) => peerFigures(m).item_knn ?? null),
    }, "recall@20")));
  const detail = h("div", {});
  root.append(section(`Version ${chosen.version}`, detail));
  detail.append(...validationOf(chosen));
  detail.append(h("details", {}, h("summary", {}, "Metrics and parameters"),
    h("pre", {}, JSON.stringify({ metrics: chosen.metrics, params: chosen.params }, null, 2))));
  if (chosen.job_id) {
    try {
      detail.append(epochsChart(await api.get(path("/jobs/{}", chosen.job_id))));
    } catch (error) {
      detail.append(errorBox(error));
    }
  }
  return null;
}

const ROUTES = {
  next_items: "On your latest events (next items)",
  new_items: "On items stripped of their events (new items)",
  new_users: "On shoppers cut to their first three events (new shoppers)",
  context: "Context weights, on your latest events",
};

// What a version chose per route family, on the shop's own held-out events: every candidate's figure (the
// simple peers among them), the one served, and a chart of them.
export function validationOf(model) {
  const routes = Object.entries(model.validation || {});
  if (!routes.length) return [h("p", { class: "empty" }, "This version chose nothing on held-out events (trained with select off, or too few events).")];
  return routes.map(([route, v]) => {
    const names = Object.keys(v.candidates);
    const rows = names.map((name) => ({ name, figure: v.candidates[name] }));
    const line = `${ROUTES[route] || route}: served ${fmt.figure(v.served)} (${v.chosen}), `
      + names.filter((n) => n !== v.chosen).map((n) => `${n} ${fmt.figure(v.candidates[n])}`).join(", ");
    return h("div", { class: "validation", "data-route": route },
      h("p", {}, line),
      table(`${ROUTES[route] || route}: ${v.metric} over ${v.events} held-out ${route === "context" ? "events" : "users"}`, [
        ["Candidate", (r) => r.name],
        [v.metric, (r) => fmt.figure(r.figure)],
        ["Served", (r) => (r.name === v.chosen ? badge("served", "ok") : "")],
      ], rows),
      bars(`${ROUTES[route] || route}: ${v.metric} of each candidate`, names, { [v.metric]: names.map((n) => v.candidates[n]) }, v.metric));
  });
}
