// One shopper: their events and segment, and what they get and why, in a context to try.

import { api, canWrite, path } from "../api.js";
import { cards, errorBox, fmt, form, h, section, table } from "../ui.js";

const CONTEXT = ["at", "device", "location"];

export async function render(root, params, go) {
  const id = params.get("id") || "";
  root.append(section("Find a shopper", form("user", [
    { name: "id", label: "User id", value: id, required: true },
    { name: "at", label: "Time (ISO 8601)", value: params.get("at") || "", placeholder: "2026-12-24T18:00:00+01:00" },
    { name: "device", label: "Device", value: params.get("device") || "", placeholder: "mobile" },
    { name: "location", label: "Location", value: params.get("location") || "", placeholder: "DE-BE" },
  ], "Show", (v) => go("user", Object.fromEntries(Object.entries(v).filter(([, x]) => x))))));
  if (!id) {
    root.append(h("p", { class: "empty" }, "Enter a user id; an unknown one is a new visitor, served by text or popularity."));
    return null;
  }
  const context = new URLSearchParams({ k: "10", explain: "true" });
  for (const name of CONTEXT) if (params.get(name)) context.set(name, params.get(name));
  const [profile, recommendations] = await Promise.all([
    canWrite() ? Promise.all([api.get(path("/users/{}", id)), api.get(path("/users/{}/interactions?limit=20", id))])
      .catch((error) => error) : null,
    api.get(`${path("/users/{}/recommendations", id)}?${context}`).catch((error) => error),
  ]);
  if (profile instanceof Error) {
    root.append(profile.status === 404 ? h("p", { class: "notice", role: "note" }, `No user ${id} in the store: a new visitor.`)
      : errorBox(profile));
  } else if (profile) {
    const [user, { interactions }] = profile;
    root.append(section(`User ${user.user_id}`, cards([
      ["Segment", user.segment ? h("a", { href: `#/segments?id=${user.segment.segment_id}` }, `${user.segment.segment_id}: ${user.segment.label}`) : "–"],
      ["Profile text", user.profile_text || "–"],
      ["Embedded", user.embedded ? "yes" : "no"],
      ["Since", fmt.when(user.created_at)],
    ])), section("Latest events", table(`The latest ${interactions.length} events of user ${id}, newest first`, [
      ["When", (e) => fmt.when(e.timestamp)],
      ["Type", (e) => e.type],
      ["Item", (e) => h("a", { href: `#/items?id=${encodeURIComponent(e.item_id)}` }, e.item_id)],
      ["Value", (e) => e.value ?? ""],
      ["Review", (e) => e.text || ""],
      ["Context", (e) => (e.context ? Object.entries(e.context).map(([k, v]) => `${k} ${v}`).join(", ") : "")],
    ], interactions, "No events.")));
  }
  if (recommendations instanceof Error) {
    root.append(errorBox(recommendations));
  } else {
    const tried = CONTEXT.filter((n) => params.get(n)).map((n) => `${n} ${params.get(n)}`).join(", ");
    root.append(section("Recommendations", h("p", { class: "meta" },
      `Strategy ${recommendations.strategy}, model ${recommendations.model_version || "none"}${tried ? `, context: ${tried}` : ""}.`),
    table(`Top ${recommendations.items.length} for user ${id}`, [
      ["Item", (i) => h("a", { href: `#/items?id=${encodeURIComponent(i.item_id)}` }, i.item_id)],
      ["Title", (i) => i.title || "–"],
      ["Score", (i) => fmt.figure(i.score, 3)],
      ["Why", (i) => i.because || ""],
    ], recommendations.items, "Nothing to recommend.")));
  }
  return null;
}
