// One formula as a card: verdict, cost, pyramid chart, lines by tier, allergens to declare,
// the rationale and the search's objective scores. Used for a brief's options, for
// variations, and (without the actions) for a checked formula.

import { h, svg } from "./dom.js";
import * as fmt from "./format.js";

export const TIERS = ["top", "heart", "base"];
const TIER_LABELS = { top: "Top", heart: "Heart", base: "Base" };
const VERDICT_LABELS = {
  compliant: "Compliant",
  not_compliant: "Not compliant",
  cannot_certify: "Cannot certify",
};

export function verdictBadge(compliance) {
  const verdict = compliance?.verdict ?? "cannot_certify";
  return h("span", { class: `verdict verdict-${verdict}`, dataset: { verdict } }, VERDICT_LABELS[verdict] ?? verdict);
}

// A horizontal stacked bar of the tiers' shares, labelled for screen readers.
export function pyramidChart(pyramid) {
  const width = 240;
  const height = 28;
  const label = TIERS.map((tier) => `${TIER_LABELS[tier]} ${fmt.percent(pyramid[tier] ?? 0)}`).join(", ");
  const chart = svg("svg", {
    class: "pyramid-chart",
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Pyramid: ${label}`,
  });
  let x = 0;
  for (const tier of TIERS) {
    const share = (pyramid[tier] ?? 0) / 100;
    const w = share * width;
    if (w <= 0) continue;
    chart.append(
      svg("rect", { x, y: 0, width: w, height, class: `tier-${tier}` }, svg("title", { text: `${TIER_LABELS[tier]}: ${fmt.percent(pyramid[tier])}` })),
    );
    if (w > 34) {
      chart.append(svg("text", { x: x + w / 2, y: height / 2 + 4, "text-anchor": "middle", class: "tier-label", text: `${TIER_LABELS[tier]} ${Math.round(pyramid[tier])}%` }));
    }
    x += w;
  }
  return chart;
}

// A line as a perfumer reads it: the material with its odour in a few words, its share neat
// in percent and per mille, and how it is weighed: a powerful material as its stock
// dilution ("10 % in DPG: 2.00 %"), which holds the neat share.
function weighedAs(line) {
  if (!line.diluent) return h("span", { class: "neat" }, "neat");
  return `${line.working_dilution_percent} % in ${line.diluent}: ${fmt.percent(line.percent_as_weighed)}`;
}

function materialCell(line) {
  const descriptors = line.descriptors ?? [];
  return h(
    "td",
    { class: "material" },
    h("span", { class: "material-name" }, line.name),
    descriptors.length ? h("span", { class: "descriptors" }, descriptors.join(", ")) : null,
  );
}

const LINE_COLUMNS = 5;

export function linesTable(lines, { caption = "Lines of the concentrate", highlight = new Set() } = {}) {
  const body = [];
  for (const tier of TIERS) {
    const inTier = lines.filter((line) => line.tier === tier).sort((a, b) => b.percent - a.percent);
    if (!inTier.length) continue;
    body.push(h("tr", { class: "tier-row" }, h("th", { colspan: LINE_COLUMNS, scope: "rowgroup" }, TIER_LABELS[tier])));
    for (const line of inTier) {
      body.push(
        h(
          "tr",
          { class: highlight.has(line.cas) ? "highlight" : null, dataset: { cas: line.cas } },
          materialCell(line),
          h("td", { class: "cas" }, line.cas),
          h("td", { class: "number percent" }, fmt.percent(line.percent)),
          h("td", { class: "number per-mille" }, fmt.perMille(line.per_mille ?? line.percent * 10)),
          h("td", { class: "weighed-as" }, weighedAs(line)),
        ),
      );
    }
  }
  return h(
    "table",
    { class: "lines" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Material"),
      h("th", { scope: "col" }, "CAS"),
      h("th", { scope: "col", class: "number" }, "% conc."),
      h("th", { scope: "col", class: "number" }, h("abbr", { title: "parts per thousand of the concentrate" }, "‰")),
      h("th", { scope: "col" }, "Weighed as"),
    )),
    h("tbody", {}, body),
  );
}

export function complianceDetails(compliance) {
  const reasons = compliance?.reasons ?? [];
  const allergens = (compliance?.allergens ?? []).filter((line) => line.declare);
  // Rules adopted but not yet binding that the formula would break, and the grades its
  // materials must be (IFRA specifications, EU conditions): the verdict holds only with them.
  const upcoming = compliance?.upcoming_violations ?? [];
  const conditions = compliance?.conditions ?? [];
  return [
    reasons.length
      ? h("ul", { class: "reasons" }, reasons.map((reason) => h("li", {}, reason)))
      : null,
    upcoming.length
      ? h(
          "ul",
          { class: "upcoming" },
          upcoming.map((v) =>
            h(
              "li",
              {},
              `From ${v.rule}: ${v.substance} at ${fmt.percent(v.level_percent_in_product)} of the product would be over its ${fmt.percent(v.limit_percent_in_product)} limit.`,
            ),
          ),
        )
      : null,
    conditions.length
      ? h("ul", { class: "conditions" }, conditions.map((condition) => h("li", {}, condition)))
      : null,
    h(
      "p",
      { class: "allergens" },
      h("strong", {}, "Allergens to declare: "),
      allergens.length
        ? allergens.map((line) => `${line.inci || line.substance} (${fmt.percent(line.level_percent_in_product)} in product)`).join(", ")
        : compliance?.allergen_label_threshold_percent === null
          ? "not a cosmetic: no EU label"
          : "none above the label threshold",
    ),
  ];
}

const SCORE_LABELS = {
  brief_fit: "Brief fit",
  pyramid_balance: "Pyramid balance",
  novelty: "Novelty",
  cost_per_kg_eur: "Cost score",
};

export function scoresList(scores) {
  if (!scores) return null;
  return h(
    "dl",
    { class: "scores" },
    Object.entries(scores)
      .filter(([name]) => name !== "cost_per_kg_eur")
      .map(([name, value]) => [h("dt", {}, SCORE_LABELS[name] ?? name), h("dd", {}, fmt.score(value))]),
  );
}

// `formula` is a FormulaView (GET /v1/formulas/{id}); `title` heads the card; `actions`
// are elements appended at the bottom (buttons the page wires).
export function formulaCard(formula, { title, actions = [], extra = [] } = {}) {
  const headingId = `card-${formula.id}`;
  return h(
    "article",
    { class: "formula-card", "aria-labelledby": headingId, dataset: { formulaId: formula.id } },
    h("header", {},
      h("h3", { id: headingId }, title ?? `Formula ${fmt.shortId(formula.id)}`),
      verdictBadge(formula.compliance),
    ),
    h("p", { class: "facts" },
      h("span", { class: "cost" }, `${fmt.eur(formula.cost_per_kg_eur)} / kg`),
      " · ",
      `${formula.product} at ${fmt.percent(formula.dosage_percent)}`,
      " · ",
      `${formula.lines.length} materials`,
    ),
    pyramidChart(formula.pyramid),
    complianceDetails(formula.compliance),
    scoresList(formula.scores),
    formula.rationale?.length
      ? h("details", { class: "rationale" }, h("summary", {}, "Why this option"), h("ul", {}, formula.rationale.map((line) => h("li", {}, line))))
      : null,
    h("details", { class: "lines-details", open: true }, h("summary", {}, "Lines"), linesTable(formula.lines)),
    extra,
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}
