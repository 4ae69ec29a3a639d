// Merchandising rules: every rule, one to create or edit, and deleting one behind the confirmation dialog.
// A rule counts in the next answer of every API process (PUT /v1/rules/{id}).

import { api, canWrite, path } from "../api.js";
import { badge, confirmAction, errorBox, fmt, form, h, section, table } from "../ui.js";

const ACTIONS = ["boost", "bury", "pin", "promote"];
const ROUTES = ["any", "recommendations", "similar", "session", "bought_together", "trending"];
const SETTING = { boost: "factor", bury: "factor", pin: "position", promote: "share" };

const words = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ") || "every request";
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

// "brand=Stride, waterproof=true, weight_g=280" -> {brand: "Stride", waterproof: true, weight_g: 280}
function attributes(text) {
  const out = {};
  for (const pair of list(text)) {
    const [key, ...rest] = pair.split("=");
    const raw = rest.join("=").trim();
    out[key.trim()] = raw === "true" ? true : raw === "false" ? false : raw !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

// The form's strings as the rule's body; empty fields are left out, so the service names what is missing.
function body(v) {
  const when = {};
  if (v.route && v.route !== "any") when.route = v.route;
  if (v.when_category) when.category = v.when_category;
  if (v.user_segment) when.user_segment = Number(v.user_segment);
  const items = {};
  if (v.item_category) items.category = v.item_category;
  if (v.attributes) items.attributes = attributes(v.attributes);
  if (v.item_ids) items.item_ids = list(v.item_ids);
  const rule = { action: v.action, when, items, active: v.active === "yes" };
  if (v.setting) rule[SETTING[v.action]] = Number(v.setting);
  if (v.starts_at) rule.starts_at = v.starts_at;
  if (v.ends_at) rule.ends_at = v.ends_at;
  return rule;
}

export async function render(root, params, go) {
  if (!canWrite()) {
    root.append(errorBox({ status: 403 }));
    return null;
  }
  const { rules } = await api.get("/rules");
  const status = h("p", { role: "status", class: "status" }, params.get("saved") ? `Rule ${params.get("saved")} saved.`
    : params.get("deleted") ? `Rule ${params.get("deleted")} deleted.` : "");
  const remove = async (rule) => {
    if (!(await confirmAction(`Delete rule ${rule.rule_id}? It acts on no later answer.`))) return;
    try {
      await api.delete(path("/rules/{}", rule.rule_id));
      go("rules", { deleted: rule.rule_id });
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  root.append(section("Rules", status, table("Merchandising rules, by id", [
    ["Rule", (r) => h("a", { href: `#/rules?id=${encodeURIComponent(r.rule_id)}` }, r.rule_id)],
    ["Action", (r) => r.action],
    ["When", (r) => words(r.when)],
    ["Items", (r) => words(r.items)],
    ["Setting", (r) => `${SETTING[r.action]} ${r[SETTING[r.action]]}`],
    ["From", (r) => fmt.when(r.starts_at)],
    ["Until", (r) => fmt.when(r.ends_at)],
    ["Active", (r) => (r.active ? badge("active", "ok") : "off")],
    ["Delete", (r) => h("button", { type: "button", class: "delete", "aria-label": `Delete ${r.rule_id}`, onclick: () => remove(r) }, "Delete")],
  ], rules, "No rules yet: make one below.")));

  const chosen = rules.find((r) => r.rule_id === params.get("id"));
  const v = chosen || { action: "boost", when: {}, items: {}, active: true };
  const message = h("p", { role: "status", class: "status" });
  const editor = form("rule", [
    { name: "rule_id", label: "Rule id", value: chosen ? chosen.rule_id : "", required: true },
    { name: "action", label: "Action", options: ACTIONS, value: v.action },
    { name: "setting", label: "Factor, position or share", type: "number", value: chosen ? String(v[SETTING[v.action]]) : "" },
    { name: "route", label: "When: route", options: ROUTES, value: v.when.route || "any" },
    { name: "when_category", label: "When: category filter", value: v.when.category || "" },
    { name: "user_segment", label: "When: user segment", type: "number", value: v.when.user_segment ?? "" },
    { name: "item_category", label: "Items: category", value: v.items.category || "" },
    { name: "attributes", label: "Items: attributes (key=value, …)", value: Object.entries(v.items.attributes || {}).map(([k, x]) => `${k}=${x}`).join(", ") },
    { name: "item_ids", label: "Items: ids (comma-separated)", value: (v.items.item_ids || []).join(", ") },
    { name: "starts_at", label: "Starts at (ISO 8601)", value: v.starts_at || "", placeholder: "2026-12-01T00:00:00Z" },
    { name: "ends_at", label: "Ends at (ISO 8601)", value: v.ends_at || "" },
    { name: "active", label: "Active", options: ["yes", "no"], value: v.active ? "yes" : "no" },
  ], chosen ? "Save rule" : "Create rule", async (values) => {
    try {
      await api.put(path("/rules/{}", values.rule_id), body(values));
      go("rules", { saved: values.rule_id });
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  });
  root.append(section(chosen ? `Edit rule ${chosen.rule_id}` : "New rule", editor, message));
  return null;
}
