// A brief's rounds side by side: its options, then each set of variations asked for. Every
// formula is a card; a round can be sorted by an objective and two of its formulas compared
// line by line; "I prefer this one" records the round's choice (POST /v1/feedback) and
// "Variations" asks for a new round (POST /v1/formulas/{id}/variations), both as the perfumer
// named in "Choosing as" (taste.js).

import { get, getHtml, post } from "./api.js";
import { comparisonTable } from "./compare.js";
import { documentFrame } from "./documents.js";
import { alertBox, announce, h } from "./dom.js";
import * as fmt from "./format.js";
import { formulaCard } from "./formula_card.js";
import { asPerfumer } from "./taste.js";
import { weighOutPanel } from "./weigh_out.js";

const SORTS = [
  ["designed", "Order designed"],
  ["brief_fit", "Brief fit (best first)"],
  ["cost", "Cost per kg (lowest first)"],
  ["novelty", "Novelty (highest first)"],
  ["pyramid_balance", "Pyramid balance (best first)"],
];

function sortKey(formula, by) {
  if (by === "cost") return formula.cost_per_kg_eur;
  if (by === "designed") return 0;
  return -(formula.scores?.[by] ?? -Infinity);
}

// Every formula a brief's rounds show, with a label the perfumer can refer to.
async function loadFormulas(rounds) {
  const ids = new Set();
  for (const round of rounds) {
    for (const id of round.formula_ids) ids.add(id);
    if (round.parent_id) ids.add(round.parent_id);
  }
  const formulas = await Promise.all([...ids].map((id) => get(`/v1/formulas/${id}`)));
  return new Map(formulas.map((formula) => [formula.id, formula]));
}

function labels(rounds) {
  const names = new Map();
  rounds.forEach((round, r) => {
    round.formula_ids.forEach((id, i) => {
      if (!names.has(id)) names.set(id, round.kind === "options" ? `Option ${i + 1}` : `Variation ${r}.${i + 1}`);
    });
  });
  return names;
}

export async function drawRounds(container, brief, { isCurrent, onChange }) {
  const rounds = brief.rounds;
  if (!rounds.length) {
    container.replaceChildren(alertBox("No options were designed for this brief.", "info"));
    return;
  }
  const formulas = await loadFormulas(rounds);
  if (!isCurrent()) return;
  const names = labels(rounds);
  const sections = rounds.map((round, index) => roundSection(round, index, { brief, formulas, names, onChange }));
  container.replaceChildren(history(rounds, names, sections), ...sections);
}

function history(rounds, names, sections) {
  return h(
    "nav",
    { class: "rounds-history", "aria-label": "Rounds of this brief" },
    h("h2", {}, "History"),
    h("ol", { class: "history" }, rounds.map((round, index) => {
      const what = round.kind === "options"
        ? `${round.formula_ids.length} options designed`
        : `${round.formula_ids.length} variations of ${names.get(round.parent_id) ?? "a formula"}`;
      const chose = round.chosen_id ? `; chose ${names.get(round.chosen_id) ?? "the parent"}` : "; no choice yet";
      return h("li", {}, h("button", {
        type: "button",
        class: "link",
        onclick: () => {
          sections[index].scrollIntoView();
          sections[index].focus();
        },
      }, `Round ${index + 1}: ${what}${chose}`));
    })),
  );
}

function roundSection(round, index, { brief, formulas, names, onChange }) {
  const titleId = `round-${index + 1}-title`;
  const title = round.kind === "options"
    ? `Round ${index + 1}: options`
    : `Round ${index + 1}: variations of ${names.get(round.parent_id)}`;
  const messages = h("div", { class: "round-messages", "aria-live": "polite" });
  const members = round.formula_ids.map((id) => formulas.get(id));
  const cards = h("div", { class: "cards" });
  const comparison = h("div", { class: "comparison-area" });

  async function choose(chosenId) {
    messages.replaceChildren();
    const body = round.kind === "options"
      ? { brief_id: brief.id, chosen_id: chosenId }
      : { variation_set_id: round.variation_set_id, chosen_id: chosenId };
    try {
      await post("/v1/feedback", asPerfumer(body));
      announce(`${names.get(chosenId) ?? "The parent"} chosen.`);
      await onChange({ focus: titleId });
    } catch (error) {
      messages.append(alertBox(error.message));
    }
  }

  async function vary(formulaId, button) {
    messages.replaceChildren();
    button.disabled = true;
    try {
      await post(`/v1/formulas/${formulaId}/variations`, asPerfumer({ n: 3, include_parent: true }));
      await onChange({ focus: `round-${index + 2}-title`, last: true });
    } catch (error) {
      button.disabled = false;
      messages.append(alertBox(error.message));
    }
  }

  const drawCards = (by) => {
    const sorted = by === "designed" ? members : [...members].sort((a, b) => sortKey(a, by) - sortKey(b, by));
    cards.replaceChildren(...sorted.map((formula) => card(formula)));
  };

  function card(formula) {
    const chosen = round.chosen_id === formula.id;
    const certificate = h("div", { class: "certificate-area" });
    const varyButton = h("button", { type: "button", class: "secondary" }, "Variations");
    varyButton.addEventListener("click", () => vary(formula.id, varyButton));
    const actions = [
      round.chosen_id
        ? null
        : h("button", { type: "button", onclick: () => choose(formula.id) }, "I prefer this one"),
      varyButton,
      h("button", {
        type: "button",
        class: "secondary",
        onclick: async () => {
          try {
            const html = await getHtml(`/v1/formulas/${formula.id}/ifra-certificate`, { format: "html" });
            certificate.replaceChildren(documentFrame(html, "IFRA certificate"));
          } catch (error) {
            certificate.replaceChildren(alertBox(error.message));
          }
        },
      }, "IFRA certificate"),
    ];
    const element = formulaCard(formula, {
      title: names.get(formula.id),
      actions,
      extra: [variationNote(formula), weighOutPanel(formula), certificate],
    });
    if (chosen) {
      element.classList.add("chosen");
      element.querySelector("header").append(h("span", { class: "chosen-badge" }, "Chosen"));
    }
    return element;
  }

  const sortSelect = h("select", { id: `sort-${index}`, onchange: () => drawCards(sortSelect.value) },
    SORTS.map(([value, label]) => h("option", { value }, label)));
  const compareA = compareSelect(`compare-a-${index}`, members, names, 0);
  const compareB = compareSelect(`compare-b-${index}`, members, names, 1);
  const compareButton = h("button", {
    type: "button",
    class: "secondary",
    onclick: () => {
      const a = formulas.get(compareA.value);
      const b = formulas.get(compareB.value);
      comparison.replaceChildren(a === b ? alertBox("Pick two different formulas to compare.") : comparisonTable(a, b, names.get(a.id), names.get(b.id)));
    },
  }, "Compare");

  const keepParent = round.kind === "variations" && !round.chosen_id
    ? h("button", { type: "button", class: "secondary", onclick: () => choose(round.parent_id) }, `Keep ${names.get(round.parent_id)} (none of these)`)
    : null;
  const chosenParent = round.kind === "variations" && round.chosen_id === round.parent_id
    ? alertBox(`Kept ${names.get(round.parent_id)}: none of these variations was preferred.`, "info")
    : null;

  drawCards("designed");
  return h(
    "section",
    { class: "round", "aria-labelledby": titleId, tabindex: "-1", dataset: { kind: round.kind, round: index + 1 } },
    h("h2", { id: titleId }, title),
    h("div", { class: "toolbar no-print" },
      h("div", {}, h("label", { for: sortSelect.id }, "Sort by"), sortSelect),
      members.length > 1
        ? [
            h("div", {}, h("label", { for: compareA.id }, "Compare A"), compareA),
            h("div", {}, h("label", { for: compareB.id }, "with B"), compareB),
            h("div", {}, compareButton),
          ]
        : null,
      keepParent ? h("div", {}, keepParent) : null,
    ),
    chosenParent,
    messages,
    comparison,
    cards,
  );
}

function compareSelect(id, members, names, selectedIndex) {
  return h("select", { id }, members.map((formula, i) =>
    h("option", { value: formula.id, selected: i === selectedIndex }, names.get(formula.id))));
}

// A variation says which edit the policy made.
function variationNote(formula) {
  const edit = formula.search?.variation;
  if (!edit) return null;
  const parts = [`${edit.operation} ${edit.family}`];
  if (edit.material) {
    const to = edit.to_percent !== undefined ? ` → ${fmt.percent(edit.to_percent)}` : "";
    parts.push(`${edit.material} ${fmt.percent(edit.from_percent)}${to}`);
  }
  if (edit.new_material) parts.push(`+ ${edit.new_material} ${fmt.percent(edit.new_percent)}`);
  return h("p", { class: "variation-edit" }, h("strong", {}, "Edit: "), parts.join(": "));
}
