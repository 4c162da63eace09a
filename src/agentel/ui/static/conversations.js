// Conversations: runs grouped by conversation_id, with totals and a link to their runs.
import { api, h, message, money, shortTime, tokens } from "./lib.js";

export async function conversationsPage(view, { params, navigate }) {
  const since = params.get("since") || "";
  const input = h("input", { type: "text", name: "since", value: since, placeholder: "since (7d, 2026-11-21)", "aria-label": "since" });
  const form = h("form", { class: "filters" }, h("label", {}, h("span", {}, "since"), input), h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(input.value.trim() ? `/conversations?${new URLSearchParams({ since: input.value.trim() })}` : "/conversations");
  });
  view.append(h("h1", {}, "Conversations"), form);
  const found = await api("conversations", since ? { since } : {});
  if (!found.conversations.length) {
    view.append(message("No runs with a conversation id (gen_ai.conversation.id) in this range."));
    return;
  }
  view.append(
    h("p", { class: "muted" }, `${found.total} conversation(s)`),
    h(
      "table",
      { class: "grid", id: "conversations-table" },
      h("thead", {}, h("tr", {}, ["conversation", "agents", "runs", "first run", "last run", "tokens in/out", "cost", "failed"].map((c, i) => h("th", { class: i >= 2 && i !== 3 && i !== 4 ? "num" : "" }, c)))),
      h(
        "tbody",
        {},
        found.conversations.map((c) =>
          h(
            "tr",
            {},
            h("td", { class: "mono" }, h("a", { href: `/runs?${new URLSearchParams({ conversation: c.conversation_id })}` }, c.conversation_id)),
            h("td", {}, c.agents.join(", ")),
            h("td", { class: "num" }, String(c.runs)),
            h("td", { class: "mono" }, shortTime(c.first_start)),
            h("td", { class: "mono" }, shortTime(c.last_start)),
            h("td", { class: "num" }, `${tokens(c.input_tokens)}/${tokens(c.output_tokens)}`),
            h("td", { class: "num" }, money(c.cost_usd, c.unpriced_calls)),
            h("td", { class: "num" }, String(c.errors)),
          ),
        ),
      ),
    ),
  );
}
