// Compare: two runs side by side (Store.diff, as `agentel diff` shows it): steps aligned by
// kind and tool name, per step what changed in behaviour plus the token, cost and latency
// deltas, and the totals' deltas.
import { api, duration, h, kindBadge, message, money, pretty, runHref, shortIds, signed, statusBadge, tokens } from "./lib.js";

const TOTALS = [
  ["duration", "duration_ms", duration],
  ["LLM calls", "llm_calls", String],
  ["tool calls", "tool_calls", String],
  ["errors", "errors", String],
  ["input tokens", "input_tokens", tokens],
  ["output tokens", "output_tokens", tokens],
  ["cost", "cost_usd", (v) => money(v)],
];
const DELTAS = [
  ["input_tokens", "tokens in", tokens],
  ["output_tokens", "tokens out", tokens],
  ["cost_usd", "cost", (v) => money(v)],
  ["duration_ms", "latency", duration],
];
const STATUS = { same: "same", changed: "changed", removed: "only in A", added: "only in B" };

export async function comparePage(view, { params }) {
  const a = params.get("a");
  const b = params.get("b");
  view.append(h("h1", {}, "Compare runs"));
  if (!a || !b) {
    view.append(message("Pick two runs in the runs table (tick two boxes, then Compare).", ""));
    return;
  }
  const found = await api("compare", { a, b });
  const ids = shortIds([found.run_a.run_id, found.run_b.run_id]);
  const side = (run, label) =>
    h("div", { class: "side" }, h("h2", {}, `${label}: `, h("a", { href: runHref(run.run_id) }, run.agent_name || run.name || ids.get(run.run_id))), h("p", { class: "mono muted small", title: run.run_id }, ids.get(run.run_id)), statusBadge(run.status));
  const changed = found.steps.filter((s) => s.status !== "same").length;
  view.append(
    h("div", { class: "sides" }, side(found.run_a, "A"), side(found.run_b, "B")),
    h(
      "p",
      { id: "compare-verdict", class: found.same ? "" : "bad" },
      found.same ? "Same behaviour: every step matches." : `${changed} of ${found.steps.length} steps differ in behaviour.`,
      found.content ? "" : " (Content was not captured in both runs, so outputs and arguments were not compared.)",
    ),
    h(
      "table",
      { class: "grid totals-table", id: "compare-totals" },
      h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", { class: "num" }, "A"), h("th", { class: "num" }, "B"), h("th", { class: "num" }, "B − A"))),
      h(
        "tbody",
        {},
        TOTALS.filter(([, key]) => key in found.totals).map(([label, key, format]) => {
          const t = found.totals[key];
          const cls = t.delta > 0 ? "up" : t.delta < 0 ? "down" : "";
          return h("tr", { "data-total": key }, h("th", { scope: "row" }, label), h("td", { class: "num" }, t.a === null ? "-" : format(t.a)), h("td", { class: "num" }, t.b === null ? "-" : format(t.b)), h("td", { class: `num ${cls}` }, signed(t.delta, format)));
        }),
      ),
    ),
    h("h2", {}, `Steps (${found.steps.length})`),
    found.steps.length ? stepsTable(found.steps) : message("Neither run has LLM or tool steps."),
  );
}

function stepCell(step) {
  if (!step) return h("td", { class: "missing" }, "— no step —");
  return h(
    "td",
    {},
    h("div", {}, kindBadge(step.kind), " ", h("b", {}, step.kind === "llm" ? step.model || step.name : step.tool_name || step.name), step.status === "error" ? h("span", { class: "bad" }, " ✗ error") : ""),
    h("div", { class: "muted small" }, [duration(step.duration_ms), step.kind === "llm" ? `${tokens(step.input_tokens)}/${tokens(step.output_tokens)} tok` : null, step.cost_usd ? money(step.cost_usd) : null].filter(Boolean).join(" · ")),
  );
}

function differences(step) {
  const items = step.differences.map((d) =>
    h("li", {}, h("b", {}, d.field), h("div", { class: "pair" }, h("pre", {}, d.a === null ? "-" : pretty(d.a)), h("pre", {}, d.b === null ? "-" : pretty(d.b)))),
  );
  if (step.a && step.b && step.a.model !== step.b.model) {
    items.push(h("li", {}, h("b", {}, "model"), `: ${step.a.model ?? "-"} → ${step.b.model ?? "-"}`));
  }
  const deltas = DELTAS.filter(([key]) => typeof step.deltas[key] === "number" && step.deltas[key] !== 0).map(([key, label, format]) => `${label} ${signed(step.deltas[key], format)}`);
  if (deltas.length) items.push(h("li", { class: "muted" }, deltas.join(" · ")));
  return items.length ? h("ul", { class: "changes" }, items) : "";
}

function stepsTable(steps) {
  return h(
    "table",
    { class: "grid steps", id: "compare-steps" },
    h("thead", {}, h("tr", {}, h("th", { class: "num" }, "#"), h("th", {}, "A"), h("th", {}, "B"), h("th", {}, "step"), h("th", {}, "differences"))),
    h(
      "tbody",
      {},
      steps.map((step) =>
        h(
          "tr",
          { class: `step-${step.status}`, "data-status": step.status },
          h("td", { class: "num" }, String(step.index)),
          stepCell(step.a),
          stepCell(step.b),
          h("td", {}, STATUS[step.status] || step.status),
          h("td", {}, differences(step)),
        ),
      ),
    ),
  );
}
