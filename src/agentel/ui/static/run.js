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
  shortId,
  shortTime,
  statusBadge,
  tokens,
} from "./lib.js";

const ROW = 26;
const OVERSCAN = 15;

export async function runPage(view, { match }) {
  const runId = decodeURIComponent(match[1]);
  const run = await api(`${runPath(runId)}/waterfall`);
  const header = runHeader(run);
  const detail = h("aside", { class: "detail", id: "span-detail" }, message("Click a span to see its details."));
  const details = new Map();
  let shown = null;
  const select = async (span) => {
    shown = span.span_id;
    if (!details.has(span.span_id)) {
      fill(detail, message("Loading the span…"));
      try {
        details.set(span.span_id, await api(`spans/${encodeURIComponent(run.trace_id)}/${encodeURIComponent(span.span_id)}`));
      } catch (error) {
        if (shown === span.span_id) fill(detail, errorBox(error));
        return;
      }
    }
    if (shown === span.span_id) showSpan(detail, details.get(span.span_id));
  };
  const waterfall = new Waterfall(run.spans, select);
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
    h("h1", {}, run.agent_name || run.name || "run", " ", h("span", { class: "mono muted small", id: "run-id", title: run.run_id }, shortId(run.run_id))),
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

function timeMs(iso) {
  // ISO with up to 9 fractional digits -> ms as a float, keeping sub-ms precision
  if (!iso) return null;
  const found = iso.match(/^(.*T\d\d:\d\d:\d\d)(\.(\d+))?Z$/);
  if (!found) return Date.parse(iso);
  const base = Date.parse(found[1] + "Z");
  const fraction = found[3] ? Number(`0.${found[3]}`) * 1000 : 0;
  return base + fraction;
}

// The waterfall: the spans (flat, in start order, only the fields a row shows) nested by
// parent; only the rows in view (and a few around them) are in the page, built by hand with
// one listener on the whole list.
class Waterfall {
  constructor(spans, onSelect) {
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selected = null;
    const byId = new Map();
    for (const span of spans) {
      span.children = [];
      span._start = timeMs(span.start_time);
      span._end = span.duration_ms === null ? null : span._start + span.duration_ms;
      byId.set(span.span_id, span);
    }
    this.roots = [];
    for (const span of spans) {
      const parent = span.parent_span_id === null ? undefined : byId.get(span.parent_span_id);
      if (parent && parent !== span) parent.children.push(span);
      else this.roots.push(span);
    }
    let first = Infinity;
    let last = -Infinity;
    for (const span of spans) {
      first = Math.min(first, span._start);
      last = Math.max(last, span._end ?? span._start);
    }
    this.first = first;
    this.total = Math.max(last - first, 0.001);
    this.viewport = h("div", { class: "waterfall", id: "waterfall", tabindex: "0", role: "tree" });
    this.spacer = h("div", { class: "spacer" });
    this.viewport.append(this.spacer);
    this.viewport.addEventListener("scroll", () => this.schedule());
    this.viewport.addEventListener("click", (event) => this.click(event));
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
    // depth-first, without recursion (a 10,000-deep chain must not overflow the stack)
    this.rows = [];
    const stack = [];
    for (let i = this.roots.length - 1; i >= 0; i--) stack.push([this.roots[i], 0]);
    while (stack.length) {
      const [span, depth] = stack.pop();
      span._depth = depth;
      this.rows.push(span);
      if (this.collapsed.has(span.span_id)) continue;
      for (let i = span.children.length - 1; i >= 0; i--) stack.push([span.children[i], depth + 1]);
    }
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

  click(event) {
    const row = event.target.closest(".row");
    if (!row) return;
    const span = this.rows[Number(row.dataset.index)];
    if (event.target.closest(".toggle")) {
      if (!span.children.length) return;
      if (this.collapsed.has(span.span_id)) this.collapsed.delete(span.span_id);
      else this.collapsed.add(span.span_id);
      this.flatten();
      this.render();
      return;
    }
    this.selected = span.span_id;
    this.render();
    this.onSelect(span);
  }

  row(span, index) {
    const kind = kindOf(span.category);
    const failed = span.status === "error";
    const row = document.createElement("div");
    row.className = this.selected === span.span_id ? "row selected" : "row";
    row.setAttribute("role", "treeitem");
    row.dataset.index = index;
    row.dataset.span = span.span_id;
    row.dataset.kind = kind;
    row.dataset.duration = span.duration_ms ?? "";
    row.style.top = `${index * ROW}px`;

    const name = document.createElement("span");
    name.className = "name";
    name.style.paddingLeft = `${span._depth * 14}px`;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "toggle";
    if (span.children.length) {
      const open = !this.collapsed.has(span.span_id);
      toggle.textContent = open ? "▾" : "▸";
      toggle.setAttribute("aria-label", open ? "collapse" : "expand");
      toggle.setAttribute("aria-expanded", String(open));
    } else {
      toggle.disabled = true;
    }
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = span.name;
    name.append(toggle, kindBadge(kind), label);

    const track = document.createElement("span");
    track.className = "track";
    const bar = document.createElement("span");
    bar.className = `bar kind-${kind}${failed ? " failed" : ""}${span._end === null ? " open" : ""}`;
    bar.title = `${span.name}: ${duration(span.duration_ms)}`;
    const left = ((span._start - this.first) / this.total) * 100;
    const width = span._end === null ? 100 - left : ((span._end - span._start) / this.total) * 100;
    bar.style.left = `${left}%`;
    bar.style.width = `${Math.max(width, 0)}%`;
    track.append(bar);

    const meta = document.createElement("span");
    meta.className = "meta";
    const dur = document.createElement("span");
    dur.className = "dur";
    dur.textContent = duration(span.duration_ms);
    meta.append(dur);
    const usage = span.input_tokens || span.output_tokens ? ` · ${tokens(span.input_tokens)}/${tokens(span.output_tokens)}` : "";
    const cost = span.cost_usd ? ` · ${money(span.cost_usd)}` : "";
    if (usage || cost) meta.append(usage + cost);
    if (failed) {
      const bad = document.createElement("span");
      bad.className = "bad";
      bad.textContent = " ✗ error";
      meta.append(bad);
    }
    row.append(name, track, meta);
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
  const start = timeMs(span.start_time);
  if (typeof event.timestamp !== "number" || start === null) return "";
  return `+${duration(Math.max(0, event.timestamp / 1e6 - start))}`;
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
