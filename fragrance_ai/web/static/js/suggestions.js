// What the readers no design waited for suggest (issue 26): a language model that earns no
// field, or a reader still loading when the brief came in, reads the brief after its design
// has started. Each suggestion is a button that puts it into the corrections above; "Accept
// all and design again" adds them all and submits, which designs again from the corrected
// brief. While the readers are at work the panel says so and looks again every few seconds.

import { get } from "./api.js";
import { h } from "./dom.js";

const POLL_MS = 3000;
const POLL_LIMIT = 100;

// Suggestion field -> the chip editor it goes into (intensity is a select).
const EDITOR_OF = { families: "families", moods: "moods", seasons: "seasons", notes: "notes", evocations: "evocations" };

export function suggestionsPanel(brief, form) {
  if (!brief.suggestions) return null;
  const panel = h("section", { class: "suggestions", "aria-live": "polite", "aria-labelledby": `suggestions-${brief.id}` });
  draw(panel, brief, form);
  if (brief.suggestions.state === "reading") poll(panel, brief.id, form, 0);
  return panel;
}

function poll(panel, briefId, form, attempt) {
  if (attempt >= POLL_LIMIT) return;
  setTimeout(async () => {
    if (!panel.isConnected) return;
    let fresh;
    try {
      fresh = await get(`/v1/briefs/${briefId}`);
    } catch {
      poll(panel, briefId, form, attempt + 1);
      return;
    }
    draw(panel, fresh, form);
    if (fresh.suggestions?.state === "reading") poll(panel, briefId, form, attempt + 1);
  }, POLL_MS);
}

function draw(panel, brief, form) {
  const suggestions = brief.suggestions ?? {};
  const readers = Object.keys(suggestions.readers ?? {}).map((name) => name.replaceAll("_", " "));
  const title = h("h3", { id: `suggestions-${brief.id}` }, "Suggested after the design");
  if (suggestions.state === "reading") {
    panel.replaceChildren(title, h("p", { class: "hint" },
      `Read by ${readers.join(", ")} while the options were designed; what they suggest will appear here.`));
    return;
  }
  if (suggestions.state === "failed") {
    panel.replaceChildren(title, h("p", { class: "hint" }, `The late reading failed: ${suggestions.detail ?? "no reason given"}.`));
    return;
  }
  const fields = suggestions.fields ?? {};
  const buttons = [];
  for (const [field, values] of Object.entries(fields)) {
    const editor = form.editors[EDITOR_OF[field]];
    if (editor) {
      for (const value of values) {
        buttons.push(h("button", {
          type: "button", class: "secondary suggestion", dataset: { field, value },
          onclick: (event) => { editor.add(value); event.currentTarget.disabled = true; },
        }, `+ ${field.replace(/s$/, "")}: ${value}`));
      }
    } else if (field === "intensity") {
      buttons.push(h("button", {
        type: "button", class: "secondary suggestion", dataset: { field, value: values },
        onclick: (event) => { form.intensity.value = values; event.currentTarget.disabled = true; },
      }, `intensity: ${values}`));
    }
  }
  const hints = fields.hints ?? [];
  const readBy = Object.entries(suggestions.readers ?? {})
    .map(([name, path]) => `${name.replaceAll("_", " ")}: ${path.outcome}${path.fallback ? ` (${path.fallback})` : ""}`)
    .join("; ");
  if (!buttons.length && !hints.length) {
    panel.replaceChildren(title, h("p", { class: "hint" }, `Nothing to add to the reading above (${readBy}).`));
    return;
  }
  const acceptAll = h("button", {
    type: "button", class: "accept-suggestions",
    onclick: () => {
      for (const button of buttons) if (!button.disabled) button.click();
      form.submit.click();
    },
  }, "Accept all and design again");
  panel.replaceChildren(
    title,
    h("p", { class: "hint" }, `The design did not use these (${readBy}). Add the ones you want, then design again.`),
    buttons.length ? h("div", { class: "suggestion-list" }, buttons) : null,
    hints.length ? h("ul", { class: "creative-hints" }, hints.map((hint) => h("li", {}, hint))) : null,
    buttons.length ? acceptAll : null,
  );
}
