// Runs: the `agentel runs` table with every filter, sorting, paging, totals, compare picking
// and live refresh while runs are running.
import { api, duration, errorBox, fill, h, message, money, runHref, shortIds, shortTime, statusBadge, tokens } from "./lib.js";

const FILTERS = [
  ["agent", "agent", "text"],
  ["status", "status", "select", ["", "running", "ok", "error", "abandoned"]],
  ["model", "model", "text"],
  ["provider", "provider", "text"],
  ["tool", "tool", "text"],
  ["conversation", "conversation", "text"],
  ["user", "user", "text"],
  ["service", "service", "text"],
  ["since", "since (7d, 2026-11-21)", "text"],
  ["until", "until", "text"],
  ["min_cost", "min cost $", "text"],
  ["min_duration", "min duration (2s)", "text"],
  ["errors", "errors", "select", ["", "true", "false"]],
  ["text", "content contains", "text"],
  ["where", "where (cost_usd > 0.01 and status == 'ok')", "text", null, "wide"],
];
const SORTABLE = { start: "start", duration: "duration", tokens: "tokens", cost: "cost" };
const LIMIT = 50;
const REFRESH_MS = 2000;

export async function runsPage(view, { params, navigate }) {
  const selected = new Set();
  const form = filterForm(params, navigate);
  const totals = h("div", { class: "totals", id: "totals" });
  const compare = h("button", { type: "button", disabled: true, id: "compare-button" }, "Compare 2 selected");
  compare.addEventListener("click", () => {
    const [a, b] = [...selected];
    navigate(`/compare?${new URLSearchParams({ a, b })}`);
  });
  const table = h("div", { class: "table-wrap" });
  const pager = h("div", { class: "pager" });
  view.append(h("h1", {}, "Runs"), form, h("div", { class: "bar" }, totals, compare), table, pager);

  const query = Object.fromEntries(params.entries());
  const order = query.order_by || "start";
  const offset = Number(query.offset || 0);
  let timer = null;
  let stopped = false;

  async function load() {
    let page, sums;
    try {
      [page, sums] = await Promise.all([
        api("runs", { ...query, limit: LIMIT }),
        api("runs/totals", withoutPaging(query)),
      ]);
    } catch (error) {
      table.replaceChildren(errorBox(error));
      return;
    }
    if (stopped) return;
    fill(totals, 
      h("span", {}, h("b", {}, String(sums.runs)), " runs"),
      h("span", {}, "tokens ", h("b", {}, `${tokens(sums.input_tokens)} in / ${tokens(sums.output_tokens)} out`)),
      h("span", {}, "cost ", h("b", {}, money(sums.cost_usd, sums.unpriced_calls))),
      sums.errors ? h("span", { class: "bad" }, `${sums.errors} failed`) : null,
      sums.running ? h("span", { class: "live" }, `${sums.running} running · live`) : null,
    );
    table.replaceChildren(page.runs.length ? runsTable(page.runs, order, query, selected, compare) : message("No runs match these filters."));
    fill(pager, 
      offset > 0 ? h("a", { href: pageHref(query, Math.max(0, offset - LIMIT)) }, "← newer") : h("span"),
      h("span", { class: "muted" }, page.runs.length ? `${offset + 1}–${offset + page.runs.length}` : ""),
      page.more ? h("a", { href: pageHref(query, offset + LIMIT) }, "older →") : h("span"),
    );
    if (sums.running || page.runs.some((r) => r.status === "running")) {
      timer = setTimeout(load, REFRESH_MS);
    }
  }
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function withoutPaging(query) {
  const rest = { ...query };
  delete rest.limit;
  delete rest.offset;
  delete rest.order_by;
  return rest;
}

function pageHref(query, offset) {
  const next = { ...query, offset };
  if (!offset) delete next.offset;
  return `/runs?${new URLSearchParams(next)}`;
}

function filterForm(params, navigate) {
  const fields = FILTERS.map(([name, label, type, choices, cls]) => {
    let input;
    if (type === "select") {
      input = h("select", { name }, choices.map((c) => h("option", { value: c }, c || "any")));
      input.value = params.get(name) || "";
    } else {
      input = h("input", { name, type: "text", value: params.get(name) || "", autocomplete: "off" });
    }
    return h("label", { class: cls || "" }, h("span", {}, label), input);
  });
  const form = h(
    "form",
    { class: "filters", role: "search" },
    fields,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter"), h("a", { href: "/runs" }, "clear")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, value] of new FormData(form).entries()) {
      if (String(value).trim()) next.set(name, String(value).trim());
    }
    if (params.get("order_by")) next.set("order_by", params.get("order_by"));
    navigate(`/runs?${next}`);
  });
  return form;
}

function runsTable(runs, order, query, selected, compare) {
  const header = (label, key, numeric) => {
    const cls = numeric ? "num" : "";
    if (!key) return h("th", { class: cls, scope: "col" }, label);
    const next = { ...query, order_by: key };
    delete next.offset;
    const active = order === key;
    return h(
      "th",
      { class: cls, scope: "col", "aria-sort": active ? "descending" : null },
      h("a", { href: `/runs?${new URLSearchParams(next)}`, class: active ? "sorted" : "" }, label, active ? " ▼" : ""),
    );
  };
  const ids = shortIds(runs.map((run) => run.run_id));
  const body = runs.map((run) => {
    const box = h("input", { type: "checkbox", "aria-label": `select run ${ids.get(run.run_id)}` });
    box.checked = selected.has(run.run_id);
    box.addEventListener("change", () => {
      if (box.checked) selected.add(run.run_id);
      else selected.delete(run.run_id);
      compare.disabled = selected.size !== 2;
    });
    return h(
      "tr",
      { "data-run": run.run_id },
      h("td", {}, box),
      h("td", { class: "mono" }, h("a", { href: runHref(run.run_id), title: run.run_id }, ids.get(run.run_id))),
      h("td", {}, run.agent_name || run.name || "-"),
      h("td", {}, statusBadge(run.status)),
      h("td", { class: "mono" }, shortTime(run.start_time)),
      h("td", { class: "num" }, duration(run.duration_ms)),
      h("td", { class: "num" }, String(run.llm_calls)),
      h("td", { class: "num" }, String(run.tool_calls)),
      h("td", { class: "num" }, `${tokens(run.input_tokens)}/${tokens(run.output_tokens)}`),
      h("td", { class: "num" }, money(run.cost_usd, run.unpriced_calls)),
      h("td", { class: "num" }, run.feedback === null ? "" : String(run.feedback)),
    );
  });
  return h(
    "table",
    { class: "grid", id: "runs-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        header(""),
        header("run"),
        header("agent"),
        header("status"),
        header("start (UTC)", SORTABLE.start),
        header("duration", SORTABLE.duration, true),
        header("llm", null, true),
        header("tools", null, true),
        header("tokens in/out", SORTABLE.tokens, true),
        header("cost", SORTABLE.cost, true),
        header("feedback", null, true),
      ),
    ),
    h("tbody", {}, body),
  );
}
