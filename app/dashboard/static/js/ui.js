// Small DOM helpers. Text goes in as text nodes, never as HTML: ids, titles and reviews are the shop's data.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const fmt = {
  number: (n) => (n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US")),
  figure: (x, digits = 4) => (x === undefined || x === null ? "–" : Number(x).toFixed(digits)),
  when: (iso) => (iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "–"),
};

// A table: columns are [heading, row => cell content].
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

export function cards(entries) {
  return h("dl", { class: "cards" }, entries.map(([label, value]) => h("div", { class: "card" },
    h("dt", {}, label), h("dd", {}, value))));
}

export function progress(job) {
  const { done, total } = job.progress;
  const label = `${job.kind} job ${job.status}: ${done} of ${total || "?"}`;
  return h("span", { class: "progress" },
    h("progress", { max: String(Math.max(total, 1)), value: String(done), "aria-label": label }),
    ` ${done}/${total || "?"} · ${job.status}`);
}

export const badge = (text, kind = "") => h("span", { class: `badge ${kind}` }, text);

export function errorBox(error) {
  if (error && error.status === 403) {
    return h("p", { class: "notice", role: "note" }, "This needs a write key: the key you signed in with has role read.");
  }
  return h("p", { class: "error", role: "alert" }, `The service answered: ${error.message || error}`);
}

// A form of labelled fields; submit calls onSubmit(values) with the trimmed strings.
export function form(id, fields, submitLabel, onSubmit) {
  const el = h("form", { id, class: "inline" },
    fields.map(({ name, label, type = "text", value = "", placeholder, required, options }) => h("span", { class: "field" },
      h("label", { for: `${id}-${name}` }, label),
      options
        ? h("select", { id: `${id}-${name}`, name }, options.map((o) => h("option", { value: o, selected: o === value }, o)))
        : h("input", { id: `${id}-${name}`, name, type, value, placeholder, required, autocomplete: "off" }))),
    h("button", { type: "submit" }, submitLabel));
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries([...new FormData(el)].map(([k, v]) => [k, String(v).trim()]));
    onSubmit(values);
  });
  return el;
}

// The page's own confirmation dialog (keyboard and screen-reader friendly, unlike window.confirm).
export function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  });
}

export const section = (title, ...children) => h("section", { "aria-label": title }, h("h3", {}, title), ...children);
