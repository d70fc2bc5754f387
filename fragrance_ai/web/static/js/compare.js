// Two formulas line by line: what one has that the other lacks, and what changed amount.

import { h } from "./dom.js";
import * as fmt from "./format.js";

// Rows by material (CAS): {name, cas, tier, a, b, change} with a/b null where absent.
export function diffFormulas(a, b) {
  const rows = new Map();
  for (const line of a.lines) rows.set(line.cas, { name: line.name, cas: line.cas, tier: line.tier, a: line.percent, b: null });
  for (const line of b.lines) {
    const row = rows.get(line.cas) ?? { name: line.name, cas: line.cas, tier: line.tier, a: null };
    row.b = line.percent;
    rows.set(line.cas, row);
  }
  const order = { base: 0, heart: 1, top: 2 };
  return [...rows.values()]
    .map((row) => ({
      ...row,
      change: row.a === null ? "added" : row.b === null ? "removed" : Math.abs(row.a - row.b) >= 0.0005 ? "changed" : "same",
    }))
    .sort((x, y) => order[x.tier] - order[y.tier] || Math.max(y.a ?? 0, y.b ?? 0) - Math.max(x.a ?? 0, x.b ?? 0));
}

const CHANGE_WORDS = { added: "only in B", removed: "only in A", changed: "changed", same: "" };

export function comparisonTable(a, b, labelA, labelB) {
  const rows = diffFormulas(a, b);
  const differing = rows.filter((row) => row.change !== "same").length;
  return h(
    "section",
    { class: "comparison", "aria-labelledby": "comparison-title" },
    h("h2", { id: "comparison-title" }, `${labelA} and ${labelB}: ${differing} of ${rows.length} lines differ`),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Material"),
        h("th", { scope: "col" }, "Tier"),
        h("th", { scope: "col", class: "number" }, `A: ${labelA}`),
        h("th", { scope: "col", class: "number" }, `B: ${labelB}`),
        h("th", { scope: "col", class: "number" }, "B − A"),
        h("th", { scope: "col" }, "Difference"),
      )),
      h("tbody", {}, rows.map((row) =>
        h("tr", { class: row.change, dataset: { change: row.change } },
          h("td", {}, row.name),
          h("td", {}, row.tier),
          h("td", { class: "number" }, row.a === null ? "—" : fmt.percent(row.a)),
          h("td", { class: "number" }, row.b === null ? "—" : fmt.percent(row.b)),
          h("td", { class: "number" }, fmt.percent((row.b ?? 0) - (row.a ?? 0))),
          h("td", {}, CHANGE_WORDS[row.change]),
        ),
      )),
    ),
  );
}
