// Run: header, waterfall (one time axis, nested, collapsible, only visible rows rendered),
// span detail (attributes, events, exception, content as a conversation) and feedback.
import {
  api,
  duration,
  errorBox,
  fill,
  h,
  kindBadge,
  kindOf,
  message,
  money,
  post,
  pretty,
  runPath,
  shortTime,
  statusBadge,
  tokens,
} from "./lib.js";

const ROW = 26;
const OVERSCAN = 15;

export async function runPage(view, { match }) {
  const runId = decodeURIComponent(match[1]);
  const run = await api(runPath(runId));
  const header = runHeader(run);
  const detail = h("aside", { class: "detail", id: "span-detail" }, message("Click a span to see its details."));
  const waterfall = new Waterfall(run, (span) => showSpan(detail, span));
  view.append(
    header,
    h("div", { class: "run-body" }, h("section", { class: "waterfall-wrap" }, waterfall.element), detail),
    feedbackForm(run, header),
  );
  waterfall.render();
  const onResize = () => waterfall.render();
  window.addEventListener("resize", onResize);
  return () => window.removeEventListener("resize", onResize);
}

function runHeader(run) {
  const facts = [
    ["status", statusBadge(run.status)],
    ["duration", duration(run.duration_ms)],
    ["LLM calls", String(run.llm_calls)],
    ["tool calls", String(run.tool_calls)],
    ["tokens in/out", `${tokens(run.input_tokens)} / ${tokens(run.output_tokens)}`],
    ["cost", money(run.cost_usd, run.unpriced_calls)],
    ["errors", String(run.errors)],
    ["feedback", run.feedback === null ? "-" : String(run.feedback)],
    ["spans", String(run.span_count)],
  ];
  return h(
    "header",
    { class: "run-header" },
    h("h1", {}, run.agent_name || run.name || "run", " ", h("span", { class: "mono muted small" }, run.run_id)),
    h(
      "p",
      { class: "muted" },
      `started ${shortTime(run.start_time)} UTC`,
      run.service_name ? ` · service ${run.service_name}` : "",
      run.conversation_id ? " · conversation " : "",
      run.conversation_id
        ? h("a", { href: `/runs?${new URLSearchParams({ conversation: run.conversation_id })}` }, run.conversation_id)
        : "",
      run.models.length ? ` · models ${run.models.join(", ")}` : "",
    ),
    h(
      "dl",
      { class: "facts", id: "run-facts" },
      facts.map(([label, value]) => h("div", { "data-fact": label }, h("dt", {}, label), h("dd", {}, value))),
    ),
  );
}

function timeNs(iso) {
  // ISO with up to 9 fractional digits -> ms as a float, keeping sub-ms precision
  if (!iso) return null;
  const found = iso.match(/^(.*T\d\d:\d\d:\d\d)(\.(\d+))?Z$/);
  if (!found) return Date.parse(iso);
  const base = Date.parse(found[1] + "Z");
  const fraction = found[3] ? Number(`0.${found[3]}`) * 1000 : 0;
  return base + fraction;
}

class Waterfall {
  constructor(run, onSelect) {
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selected = null;
    this.roots = run.spans;
    let first = Infinity;
    let last = -Infinity;
    const visit = (span, depth) => {
      span._start = timeNs(span.start_time);
      span._end = span.end_time ? timeNs(span.end_time) : null;
      span._depth = depth;
      first = Math.min(first, span._start);
      last = Math.max(last, span._end ?? span._start);
      for (const child of span.children) visit(child, depth + 1);
    };
    for (const root of this.roots) visit(root, 0);
    this.first = first;
    this.total = Math.max(last - first, 0.001);
    this.viewport = h("div", { class: "waterfall", id: "waterfall", tabindex: "0", role: "tree" });
    this.spacer = h("div", { class: "spacer" });
    this.viewport.append(this.spacer);
    this.viewport.addEventListener("scroll", () => this.schedule());
    const axis = h(
      "div",
      { class: "axis" },
      h("span", { class: "axis-name" }, "span"),
      h("span", { class: "axis-bar" }, h("span", {}, "0"), h("span", {}, duration(this.total / 2)), h("span", {}, duration(this.total))),
      h("span", { class: "axis-meta" }, "duration · tokens · cost"),
    );
    this.element = h("div", {}, axis, this.viewport);
    this.flatten();
  }

  flatten() {
    this.rows = [];
    const walk = (span) => {
      this.rows.push(span);
      if (!this.collapsed.has(span.span_id)) for (const child of span.children) walk(child);
    };
    for (const root of this.roots) walk(root);
    this.spacer.style.height = `${this.rows.length * ROW}px`;
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.render();
    });
  }

  render() {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 600;
    const start = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const end = Math.min(this.rows.length, Math.ceil((top + height) / ROW) + OVERSCAN);
    const shown = [];
    for (let i = start; i < end; i++) shown.push(this.row(this.rows[i], i));
    this.spacer.replaceChildren(...shown);
  }

  row(span, index) {
    const kind = kindOf(span.category);
    const hasChildren = span.children.length > 0;
    const toggle = h(
      "button",
      { type: "button", class: "toggle", "aria-label": "collapse", disabled: !hasChildren },
      hasChildren ? (this.collapsed.has(span.span_id) ? "▸" : "▾") : "",
    );
    toggle.addEventListener("click", (event) => {
      event.stopPropagation();
      if (this.collapsed.has(span.span_id)) this.collapsed.delete(span.span_id);
      else this.collapsed.add(span.span_id);
      this.flatten();
      this.render();
    });
    const left = ((span._start - this.first) / this.total) * 100;
    const width = span._end === null ? 100 - left : ((span._end - span._start) / this.total) * 100;
    const bar = h("span", {
      class: `bar kind-${kind}${span.status === "error" ? " failed" : ""}${span._end === null ? " open" : ""}`,
      title: `${span.name}: ${duration(span.duration_ms)}`,
    });
    bar.style.left = `${left}%`;
    bar.style.width = `${Math.max(width, 0)}%`;
    const name = h("span", { class: "name" }, toggle, kindBadge(kind), h("span", { class: "label" }, span.name));
    name.style.paddingLeft = `${span._depth * 14}px`;
    const usage = span.input_tokens || span.output_tokens ? `${tokens(span.input_tokens)}/${tokens(span.output_tokens)}` : "";
    const row = h(
      "div",
      {
        class: `row${this.selected === span.span_id ? " selected" : ""}`,
        role: "treeitem",
        "data-span": span.span_id,
        "data-kind": kind,
        "data-duration": span.duration_ms ?? "",
      },
      name,
      h("span", { class: "track" }, bar),
      h(
        "span",
        { class: "meta" },
        h("span", { class: "dur" }, duration(span.duration_ms)),
        usage ? ` · ${usage}` : "",
        span.cost_usd ? ` · ${money(span.cost_usd)}` : "",
        span.status === "error" ? h("span", { class: "bad" }, " ✗ error") : "",
      ),
    );
    row.style.top = `${index * ROW}px`;
    row.addEventListener("click", () => {
      this.selected = span.span_id;
      this.render();
      this.onSelect(span);
    });
    return row;
  }
}

// --- span detail -------------------------------------------------------------------------------
const CONTENT = ["gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"];

function parsed(value) {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function contentOf(span, key) {
  if (span.attributes[key] !== undefined) return parsed(span.attributes[key]);
  for (const event of span.events || []) {
    const attrs = event.attributes || {};
    if (attrs[key] !== undefined) return parsed(attrs[key]);
  }
  return undefined;
}

function part(p) {
  if (typeof p === "string") return h("div", { class: "text" }, p);
  if (!p || typeof p !== "object") return h("pre", {}, pretty(p));
  if (p.type === "text") return h("div", { class: "text" }, String(p.content ?? ""));
  if (p.type === "tool_call") {
    return h("div", { class: "tool-call" }, h("b", {}, `call ${p.name || "tool"}`), p.id ? h("span", { class: "muted" }, ` ${p.id}`) : "", h("pre", {}, pretty(p.arguments ?? "")));
  }
  if (p.type === "tool_call_response") {
    return h("div", { class: "tool-call" }, h("b", {}, "tool result"), p.id ? h("span", { class: "muted" }, ` ${p.id}`) : "", h("pre", {}, pretty(p.response ?? "")));
  }
  return h("pre", {}, pretty(p));
}

function messageView(m, fallbackRole) {
  const role = (m && typeof m === "object" && m.role) || fallbackRole;
  let body;
  if (m && typeof m === "object" && Array.isArray(m.parts)) body = m.parts.map(part);
  else if (m && typeof m === "object" && "content" in m) body = [part(typeof m.content === "string" ? m.content : { ...m.content })];
  else body = [part(m)];
  return h("div", { class: `msg role-${String(role).replace(/[^a-z_]/gi, "")}` }, h("div", { class: "role" }, String(role)), body);
}

function conversation(span) {
  const items = [];
  const system = contentOf(span, "gen_ai.system_instructions");
  if (system !== undefined) {
    const parts = Array.isArray(system) ? system : [system];
    items.push(h("div", { class: "msg role-system" }, h("div", { class: "role" }, "system"), parts.map(part)));
  }
  for (const key of CONTENT.slice(1)) {
    const value = contentOf(span, key);
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    for (const m of list) items.push(messageView(m, key.endsWith("output.messages") ? "assistant" : "user"));
  }
  const args = span.attributes["gen_ai.tool.call.arguments"];
  const result = span.attributes["gen_ai.tool.call.result"];
  if (args !== undefined) items.push(h("div", { class: "msg role-tool" }, h("div", { class: "role" }, "arguments"), h("pre", {}, pretty(args))));
  if (result !== undefined) items.push(h("div", { class: "msg role-tool" }, h("div", { class: "role" }, "result"), h("pre", {}, pretty(result))));
  return items;
}

function table(pairs) {
  return h(
    "table",
    { class: "kv" },
    h("tbody", {}, pairs.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v === null || v === undefined ? "-" : typeof v === "object" ? h("pre", {}, pretty(v)) : String(v))))),
  );
}

function showSpan(panel, span) {
  const kind = kindOf(span.category);
  const exceptions = (span.events || []).filter((e) => e.name === "exception");
  const talk = conversation(span);
  const attributes = Object.entries(span.attributes || {}).filter(([k]) => !CONTENT.includes(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  fill(
    panel,
    h("h2", {}, kindBadge(kind), " ", span.name),
    table([
      ["span id", span.span_id],
      ["status", span.status],
      ["operation", span.operation],
      ["model", span.model],
      ["provider", span.provider],
      ["tool", span.tool_name],
      ["start", shortTime(span.start_time)],
      ["duration", duration(span.duration_ms)],
      ["tokens in/out", `${tokens(span.input_tokens)} / ${tokens(span.output_tokens)}`],
      ["cost", money(span.cost_usd)],
      ["time to first token", span.ttft_ms === null ? null : duration(span.ttft_ms)],
    ]),
    span.status === "error"
      ? h("section", { class: "error-box" }, h("h3", {}, "Error"), h("p", {}, [span.error_type, span.status_message].filter(Boolean).join(": ") || "failed"))
      : null,
    exceptions.map((e) => {
      const a = e.attributes || {};
      return h("section", { class: "exception" }, h("h3", {}, `Exception ${a["exception.type"] || ""}`), h("p", {}, String(a["exception.message"] ?? "")), a["exception.stacktrace"] ? h("pre", {}, String(a["exception.stacktrace"])) : null);
    }),
    talk.length ? h("section", { class: "conversation", id: "conversation" }, h("h3", {}, "Content"), talk) : null,
    span.events && span.events.length
      ? h("section", {}, h("h3", {}, "Events"), h("ol", { class: "events" }, span.events.map((e) => h("li", {}, h("b", {}, e.name), " ", h("span", { class: "muted" }, eventOffset(span, e)), Object.keys(e.attributes || {}).length ? h("pre", {}, pretty(e.attributes)) : null))))
      : null,
    h("section", {}, h("h3", {}, "Attributes"), attributes.length ? table(attributes) : message("none")),
  );
}

function eventOffset(span, event) {
  if (typeof event.timestamp !== "number" || span._start === undefined) return "";
  return `+${duration(Math.max(0, event.timestamp / 1e6 - span._start))}`;
}

// --- feedback ------------------------------------------------------------------------------
function feedbackForm(run, header) {
  const score = h("input", { type: "number", step: "any", name: "score", required: true, "aria-label": "score" });
  const comment = h("input", { type: "text", name: "comment", maxlength: "4000", placeholder: "comment (optional)", "aria-label": "comment" });
  const status = h("span", { class: "muted", id: "feedback-status", role: "status" });
  const form = h("form", { class: "feedback", id: "feedback-form" }, h("h2", {}, "Feedback"), h("label", {}, "score ", score), comment, h("button", { type: "submit" }, "Record"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const entry = await post(`${runPath(run.run_id)}/feedback`, { score: Number(score.value), comment: comment.value || null });
      status.textContent = `recorded ${entry.score} at ${shortTime(entry.created_at)}`;
      const fact = header.querySelector('[data-fact="feedback"] dd');
      if (fact) fact.textContent = String(entry.score);
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  });
  return form;
}
