// Items: search by words (the free-text route), an item's text and vector state, its similar items and its
// generated reviews, labelled as written by a language model.

import { api, canWrite, path } from "../api.js";
import { badge, cards, errorBox, fmt, form, h, section, table } from "../ui.js";

const itemLink = (id, label) => h("a", { href: `#/items?id=${encodeURIComponent(id)}` }, label || id);

export async function render(root, params, go) {
  const q = params.get("q") || "";
  root.append(section("Search by words",
    form("search", [{ name: "q", label: "Words", value: q, placeholder: "e.g. space adventure", required: true }], "Search",
      (v) => go("items", { q: v.q }))));
  const id = params.get("id");
  if (q) root.append(await searchResults(q));
  if (id) root.append(...await itemDetail(id));
  if (!q && !id) root.append(h("p", { class: "empty" }, "Search for items, then open one."));
  return null;
}

async function searchResults(q) {
  try {
    const answer = await api.post("/recommendations", { query: q, k: 20, explain: true });
    return section(`Items for “${q}”`, h("p", { class: "meta" }, `Ranked by ${answer.strategy} (model ${answer.model_version || "none"}).`),
      table("Search results", [
        ["Item", (i) => itemLink(i.item_id)],
        ["Title", (i) => i.title || "–"],
        ["Score", (i) => fmt.figure(i.score, 3)],
        ["Why", (i) => i.because || ""],
      ], answer.items, "No item matches."));
  } catch (error) {
    return errorBox(error);
  }
}

async function itemDetail(id) {
  const parts = [];
  if (canWrite()) {
    try {
      const item = await api.get(path("/items/{}", id));
      parts.push(section(`Item ${item.item_id}`, cards([
        ["Title", item.title || "–"],
        ["Category", item.category || "–"],
        ["Price", item.price ?? "–"],
        ["Available", item.available ? badge("available", "ok") : badge("unavailable", "warn")],
        ["Embedded", item.embedded ? badge("has a text vector", "ok") : badge("no text vector yet", "warn")],
      ]), h("h4", {}, "Text the encoder reads"),
      h("p", { class: "text" }, [item.title, item.category, item.description].filter(Boolean).join(" · ") || "No text."),
      Object.keys(item.attributes || {}).length ? h("pre", {}, JSON.stringify(item.attributes, null, 2)) : ""));
      const { reviews } = await api.get(path("/items/{}/generated-reviews", id));
      parts.push(section("Generated reviews",
        h("p", { class: "notice", role: "note" }, "Written by a language model, not by shoppers: kept apart from their reviews."),
        reviews.length ? h("ul", { class: "reviews" }, reviews.map((r) => h("li", {}, badge("generated", "synthetic"), " ", r.text,
          h("span", { class: "meta" }, ` (${r.model}, prompt ${r.prompt_version})`)))) : h("p", { class: "empty" }, "None for this item.")));
    } catch (error) {
      parts.push(errorBox(error));
    }
  } else {
    parts.push(h("p", { class: "notice", role: "note" }, `Item ${id}: its fields and generated reviews need a write key.`));
  }
  try {
    const similar = await api.get(path("/items/{}/similar?k=10", id));
    parts.push(section("Similar items", table(`Items like ${id}`, [
      ["Item", (i) => itemLink(i.item_id)],
      ["Title", (i) => i.title || "–"],
      ["Score", (i) => fmt.figure(i.score, 3)],
    ], similar.items, "No similar items.")));
  } catch (error) {
    parts.push(errorBox(error));
  }
  return parts;
}
