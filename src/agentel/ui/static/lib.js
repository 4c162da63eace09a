// Shared helpers. Every stored string reaches the page as a text node (h() never parses HTML),
// so span names, attributes and content from LLMs and users can never run as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.setAttribute("class", value);
    } else if (key === "href") {
      el.setAttribute("href", safeHref(value));
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function safeHref(value) {
  const text = String(value);
  return text.startsWith("/") && !text.startsWith("//") ? text : "#";
}

// replaceChildren() that skips null/false (the DOM method would show them as "null")
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function api(path, params) {
  const query = params ? "?" + new URLSearchParams(params).toString() : "";
  let response;
  // 503 + Retry-After: the server is still starting (its page answers first); ask again
  for (let tries = 0; ; tries++) {
    response = await fetch("/api/" + path + query, { headers: { accept: "application/json" } });
    if (response.status !== 503 || !response.headers.get("retry-after") || tries >= 120) break;
    await sleep(250);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
  if (!response.ok) throw new ApiError(response.status, body && body.error ? body.error : String(response.status));
  return body;
}

export async function post(path, data) {
  const csrf = document.querySelector('meta[name="agentel-csrf"]').getAttribute("content");
  const response = await fetch("/api/" + path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-agentel-csrf": csrf },
    body: JSON.stringify(data),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.error || String(response.status));
  return body;
}

// Run ids are 48 hex digits (trace id + root span id): tables show, as `agentel runs` does, the
// shortest prefix of each (12 at least) that no other listed id shares. Links use the whole id.
export function shortIds(ids, min = 12) {
  const sorted = [...new Set(ids)].sort();
  const needed = new Map(sorted.map((id) => [id, Math.min(min, id.length)]));
  for (let i = 1; i < sorted.length; i++) {
    const [left, right] = [sorted[i - 1], sorted[i]];
    let common = 0;
    while (common < left.length && common < right.length && left[common] === right[common]) common++;
    needed.set(left, Math.max(needed.get(left), Math.min(common + 1, left.length)));
    needed.set(right, Math.max(needed.get(right), Math.min(common + 1, right.length)));
  }
  return new Map(sorted.map((id) => [id, id.slice(0, needed.get(id))]));
}

export const shortId = (id) => id.slice(0, 12);

export const runHref = (id) => "/run/" + encodeURIComponent(id);
export const runPath = (id) => "runs/" + encodeURIComponent(id);

export function duration(ms) {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)}s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes}m${String(Math.round((ms % 60000) / 1000)).padStart(2, "0")}s`;
}

export function tokens(n) {
  if (n === null || n === undefined) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return String(n);
}

export function money(usd, unpriced) {
  if (usd === null || usd === undefined) return unpriced ? "?" : "-";
  let text;
  if (usd === 0) text = "$0";
  else if (usd < 1e-8) text = `$${usd.toExponential(1)}`;
  else if (usd < 1) text = `$${usd.toFixed(Math.min(10, Math.max(4, 1 - Math.floor(Math.log10(usd)))))}`;
  else text = `$${usd.toFixed(2)}`;
  return unpriced ? `${text}+?` : text;
}

export function signed(value, format) {
  if (value === null || value === undefined) return "-";
  if (value === 0) return "±0";
  return (value > 0 ? "+" : "−") + format(Math.abs(value));
}

export function shortTime(iso) {
  if (!iso) return "-";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "").replace(/Z$/, "");
}

export function statusBadge(status) {
  const marks = { ok: "✓", error: "✗", running: "…", abandoned: "⚠" };
  return h("span", { class: `status status-${status}` }, `${marks[status] || ""} ${status}`);
}

// agent, llm, tool, retrieval, other: a colour and always a text label
export function kindOf(category) {
  if (category === "agent" || category === "workflow") return "agent";
  if (category === "llm" || category === "embedding") return "llm";
  if (category === "tool") return "tool";
  if (category === "retrieval") return "retrieval";
  return "other";
}

export function kindBadge(kind) {
  return h("span", { class: `kind kind-${kind}` }, kind);
}

export function message(text, cls = "muted") {
  return h("p", { class: cls }, text);
}

export function errorBox(error) {
  return h("div", { class: "error-box", role: "alert" }, error.message || String(error));
}

export function pretty(value) {
  if (typeof value === "string") {
    const trimmed = value.trim();
    if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
      try {
        return JSON.stringify(JSON.parse(trimmed), null, 2);
      } catch {
        return value;
      }
    }
    return value;
  }
  return JSON.stringify(value, null, 2);
}
