// What is in the store, which model serves and how good it is, and the jobs at work.

import { api, canWrite } from "../api.js";
import { lines } from "../charts.js";
import { cards, fmt, h, section } from "../ui.js";
import { jobsTable, poll } from "./jobs.js";
import { peerFigures } from "./models.js";

export async function render(root) {
  if (!canWrite()) {
    root.append(h("p", { class: "notice", role: "note" },
      "A read key sees recommendations: try the Items, User and Conversation pages. Store counts, models and jobs need a write key."));
    return null;
  }
  const [stats, { models }, { jobs }] = await Promise.all([api.get("/stats"), api.get("/models"),
    api.get("/jobs?limit=8")]);
  const active = models.find((m) => m.active);
  root.append(section("Store", cards([
    ["Items", `${fmt.number(stats.items)} (${fmt.number(stats.available_items)} available)`],
    ["Users", fmt.number(stats.users)],
    ["Events", fmt.number(stats.events)],
    ["Embedded", `${fmt.number(stats.embedded_items)} items, ${fmt.number(stats.embedded_users)} users`],
    ["Newest event", fmt.when(stats.newest_event)],
  ])));
  root.append(section("Serving model", active ? modelSummary(active)
    : h("p", { class: "empty" }, "No model yet: recommendations are popular items. Train one on the Jobs page.")));
  if (stats.events_per_day.length) {
    root.append(section("Events per day", lines(`Events per day, the ${stats.events_per_day.length} days with events up to the newest`,
      stats.events_per_day.map((d) => d.day), { events: { data: stats.events_per_day.map((d) => d.events) } },
      { y: "events" })));
  }
  const box = h("div", {}, jobsTable(jobs));
  root.append(section("Recent jobs", box));
  return poll(jobs, async () => {
    const fresh = (await api.get("/jobs?limit=8")).jobs;
    box.replaceChildren(jobsTable(fresh));
    return fresh;
  });
}

function modelSummary(model) {
  const m = model.metrics;
  const peers = peerFigures(model);
  return h("div", {},
    cards([
      ["Version", h("a", { href: `#/models?version=${encodeURIComponent(model.version)}` }, model.version)],
      ["Trained", fmt.when(model.created_at)],
      ["Validation recall@20, as served", fmt.figure(peers.semrec)],
      ["Most popular, same events", fmt.figure(peers.popular)],
      ["Item-kNN, same events", fmt.figure(peers.item_knn)],
      ["Rating RMSE", fmt.figure(m.val_rmse)],
      ["Trained on", `${fmt.number(m.events)} events, ${fmt.number(m.users)} users, ${fmt.number(m.items)} items`],
    ]));
}
