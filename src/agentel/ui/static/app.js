// The router: paths hold the page and its state (filters in the query string), so links can
// be shared and the back button works. Each page renders into <main> and may return a cleanup
// function (live refresh timers).
import { api, errorBox } from "./lib.js";
import { runsPage } from "./runs.js";
import { runPage } from "./run.js";
import { comparePage } from "./compare.js";
import { conversationsPage } from "./conversations.js";
import { statsPage } from "./stats.js";

const main = document.getElementById("main");
let cleanup = null;

const routes = [
  [/^\/(runs)?$/, runsPage, "runs"],
  [/^\/run\/(.+)$/, runPage, "runs"],
  [/^\/compare$/, comparePage, "runs"],
  [/^\/conversations$/, conversationsPage, "conversations"],
  [/^\/stats$/, statsPage, "stats"],
];

export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

async function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  for (const [pattern, page, nav] of routes) {
    const found = path.match(pattern);
    if (!found) continue;
    for (const link of document.querySelectorAll("nav a")) {
      link.classList.toggle("active", link.dataset.nav === nav);
    }
    const view = document.createElement("div");
    main.replaceChildren(view);
    try {
      cleanup = (await page(view, { params, match: found, navigate })) || null;
    } catch (error) {
      view.replaceChildren(errorBox(error));
    }
    return;
  }
  main.replaceChildren(errorBox(new Error(`no page at ${path}`)));
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a");
  if (!link || link.target || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  if (link.origin !== location.origin || link.getAttribute("href") === "#") return;
  event.preventDefault();
  navigate(link.pathname + link.search);
});

window.addEventListener("popstate", render);

api("meta").then(
  (meta) => {
    document.getElementById("store").textContent = `${meta.store} · agentel ${meta.version}`;
  },
  () => {},
);
render();
