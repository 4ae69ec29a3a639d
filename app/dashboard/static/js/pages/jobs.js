// Embedding, training and review jobs: started from here, followed live.

import { api, canWrite } from "../api.js";
import { destroyAll, lines } from "../charts.js";
import { errorBox, fmt, form, h, progress, section, table } from "../ui.js";

const busy = (jobs) => jobs.some((j) => j.status === "queued" || j.status === "running");

// Calls refresh() every 1.5 s while a job is queued or running; returns the stop function.
export function poll(jobs, refresh) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try { jobs = await refresh(); } catch { /* the next tick tries again */ }
    if (!stopped && busy(jobs)) timer = setTimeout(tick, 1500);
  };
  if (busy(jobs)) timer = setTimeout(tick, 1500);
  return () => { stopped = true; clearTimeout(timer); };
}

export function jobsTable(jobs) {
  return table("Jobs, newest first", [
    ["Job", (j) => h("code", {}, j.job_id.slice(0, 8))],
    ["Kind", (j) => j.kind],
    ["Progress", (j) => progress(j)],
    ["Created", (j) => fmt.when(j.created_at)],
    ["Outcome", (j) => j.error || (j.result && j.result.model_version ? `model ${j.result.model_version}`
      : j.result && j.result.encoded !== undefined ? `${j.result.encoded} encoded` : j.result && j.result.phase ? j.result.phase : "")],
  ], jobs, "No jobs yet.");
}

// Loss (left axis) and validation figure (right axis) of each epoch of a training job.
export function epochsChart(job) {
  const epochs = (job.result && job.result.epochs) || [];
  if (!epochs.length) return h("p", { class: "empty" }, "No epoch finished yet.");
  const charts = [];
  for (const phase of [...new Set(epochs.map((e) => e.phase))]) {
    const mine = epochs.filter((e) => e.phase === phase);
    const val = phase === "rating" ? "val_rmse" : "val_recall@20";
    charts.push(lines(`Training loss per epoch, ${phase} phase (job ${job.job_id.slice(0, 8)})`,
      mine.map((e) => e.epoch), { loss: { data: mine.map((e) => e.loss) }, [val]: { data: mine.map((e) => e[val]), axis: "y2" } },
      { y: "loss", y2: val }));
  }
  return h("div", { class: "chart-row" }, charts);
}

export async function render(root) {
  if (!canWrite()) {
    root.append(errorBox({ status: 403 }));
    return null;
  }
  const message = h("p", { role: "status", class: "status" });
  const start = async (path, body) => {
    try {
      const { job_id: id } = await api.post(path, body);
      message.textContent = `Queued job ${id.slice(0, 8)}.`;
      await refresh();
      restart();
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  };
  root.append(section("Start a job",
    h("div", { class: "actions" },
      h("button", { type: "button", id: "start-embedding", onclick: () => start("/embeddings/jobs", {}) }, "Embed stale texts"),
      h("button", { type: "button", id: "start-reviews", onclick: () => start("/reviews/jobs", {}) }, "Generate reviews")),
    form("train", [
      { name: "objective", label: "Objective", options: ["auto", "ranking", "rating"], value: "auto" },
      { name: "epochs", label: "Epochs (empty: the default)", type: "number" },
    ], "Train a model", (v) => start("/training/jobs", { objective: v.objective, ...(v.epochs ? { epochs: Number(v.epochs) } : {}) })),
    message));
  const list = h("div", {});
  const chart = h("div", {});
  root.append(section("Jobs", list), section("Latest training", chart));
  let jobs = [];
  async function refresh() {
    jobs = (await api.get("/jobs?limit=20")).jobs;
    destroyAll();
    list.replaceChildren(jobsTable(jobs));
    const training = jobs.find((j) => j.kind === "training");
    chart.replaceChildren(training ? epochsChart(training) : h("p", { class: "empty" }, "No training job yet."));
    return jobs;
  }
  await refresh();
  let stopPolling = poll(jobs, refresh);
  const restart = () => { stopPolling(); stopPolling = poll(jobs, refresh); };
  return () => stopPolling();
}
