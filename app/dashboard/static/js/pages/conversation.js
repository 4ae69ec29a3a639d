// A conversation playground: say what you want, then like or dislike what comes back (the conversation
// routes; a read key suffices).

import { api, path } from "../api.js";
import { errorBox, fmt, h, section } from "../ui.js";

export async function render(root) {
  let conversation = null;
  const log = h("ol", { class: "turns", "aria-label": "Turns" });
  const message = h("input", { id: "message", name: "message", type: "text", autocomplete: "off", placeholder: "e.g. a funny film for tonight, no horror" });
  const userId = h("input", { id: "conversation-user", name: "user", type: "text", autocomplete: "off" });
  const status = h("p", { role: "status", class: "status" });

  async function send(body) {
    status.textContent = "";
    try {
      if (!conversation) {
        conversation = (await api.post("/conversations", userId.value.trim() ? { user_id: userId.value.trim() } : {})).conversation_id;
        userId.disabled = true;
      }
      const answer = await api.post(path("/conversations/{}/messages", conversation), { k: 8, ...body });
      if (body.text) log.append(h("li", { class: "shopper" }, h("strong", {}, "You: "), body.text));
      for (const f of body.feedback || []) log.append(h("li", { class: "shopper" }, h("strong", {}, "You: "), `${f.signal} ${f.item_id}`));
      log.append(reply(answer));
      log.lastChild.scrollIntoView({ block: "nearest" });
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  }

  function reply(answer) {
    const u = answer.understood;
    const limits = [u.category && `category ${[].concat(u.category).join(" or ")}`, u.min_price != null && `from ${u.min_price}`,
      u.max_price != null && `up to ${u.max_price}`, u.exclude.length && `not ${u.exclude.join(", ")}`].filter(Boolean);
    return h("li", { class: "assistant" }, h("p", {}, h("strong", {}, "semrec: "), answer.reply),
      h("p", { class: "meta" }, `Understood: “${u.query}”${limits.length ? `; ${limits.join("; ")}` : ""}.`),
      h("ul", { class: "offers" }, answer.items.map((item) => h("li", { "data-item-id": item.item_id },
        h("span", { class: "offer" }, item.title || item.item_id, h("span", { class: "meta" }, ` ${item.because} · ${fmt.figure(item.score, 3)}`)),
        h("span", { class: "feedback" },
          h("button", { type: "button", class: "like", "aria-label": `Like ${item.title || item.item_id}`,
            onclick: () => send({ feedback: [{ item_id: item.item_id, signal: "like" }] }) }, "Like"),
          h("button", { type: "button", class: "dislike", "aria-label": `Dislike ${item.title || item.item_id}`,
            onclick: () => send({ feedback: [{ item_id: item.item_id, signal: "dislike" }] }) }, "Dislike"))))));
  }

  const composer = h("form", { id: "composer", class: "inline" },
    h("span", { class: "field" }, h("label", { for: "conversation-user" }, "As user (optional)"), userId),
    h("span", { class: "field wide" }, h("label", { for: "message" }, "Message"), message),
    h("button", { type: "submit" }, "Send"));
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = message.value.trim();
    if (!text) return;
    message.value = "";
    send({ text });
  });
  const restart = h("button", { type: "button", onclick: () => { conversation = null; userId.disabled = false; log.replaceChildren(); } },
    "New conversation");
  root.append(section("Talk to the shop", composer, restart, status, log));
  return null;
}
