// The served version's segments: what sets each group of shoppers apart, and who is in one.

import { api, canWrite, path } from "../api.js";
import { bars } from "../charts.js";
import { errorBox, h, section, table } from "../ui.js";

export async function render(root, params) {
  if (!canWrite()) {
    root.append(errorBox({ status: 403 }));
    return null;
  }
  const { model_version: version, segments } = await api.get("/segments");
  if (!segments.length) {
    root.append(h("p", { class: "empty" }, version ? `Model ${version} has no segments (too few users, or SEMREC_SEGMENTS=0).`
      : "No model yet: segments come with a training job."));
    return null;
  }
  root.append(section(`Segments of model ${version}`, bars("Users per segment", segments.map((s) => `${s.segment_id}: ${s.label}`),
    { users: segments.map((s) => s.size) }, "users"),
  table("Segments, largest first", [
    ["Segment", (s) => h("a", { href: `#/segments?id=${s.segment_id}` }, String(s.segment_id))],
    ["Users", (s) => s.size],
    ["Label", (s) => s.label],
    ["Top categories", (s) => s.top_categories.join(", ")],
    ["Distinctive words", (s) => s.terms.join(", ")],
    ["Distinctive items", (s) => h("span", {}, s.top_items.slice(0, 5).flatMap((id, n) => [n ? ", " : "",
      h("a", { href: `#/items?id=${encodeURIComponent(id)}` }, id)]))],
  ], segments)));
  const chosen = params.get("id");
  if (chosen !== null) {
    const { users } = await api.get(path("/segments/{}/users?limit=50", chosen));
    root.append(section(`Users of segment ${chosen}`, h("ul", { class: "chips" },
      users.map((u) => h("li", {}, h("a", { href: `#/user?id=${encodeURIComponent(u)}` }, u))))));
  }
  return null;
}
