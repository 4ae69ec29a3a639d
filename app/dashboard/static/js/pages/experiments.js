// Experiments: every A/B test or interleaving with its progress and decision, a form to start one, and one
// watched live (its variants' figures, the difference, the decision; Stop behind the confirmation dialog).
// Routes: GET/PUT /v1/experiments/{id}, GET /v1/experiments, POST /v1/experiments/{id}/stop (write).

import { api, canWrite, path } from "../api.js";
import { badge, cards, confirmAction, errorBox, fmt, h, section, table } from "../ui.js";
import { interval, percent } from "./online.js";

const ROUTES = ["recommendations", "session", "similar", "bought_together", "trending"];  // the API's routes
const LIVE = ["scheduled", "running"];
const STATUS = { scheduled: "", running: "ok", stopped: "warn", ended: "" };
const REFRESH_MS = 3000;
const points = (x) => `${x > 0 ? "+" : ""}${(100 * x).toFixed(2)} points`;

// The service's decision ("none yet", a variant's name, "no difference") in words.
export function decisionWords(e) {
  if (!e.decision || e.decision === "none yet" || e.reached < e.planned) {
    return `none yet — ${fmt.number(e.reached)} of ${fmt.number(e.planned)} lists`;
  }
  return e.decision === "no difference" ? "no difference" : `${e.decision} wins`;
}

const reach = (e) => h("span", { class: "progress" },
  h("progress", { max: String(Math.max(e.planned || 0, 1)), value: String(Math.min(e.reached || 0, e.planned || 0)),
    "aria-label": `${e.experiment_id}: ${e.reached} of ${e.planned} lists` }),
  ` ${fmt.number(e.reached)}/${fmt.number(e.planned)}`);

const params = (p) => Object.entries(p || {}).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ") || "as served";

export async function render(root, query, go) {
  if (!canWrite()) {
    root.append(errorBox({ status: 403 }));
    return null;
  }
  let experiments;
  try {
    ({ experiments } = await api.get("/experiments"));
  } catch (error) {
    if (error.status !== 404) throw error;
    root.append(h("p", { class: "notice", role: "note" }, "This service has no experiments yet (GET /v1/experiments answered 404)."));
    return null;
  }
  const id = query.get("id");
  if (id) return watch(root, id, query.get("started"));
  root.append(section("Experiments", table("Every experiment; lists: shown of the planned sample", [
    ["Experiment", (e) => h("a", { href: `#/experiments?id=${encodeURIComponent(e.experiment_id)}` }, e.experiment_id)],
    ["Method", (e) => e.method],
    ["Metric", (e) => e.metric],
    ["Status", (e) => badge(e.status, STATUS[e.status])],
    ["Lists", reach],
    ["Decision", (e) => decisionWords(e)],
  ], experiments, "No experiments yet: start one below.")));
  const { models } = await api.get("/models");
  root.append(section("Start an experiment", startForm(models, go)));
  return null;
}

// The form: id, method, metric, the variants (two, more for A/B), routes, minimum lift, base rate.
function startForm(models, go) {
  const versions = models.map((m) => m.version);
  const list = h("div", {});
  const variant = (n) => {
    const id = (field) => `variant-${n}-${field}`;
    const field = (name, label, input) => h("span", { class: "field" }, h("label", { for: id(name) }, label), input);
    return h("fieldset", { class: "variant", "data-variant": String(n) },
      h("legend", {}, `Variant ${n + 1}`),
      field("name", "Name", h("input", { id: id("name"), value: n < 2 ? ["a", "b"][n] : `v${n + 1}`, required: true, autocomplete: "off" })),
      field("model", "Model version", h("select", { id: id("model") }, h("option", { value: "" }, "the serving one"),
        versions.map((v) => h("option", { value: v }, v)))),
      field("diversity", "Diversity (0-1, empty: default)", h("input", { id: id("diversity"), type: "number", min: "0", max: "1", step: "0.05" })),
      h("span", { class: "field" }, h("input", { id: id("rules"), type: "checkbox", checked: true }), h("label", { for: id("rules") }, " Rules on")),
      field("weight", "Weight", h("input", { id: id("weight"), type: "number", min: "0", step: "any", value: "1" })));
  };
  list.append(variant(0), variant(1));
  const method = h("select", { id: "experiment-method" }, h("option", { value: "ab" }, "ab"), h("option", { value: "interleaving" }, "interleaving"));
  const add = h("button", { type: "button", id: "add-variant", onclick: () => list.append(variant(list.children.length)) }, "Add variant");
  method.addEventListener("change", () => { // interleaving merges two lists: no third variant, no weights
    const two = method.value === "interleaving";
    add.hidden = two;
    while (two && list.children.length > 2) list.lastChild.remove();
    for (const w of list.querySelectorAll("[id$='-weight']")) w.disabled = two;
  });
  const labelled = (id, label, input) => h("span", { class: "field" }, h("label", { for: id }, label), input);
  const message = h("p", { role: "status", class: "status" });
  const el = h("form", { id: "experiment" },
    h("div", { class: "variant" },
      labelled("experiment-id", "Experiment id", h("input", { id: "experiment-id", required: true, autocomplete: "off" })),
      labelled("experiment-method", "Method", method),
      labelled("experiment-metric", "Metric", h("select", { id: "experiment-metric" }, ["ctr", "conversion"].map((m) => h("option", { value: m }, m)))),
      labelled("experiment-min-lift", "Minimum lift (relative, e.g. 0.1)", h("input", { id: "experiment-min-lift", type: "number", min: "0", step: "any" })),
      labelled("experiment-base-rate", "Base rate (empty: measured)", h("input", { id: "experiment-base-rate", type: "number", min: "0", max: "1", step: "any" }))),
    list, add,
    h("fieldset", {}, h("legend", {}, "Routes (none ticked: every list route)"),
      h("div", { class: "checks" }, ROUTES.map((r) => h("span", {},
        h("input", { type: "checkbox", id: `route-${r}`, name: "route", value: r }), h("label", { for: `route-${r}` }, ` ${r}`))))),
    h("p", {}, h("button", { type: "submit" }, "Start experiment")), message);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => el.querySelector(`#${id}`).value.trim();
    const id = value("experiment-id");
    const body = { method: method.value, metric: value("experiment-metric"), variants: [...list.children].map((_, n) => {
      const v = { name: value(`variant-${n}-name`), params: { rules: el.querySelector(`#variant-${n}-rules`).checked } };
      if (value(`variant-${n}-model`)) v.model_version = value(`variant-${n}-model`);
      if (value(`variant-${n}-diversity`)) v.params.diversity = Number(value(`variant-${n}-diversity`));
      if (method.value === "ab" && value(`variant-${n}-weight`)) v.weight = Number(value(`variant-${n}-weight`));
      return v;
    }) };
    const routes = [...el.querySelectorAll("input[name='route']:checked")].map((c) => c.value);
    if (routes.length) body.routes = routes;
    if (value("experiment-min-lift")) body.min_lift = Number(value("experiment-min-lift"));
    if (value("experiment-base-rate")) body.base_rate = Number(value("experiment-base-rate"));
    try {
      await api.put(path("/experiments/{}", id), body);
      go("experiments", { id, started: "1" });
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  });
  return el;
}

// One experiment, refreshed every few seconds while it is scheduled or running; returns the stop function.
async function watch(root, id, started) {
  let e = await api.get(path("/experiments/{}", id));
  const status = h("p", { role: "status", class: "status" });
  const figures = h("div", {});
  const stopButton = h("button", { type: "button", id: "stop-experiment", onclick: () => stop() }, "Stop");
  root.append(h("p", {}, h("a", { href: "#/experiments" }, "All experiments")),
    section(`Experiment ${id}`, status, figures, h("div", { class: "actions" }, stopButton)));
  const show = () => {
    stopButton.hidden = !LIVE.includes(e.status);
    const d = e.difference;
    figures.replaceChildren(
      cards([["Status", e.status], ["Method", e.method], ["Metric", e.metric],
        ["Routes", (e.routes || []).join(", ") || "every list route"], ["Lists", reach(e)], ["Decision", decisionWords(e)]]),
      table(`Variants: ${e.metric} with its 95% interval`, [
        ["Variant", (v) => h("code", {}, v.name)],
        ["Model version", (v) => v.model_version || "the serving one"],
        ["Parameters", (v) => params(v.params)],
        ["Weight", (v) => (e.method === "ab" ? fmt.number(v.weight) : "–")],
        ["Lists", (v) => fmt.number(v.lists)],
        ["Successes", (v) => fmt.number(v.successes)],
        [e.metric === "ctr" ? "CTR" : "Conversion", (v) => percent(v.rate)],
        ["95% interval", (v) => (v.ci95 ? interval(v.ci95) : "–")],
      ], e.variants),
      h("p", { class: "difference" }, d
        ? `Difference: ${points(d.value)} (95% interval ${points(d.ci95[0])} to ${points(d.ci95[1])}), p-value ${fmt.figure(d.p_value, 4)}.`
        : "Difference: not measured yet."));
  };
  show();
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      e = await api.get(path("/experiments/{}", id));
      show();
    } catch { /* the next tick tries again */ }
    if (!stopped && LIVE.includes(e.status)) timer = setTimeout(tick, REFRESH_MS);
  };
  if (LIVE.includes(e.status)) timer = setTimeout(tick, REFRESH_MS);
  async function stop() {
    if (!(await confirmAction(`Stop experiment ${id}? Every list is served as without it from the next request on.`))) return;
    try {
      e = await api.post(path("/experiments/{}/stop", id));
      show();
      status.textContent = `Experiment ${id} stopped.`;
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  }
  if (started) status.textContent = `Experiment ${id} started.`;
  return () => { stopped = true; clearTimeout(timer); };
}
