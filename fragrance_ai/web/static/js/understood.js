// What the parser understood, as chips the perfumer can correct: families, notes, moods,
// season, evocations, avoid, plus intensity, product, dosage and budget; and the words of the
// text nothing read, so none vanishes. "Design again" posts the
// corrected brief (designed from as edited, the text not read again) as a revision.

import { get, post } from "./api.js";
import { showApiErrors } from "./brief_form.js";
import { chipEditor } from "./chips.js";
import { clearFieldErrors, h } from "./dom.js";
import { productSelect } from "./products.js";
import { suggestionsPanel } from "./suggestions.js";

let vocabulary = null;

async function loadVocabulary() {
  vocabulary ??= await get("/v1/briefs/vocabulary");
  return vocabulary;
}

export async function understoodEditor(brief) {
  const parsed = brief.parsed;
  const words = await loadVocabulary();
  const editors = {
    families: chipEditor({ label: "Families", name: "families", values: parsed.families, suggestions: words.families }),
    notes: chipEditor({
      label: "Notes and materials",
      name: "notes",
      values: [...parsed.notes, ...parsed.unmatched_notes],
      hint: parsed.unmatched_notes.length
        ? `No catalogue material for: ${parsed.unmatched_notes.join(", ")} (kept, reported with the result).`
        : "Catalogue names, synonyms or CAS; other words are kept as unmatched notes.",
    }),
    moods: chipEditor({ label: "Moods", name: "moods", values: parsed.moods, suggestions: words.moods }),
    seasons: chipEditor({ label: "Season", name: "seasons", values: parsed.seasons, suggestions: words.seasons }),
    evocations: chipEditor({
      label: "Evocations read",
      name: "evocations",
      values: parsed.evocations ?? [],
      suggestions: words.evocations ?? [],
      hint: "Scenes, textures, perfumes and moods read in the text: each brings its accord, its structure and the odour classes it asks for (a campfire asks for smoke). Remove one to design without it.",
    }),
    avoid: chipEditor({ label: "Avoid (forbidden)", name: "avoid", values: parsed.avoid, hint: "Materials, families or words: every material they name is left out." }),
  };
  const intensity = h("select", { id: "fix-intensity", name: "intensity" },
    words.intensities.map((value) => h("option", { value, selected: value === parsed.intensity }, value)));
  const product = productSelect({ id: "fix-product", name: "product", selected: parsed.product });
  const number = (id, name, value, attributes) => h("input", { id, name, type: "number", step: "any", inputmode: "decimal", value: value ?? "", ...attributes });
  const dosage = number("fix-dosage", "dosage_percent", parsed.dosage_percent, { min: "0.1", max: "40", placeholder: "product's usual" });
  const budget = number("fix-budget", "budget_per_kg_eur", parsed.budget_per_kg_eur, { min: "1", placeholder: "none" });
  const messages = h("div", { class: "form-messages" });
  const submit = h("button", { type: "submit" }, "Design again with these corrections");
  const form = h(
    "form",
    { class: "understood", novalidate: true, "aria-labelledby": "understood-title" },
    h("h2", { id: "understood-title" }, "What the parser understood"),
    h("p", { class: "hint" }, readBy(brief)),
    h("div", { class: "chip-groups" }, Object.values(editors).map((editor) => editor.element)),
    suggestionsPanel(brief, { editors, intensity, submit }),
    unreadWords(parsed),
    h("div", { class: "form-row" },
      h("div", {}, h("label", { for: intensity.id }, "Intensity"), intensity),
      h("div", {}, h("label", { for: product.id }, "Product"), product),
      h("div", {}, h("label", { for: dosage.id }, "Dosage (%)"), dosage),
      h("div", {}, h("label", { for: budget.id }, "Budget (€/kg)"), budget),
    ),
    h("div", { class: "actions" }, submit),
    messages,
  );
  const fields = {
    families: editors.families.input,
    notes: editors.notes.input,
    moods: editors.moods.input,
    seasons: editors.seasons.input,
    evocations: editors.evocations.input,
    avoid: editors.avoid.input,
    intensity,
    product,
    dosage_percent: dosage,
    budget_per_kg_eur: budget,
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    messages.replaceChildren();
    const corrected = {
      families: editors.families.values(),
      notes: editors.notes.values(),
      moods: editors.moods.values(),
      seasons: editors.seasons.values(),
      evocations: editors.evocations.values(),
      avoid: editors.avoid.values(),
      intensity: intensity.value,
    };
    if (dosage.value !== "") corrected.dosage_percent = Number(dosage.value);
    if (budget.value !== "") corrected.budget_per_kg_eur = Number(budget.value);
    submit.disabled = true;
    try {
      const accepted = await post("/v1/briefs", {
        text: brief.text,
        mode: brief.mode,
        product: product.value,
        corrected,
        revises: brief.id,
      });
      window.location.hash = `#/briefs/${accepted.brief_id}?job=${accepted.job_id}`;
    } catch (error) {
      submit.disabled = false;
      // "corrected.families.1" goes next to the families chips.
      showApiErrors(error, fields, messages, { within: "corrected" });
    }
  });
  return form;
}

function readBy(brief) {
  const parts = [];
  if (brief.parser === "perfumer") parts.push("Corrected by the perfumer.");
  else if (brief.parser) parts.push(`Read by ${brief.parser}.`);
  const defaults = brief.parsed.defaults_used ?? [];
  if (defaults.length) parts.push(`Not in the text, so defaulted: ${defaults.join(", ")}.`);
  if (brief.parsed.structure) parts.push(`Structure named: ${brief.parsed.structure.replaceAll("_", " ")}.`);
  if (brief.parsed.accepted_clashes?.length) parts.push(`Asked for: ${brief.parsed.accepted_clashes.join(", ").replaceAll("_", " ")} notes.`);
  if (brief.parsed.hints?.length) parts.push(`Creative hints: ${brief.parsed.hints.join("; ")}.`);
  return parts.join(" ");
}

function unreadWords(parsed) {
  const words = parsed.unread_words ?? [];
  if (!words.length) return null;
  return h("p", { class: "hint unread-words" },
    "Not read: ", words.join(", "), ". Add them as notes, families or an evocation if they matter.");
}
