// Stats: the `agentel stats` dimensions as SVG charts drawn here. Series differ by colour AND
// fill pattern, bars carry their numbers, and each chart has its data as a table.
import { api, duration, h, message, money, s, tokens } from "./lib.js";

const RANGES = [
  ["24h", "last 24 hours"],
  ["7d", "last 7 days"],
  ["30d", "last 30 days"],
  ["90d", "last 90 days"],
];
const COLOURS = ["#3b6fd1", "#d9822b", "#3a9d5d", "#8e5cc4", "#c0392b", "#7f8c8d", "#b8860b", "#17a2b8"];
const PATTERNS = ["solid", "diagonal", "dots", "horizontal", "cross", "vertical", "back", "grid"];
let chartCount = 0;

export async function statsPage(view, { params, navigate }) {
  const since = params.get("since") || "7d";
  const select = h("select", { name: "since", "aria-label": "time range" }, RANGES.map(([v, label]) => h("option", { value: v }, label)));
  select.value = since;
  select.addEventListener("change", () => navigate(`/stats?${new URLSearchParams({ since: select.value })}`));
  view.append(h("h1", {}, "Stats"), h("div", { class: "filters" }, h("label", {}, h("span", {}, "range"), select)));
  const [daily, byModel, byTool, byDay] = await Promise.all([
    api("stats/daily", { by: "model", since }),
    api("stats", { by: "model", since }),
    api("stats", { by: "tool", since }),
    api("stats", { by: "day", since }),
  ]);
  const models = [...new Set(daily.days.flatMap((d) => d.groups.map((g) => g.group ?? "(none)")))];
  const cell = (day, model, key) => {
    const g = day.groups.find((x) => (x.group ?? "(none)") === model);
    return g ? g[key] : 0;
  };
  const days = daily.days.map((d) => d.day.slice(5));
  view.append(
    chart("Cost per day, by model (USD)", stacked(days, models, (i, m) => cell(daily.days[i], m, "cost_usd"), (v) => money(v))),
    chart(
      "Tokens per day",
      stacked(days, ["input", "output"], (i, k) => daily.days[i].groups.reduce((sum, g) => sum + (g[`${k}_tokens`] || 0), 0), tokens),
    ),
    chart("LLM latency per model (p50 / p95)", latency(byModel)),
    chart("Tool latency per tool (p50 / p95)", latency(byTool)),
    chart("Error rate per day (runs)", errorRates(byDay)),
  );
}

function chart(title, body) {
  return h("section", { class: "chart" }, h("h2", {}, title), body);
}

function defs(count) {
  const id = `c${chartCount++}`;
  const patterns = [];
  for (let i = 0; i < count; i++) {
    const colour = COLOURS[i % COLOURS.length];
    const kind = PATTERNS[i % PATTERNS.length];
    const pattern = s("pattern", { id: `${id}-${i}`, width: 6, height: 6, patternUnits: "userSpaceOnUse" }, s("rect", { width: 6, height: 6, fill: colour }));
    const stroke = { stroke: "#fff", "stroke-width": 1.2 };
    if (kind === "diagonal") pattern.append(s("path", { d: "M0,6 L6,0", ...stroke }));
    if (kind === "back") pattern.append(s("path", { d: "M0,0 L6,6", ...stroke }));
    if (kind === "dots") pattern.append(s("circle", { cx: 3, cy: 3, r: 1.2, fill: "#fff" }));
    if (kind === "horizontal") pattern.append(s("path", { d: "M0,3 L6,3", ...stroke }));
    if (kind === "vertical") pattern.append(s("path", { d: "M3,0 L3,6", ...stroke }));
    if (kind === "cross" || kind === "grid") pattern.append(s("path", { d: "M0,3 L6,3 M3,0 L3,6", ...stroke }));
    patterns.push(pattern);
  }
  return { id, element: s("defs", {}, patterns) };
}

function legend(names, id) {
  return h(
    "ul",
    { class: "legend" },
    names.map((name, i) => h("li", {}, s("svg", { width: 14, height: 14, "aria-hidden": "true" }, s("rect", { width: 14, height: 14, fill: `url(#${id}-${i})`, stroke: "#333" })), ` ${name} (${PATTERNS[i % PATTERNS.length]})`)),
  );
}

function dataTable(headers, rows) {
  return h(
    "details",
    { class: "data" },
    h("summary", {}, "data"),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))))),
  );
}

function stacked(labels, series, value, format) {
  if (!labels.length || !series.length) return message("Nothing recorded in this range.");
  const totals = labels.map((_, i) => series.reduce((sum, name) => sum + (value(i, name) || 0), 0));
  const max = Math.max(...totals, 1e-12);
  const plot = { left: Math.max(50, format(max).length * 7 + 10), top: 20, bottom: 30 };
  const width = Math.max(360, labels.length * 48 + plot.left + 10);
  const height = 220;
  const scale = (height - plot.top - plot.bottom) / max;
  const band = Math.min(60, (width - plot.left - 10) / labels.length);
  const { id, element } = defs(series.length);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "stacked bar chart" }, element);
  svg.append(s("line", { x1: plot.left, y1: height - plot.bottom, x2: width - 5, y2: height - plot.bottom, stroke: "#555" }));
  svg.append(s("text", { x: plot.left - 4, y: plot.top + 4, "text-anchor": "end", class: "tick" }, format(max)));
  labels.forEach((label, i) => {
    const x = plot.left + i * band + band * 0.15;
    const w = band * 0.7;
    let y = height - plot.bottom;
    series.forEach((name, k) => {
      const v = value(i, name) || 0;
      if (!v) return;
      const hgt = v * scale;
      y -= hgt;
      svg.append(s("rect", { x, y, width: w, height: hgt, fill: `url(#${id}-${k})`, stroke: "#222", "stroke-width": 0.5 }, s("title", {}, `${label} ${name}: ${format(v)}`)));
    });
    if (totals[i]) svg.append(s("text", { x: x + w / 2, y: y - 3, "text-anchor": "middle", class: "value" }, format(totals[i])));
    svg.append(s("text", { x: x + w / 2, y: height - plot.bottom + 14, "text-anchor": "middle", class: "tick" }, label));
  });
  return h(
    "div",
    {},
    h("div", { class: "svg-wrap" }, svg),
    legend(series, id),
    dataTable(["day", ...series, "total"], labels.map((label, i) => [label, ...series.map((n) => format(value(i, n) || 0)), format(totals[i])])),
  );
}

function latency(rows) {
  const shown = rows.filter((r) => r.p50_ms !== null);
  if (!shown.length) return message("Nothing recorded in this range.");
  const rowHeight = 34;
  const left = 170;
  const width = 640;
  const height = shown.length * rowHeight + 20;
  const max = Math.max(...shown.map((r) => r.p95_ms ?? r.p50_ms), 1e-9);
  const scale = (width - left - 90) / max;
  const { id, element } = defs(2);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "latency chart" }, element);
  shown.forEach((r, i) => {
    const y = 10 + i * rowHeight;
    const name = String(r.group ?? "(none)");
    const label = name.length > 26 ? `${name.slice(0, 25)}…` : name; // the full name on hover and in the data table
    svg.append(s("text", { x: left - 6, y: y + 18, "text-anchor": "end", class: "tick" }, label, s("title", {}, name)));
    [
      ["p50", r.p50_ms, 0],
      ["p95", r.p95_ms, 1],
    ].forEach(([name, v, k]) => {
      const w = Math.max((v ?? 0) * scale, 1);
      const yy = y + k * 13;
      svg.append(s("rect", { x: left, y: yy, width: w, height: 11, fill: `url(#${id}-${k})`, stroke: "#222", "stroke-width": 0.5 }));
      svg.append(s("text", { x: left + w + 4, y: yy + 10, class: "value" }, `${name} ${duration(v)}`));
    });
  });
  return h(
    "div",
    {},
    h("div", { class: "svg-wrap" }, svg),
    legend(["p50", "p95"], id),
    dataTable(["group", "count", "p50", "p95", "errors"], shown.map((r) => [String(r.group ?? "(none)"), String(r.count), duration(r.p50_ms), duration(r.p95_ms), String(r.errors)])),
  );
}

function errorRates(rows) {
  if (!rows.length) return message("Nothing recorded in this range.");
  const width = Math.max(360, rows.length * 48 + 60);
  const height = 180;
  const bottom = 30;
  const band = Math.min(60, (width - 60) / rows.length);
  const { id, element } = defs(5);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "error rate chart" }, element);
  svg.append(s("line", { x1: 50, y1: height - bottom, x2: width - 5, y2: height - bottom, stroke: "#555" }));
  svg.append(s("text", { x: 46, y: 24, "text-anchor": "end", class: "tick" }, "100%"));
  rows.forEach((r, i) => {
    const x = 50 + i * band + band * 0.15;
    const w = band * 0.7;
    const hgt = r.error_rate * (height - bottom - 20);
    svg.append(s("rect", { x, y: height - bottom - hgt, width: w, height: Math.max(hgt, 0.5), fill: `url(#${id}-4)`, stroke: "#222", "stroke-width": 0.5 }));
    svg.append(s("text", { x: x + w / 2, y: height - bottom - hgt - 3, "text-anchor": "middle", class: "value" }, `${(r.error_rate * 100).toFixed(0)}%`));
    svg.append(s("text", { x: x + w / 2, y: height - bottom + 14, "text-anchor": "middle", class: "tick" }, String(r.group ?? "").slice(5)));
  });
  return h(
    "div",
    {},
    h("div", { class: "svg-wrap" }, svg),
    dataTable(["day", "runs", "failed", "error rate"], rows.map((r) => [String(r.group), String(r.count), String(r.errors), `${(r.error_rate * 100).toFixed(1)}%`])),
  );
}
