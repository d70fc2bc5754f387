// The workbench's router: the hash names the page (#/, #/briefs/{id}[?job={id}], #/check,
// #/catalogue, #/catalogue/{cas}, #/training), so every view has a link and the browser's
// back button works. Each page module exports render(view, params).

import { setUpKeyButton } from "./api.js";
import { alertBox, clear } from "./dom.js";
import * as brief from "./pages/brief.js";
import * as catalogue from "./pages/catalogue.js";
import * as check from "./pages/check.js";
import * as training from "./pages/training.js";

const ROUTES = [
  { pattern: /^#?\/?$/, page: brief, nav: "brief", title: "Brief", params: () => ({}) },
  { pattern: /^#\/briefs\/([0-9a-f-]{36})(?:\?job=([0-9a-f-]{36}))?$/, page: brief, nav: "brief", title: "Brief", params: (m) => ({ briefId: m[1], jobId: m[2] }) },
  { pattern: /^#\/check$/, page: check, nav: "check", title: "Check a formula", params: () => ({}) },
  { pattern: /^#\/catalogue$/, page: catalogue, nav: "catalogue", title: "Catalogue", params: () => ({}) },
  { pattern: /^#\/catalogue\/(.+)$/, page: catalogue, nav: "catalogue", title: "Material", params: (m) => ({ cas: decodeURIComponent(m[1]) }) },
  { pattern: /^#\/training$/, page: training, nav: "training", title: "Training", params: () => ({}) },
];

let rendering = 0;

async function route() {
  const view = document.getElementById("view");
  const hash = window.location.hash;
  const match = ROUTES.map((r) => [r, hash.match(r.pattern)]).find(([, m]) => m);
  clear(view);
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.removeAttribute("aria-current");
  }
  if (!match) {
    view.append(alertBox(`No page at ${hash}.`));
    return;
  }
  const [entry, groups] = match;
  document.querySelector(`[data-nav='${entry.nav}']`)?.setAttribute("aria-current", "page");
  document.title = `${entry.title} · Fragrance AI workbench`;
  const token = ++rendering;
  try {
    // A page checks isCurrent() after each await, so a slow answer never draws over the
    // page the perfumer has since moved to.
    await entry.page.render(view, { ...entry.params(groups), isCurrent: () => token === rendering });
  } catch (error) {
    if (token === rendering) view.append(alertBox(error.message));
  }
}

setUpKeyButton();
window.addEventListener("hashchange", () => {
  route();
  document.getElementById("view").focus({ preventScroll: true });
});
route();
