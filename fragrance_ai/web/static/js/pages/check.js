// "Check my formula": the perfumer pastes or loads a formula (one "name or CAS, percent" a
// line), picks the product and optionally the dosage, and the page shows what
// POST /v1/formulas/check answers: the verdict and why, the limiting substances, what is
// under review, the allergens, cost, pyramid, lines and the nearest compliant formula. The
// IFRA certificate and the allergen declaration open in a sandboxed frame to print.
//
// Every error goes next to the field it belongs to, a pasted line by its line number, and
// what the perfumer typed is never cleared.

import { get, post, postHtml } from "../api.js";
import { alertBox, announce, clear, clearFieldErrors, h, showFieldError } from "../dom.js";
import * as fmt from "../format.js";
import { complianceDetails, linesTable, pyramidChart, verdictBadge } from "../formula_card.js";
import { printableFrame } from "../documents.js";
import { PRODUCTS } from "../products.js";
import { addsUpTo100, closestNames, formatTotal, parseFormulaText, requestLines } from "../formula_text.js";

const PRODUCT_LABELS = Object.fromEntries(PRODUCTS);

const DOCUMENTS = {
  certificate: { path: "/v1/formulas/check/ifra-certificate", title: "IFRA certificate" },
  declaration: { path: "/v1/formulas/check/allergen-declaration", title: "Allergen declaration" },
};

const EXAMPLE = "material, percent\nBergamot oil, 12\nHedione, 25\n78-70-6, 9\n# …";

// The draft survives a visit to another page and a reload of this tab (session storage).
const DRAFT_STORAGE = "fragrance-ai.check-draft";

function loadDraft() {
  try {
    return { text: "", product: "EDP", dosage: "", title: "", ...JSON.parse(sessionStorage.getItem(DRAFT_STORAGE) ?? "{}") };
  } catch {
    return { text: "", product: "EDP", dosage: "", title: "" };
  }
}

function saveDraft(draft) {
  try {
    sessionStorage.setItem(DRAFT_STORAGE, JSON.stringify(draft));
  } catch {
    // Storage full or refused: the form still holds the text.
  }
}

export async function render(view, { isCurrent }) {
  const draft = loadDraft();
  const ids = { hint: "formula-hint", total: "formula-total", dosageHint: "dosage-hint" };

  const text = h("textarea", {
    id: "formula-text",
    name: "formula",
    rows: 14,
    spellcheck: "false",
    autocomplete: "off",
    placeholder: EXAMPLE,
  });
  text.value = draft.text;
  const total = h("p", { id: ids.total, class: "formula-total" });
  const file = h("input", { id: "formula-file", name: "file", type: "file", accept: ".csv,.tsv,.txt,text/csv,text/plain,text/tab-separated-values" });
  const product = h(
    "select",
    { id: "check-product", name: "product" },
    PRODUCTS.map(([value, label]) => h("option", { value }, `${value} — ${label}`)),
  );
  product.value = PRODUCT_LABELS[draft.product] ? draft.product : "EDP";
  const dosage = h("input", { id: "check-dosage", name: "dosage", type: "text", inputmode: "decimal", autocomplete: "off", size: 8 });
  dosage.value = draft.dosage;
  const title = h("input", { id: "check-title", name: "title", type: "text", maxlength: 200, autocomplete: "off" });
  title.value = draft.title;
  const submit = h("button", { type: "submit" }, "Check");
  const formAlert = h("div", { class: "form-alert" });
  const result = h("div", { class: "check-result-slot" });

  // Hints stay described after an error is cleared (clearFieldErrors drops the attribute).
  const hints = new Map([
    [text, `${ids.hint} ${ids.total}`],
    [dosage, ids.dosageHint],
  ]);
  const describe = () => {
    for (const [input, described] of hints) {
      if (input.getAttribute("aria-invalid") !== "true") input.setAttribute("aria-describedby", described);
    }
  };
  const fieldError = (input, message) => {
    showFieldError(input, message);
    const described = hints.get(input);
    if (described) input.setAttribute("aria-describedby", `${input.errorElement.id} ${described}`);
  };
  const clearErrors = () => {
    clearFieldErrors(form);
    clear(formAlert);
    describe();
  };

  let lastResult = null;
  const onEdit = () => {
    saveDraft({ text: text.value, product: product.value, dosage: dosage.value, title: title.value });
    showTotal(total, text.value);
    if (lastResult) lastResult.classList.add("stale");
  };
  for (const input of [text, product, dosage, title]) input.addEventListener("input", onEdit);

  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    clearErrors();
    if (chosen.size > 1_000_000) {
      fieldError(file, `${chosen.name} is ${Math.round(chosen.size / 1000)} kB; a formula file is at most 1 MB.`);
      return;
    }
    let content;
    try {
      content = await chosen.text();
    } catch {
      fieldError(file, `${chosen.name} could not be read.`);
      return;
    }
    if (!isCurrent()) return;
    text.value = content;
    onEdit();
    announce(`Loaded ${chosen.name} into the formula.`);
    text.focus();
  });

  const form = h(
    "form",
    { class: "check-form no-print", novalidate: true, "aria-labelledby": "check-heading" },
    h("div", { class: "check-formula" },
      h("label", { for: text.id }, "Formula"),
      h("p", { id: ids.hint, class: "hint" },
        "One material a line: its name or CAS number, then its percent of the concentrate, separated by a comma, ';' or a tab (12,5 is read as 12.5 with ';' or a tab). A header row, blank lines and # comments are fine."),
      text,
      total,
      h("label", { for: file.id }, "Or load a CSV file"),
      file,
    ),
    h("div", { class: "check-options" },
      h("label", { for: product.id }, "Product"),
      product,
      h("label", { for: dosage.id }, "Dosage (% concentrate in the product)"),
      dosage,
      h("p", { id: ids.dosageHint, class: "hint" }, "Leave empty for the product's usual dosage."),
      h("label", { for: title.id }, "Formula name (optional, printed on the documents)"),
      title,
      h("div", { class: "actions" }, submit),
    ),
    formAlert,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const parsed = parseFormulaText(text.value);
    const dosageValue = parseDosage(dosage.value);
    let invalid = false;
    if (!parsed.lines.length && !parsed.errors.length) {
      fieldError(text, "The formula is empty: paste or load one, one material a line, 'name or CAS, percent'.");
      invalid = true;
    } else if (parsed.errors.length) {
      fieldError(text, parsed.errors.map((error) => error.message).join("\n"));
      invalid = true;
    }
    if (dosageValue === false) {
      fieldError(dosage, `'${dosage.value.trim()}' is not a number: give the percent of concentrate, such as 18, or leave it empty.`);
      invalid = true;
    }
    if (invalid) {
      form.querySelector("[aria-invalid='true']")?.focus();
      announce("The formula was not checked: see the messages next to the fields.");
      return;
    }
    const body = { lines: requestLines(parsed.lines), product: product.value, repair: true };
    if (dosageValue !== null) body.dosage_percent = dosageValue;
    if (title.value.trim()) body.title = title.value.trim();

    submit.disabled = true;
    submit.textContent = "Checking…";
    let answer;
    try {
      answer = await post("/v1/formulas/check", body);
    } catch (error) {
      if (!isCurrent()) return;
      showApiError(error, parsed, { form, formAlert, text, product, dosage, title, fieldError });
      form.querySelector("[aria-invalid='true']")?.focus();
      announce("The formula was not checked: see the messages next to the fields.");
      return;
    } finally {
      submit.disabled = false;
      submit.textContent = "Check";
    }
    if (!isCurrent()) return;
    lastResult = resultSection(answer, body, { isCurrent });
    result.replaceChildren(lastResult);
    announce(`Checked: ${verdictWords(answer.compliance.verdict)}.`);
    const unknown = unknownLines(answer, parsed);
    if (unknown.length) {
      const names = await catalogueNames();
      if (!isCurrent()) return;
      fieldError(text, unknown.map((line) => unknownMessage(line, names)).join("\n"));
    }
  });

  view.append(
    h("div", { class: "check-page" },
      h("h1", { id: "check-heading" }, "Check my formula"),
      form,
      result,
    ),
  );
  showTotal(total, text.value);
  describe();
}

function showTotal(element, text) {
  const { lines, total } = parseFormulaText(text);
  element.classList.toggle("off", lines.length > 0 && !addsUpTo100(total));
  if (!lines.length) {
    element.textContent = "Total: —";
    return;
  }
  element.textContent = addsUpTo100(total)
    ? `Total: ${formatTotal(total)}`
    : `Total: ${formatTotal(total)} (must be 100 %)`;
}

// null when empty (the product's usual dosage), false when not a number.
function parseDosage(value) {
  const figure = value.trim().replace(/\s*%$/, "").replace(/^(\d*),(\d+)$/, "$1.$2");
  if (!figure) return null;
  return /^(\d+(\.\d*)?|\.\d+)$/.test(figure) ? Number(figure) : false;
}

function cleanMessage(message) {
  return String(message).replace(/^Value error, /, "");
}

// A 422 names its fields; a pasted line by the index the page sent it at.
function showApiError(error, parsed, { formAlert, text, product, dosage, title, fieldError }) {
  const fields = error.status === 422 ? error.fieldErrors : [];
  if (!fields.length) {
    formAlert.replaceChildren(alertBox(error.message));
    return;
  }
  const messages = new Map();
  const add = (input, message) => messages.set(input, [...(messages.get(input) ?? []), message]);
  const other = [];
  for (const { path, message } of fields) {
    const said = cleanMessage(message);
    if (path[0] === "lines" && typeof path[1] === "number") {
      const line = parsed.lines[path[1]];
      add(text, line ? `line ${line.lineNumber}: ${said}` : said);
    } else if (path[0] === "lines") add(text, said);
    else if (path[0] === "dosage_percent") add(dosage, said);
    else if (path[0] === "product") add(product, said);
    else if (path[0] === "title") add(title, said);
    else other.push(`${path.join(".")}: ${said}`);
  }
  for (const [input, list] of messages) fieldError(input, list.join("\n"));
  if (other.length) formAlert.replaceChildren(alertBox(other.join("; ")));
}

// Lines the catalogue does not know: the API checks the rest and cannot certify these.
function unknownLines(answer, parsed) {
  const unknown = new Set(answer.compliance.unknown_materials ?? []);
  return answer.lines
    .map((line, index) => ({ line, source: parsed.lines[index] }))
    .filter(({ line, source }) => source && unknown.has(`${line.name} (${line.cas})`))
    .map(({ source }) => source);
}

function unknownMessage(source, names) {
  const what = source.name !== undefined
    ? `no material named '${source.name}' in the catalogue`
    : `no material with CAS ${source.cas} in the catalogue`;
  const close = source.name !== undefined && names ? closestNames(source.name, names) : [];
  const suggestion = close.length ? ` Did you mean ${close.map((name) => `'${name}'`).join(" or ")}?` : "";
  return `line ${source.lineNumber}: ${what}.${suggestion} The other lines were checked; the formula cannot be certified until this one is known.`;
}

let namesPromise = null;

// Every catalogue name and synonym, fetched once, for "did you mean"; null if unavailable.
function catalogueNames() {
  namesPromise ??= get("/v1/ingredients", { view: "summary" })
    .then((items) => items.flatMap((item) => [item.name, ...item.synonyms].map((match) => ({ name: item.name, match }))))
    .catch(() => {
      namesPromise = null;
      return null;
    });
  return namesPromise;
}

function verdictWords(verdict) {
  return { compliant: "compliant", not_compliant: "not compliant", cannot_certify: "cannot be certified" }[verdict] ?? verdict;
}

function resultSection(answer, body, { isCurrent }) {
  const compliance = answer.compliance;
  const limiting = new Set(compliance.violations.flatMap((violation) => violation.materials));
  const highlight = new Set(answer.lines.filter((line) => limiting.has(line.name)).map((line) => line.cas));
  const viewer = h("div", { class: "document-slot" });
  const documentButtons = Object.entries(DOCUMENTS).map(([kind, { title }]) =>
    h("button", { type: "button", class: "secondary", dataset: { document: kind } }, title),
  );
  for (const button of documentButtons) {
    button.addEventListener("click", () => openDocument(button, viewer, body, { isCurrent }));
  }
  return h(
    "section",
    { class: "check-result print-area", "aria-labelledby": "result-heading" },
    h("header", { class: "result-header" },
      h("h2", { id: "result-heading" }, "Result"),
      verdictBadge(compliance),
    ),
    h("p", { class: "stale-note", role: "note" }, "The formula has changed since this check: click Check again."),
    h("p", { class: "facts" },
      `${answer.product} (${PRODUCT_LABELS[answer.product] ?? answer.product}), IFRA category ${answer.ifra_category}, `,
      `${fmt.percent(answer.dosage_percent)} concentrate`,
      body.dosage_percent === undefined ? " (the product's usual dosage)" : "",
      " · ",
      h("span", { class: "cost" }, `${fmt.eur(answer.cost_per_kg_eur)} / kg of concentrate`),
      compliance.unknown_materials.length ? " (materials outside the catalogue have no price)" : "",
      " · ",
      `${answer.lines.length} materials`,
    ),
    complianceDetails(compliance),
    compliance.notes.length
      ? h("details", { class: "notes" }, h("summary", {}, "Notes on this check"), h("ul", {}, compliance.notes.map((note) => h("li", {}, note))))
      : null,
    h("div", { class: "actions" }, documentButtons),
    viewer,
    h("h3", {}, "Limiting substances"),
    violationsTable(compliance.violations),
    compliance.review.length ? [h("h3", {}, "Under review"), reviewTable(compliance.review)] : null,
    h("h3", {}, "Allergens"),
    allergensTable(compliance),
    h("div", { class: "result-columns" },
      h("div", {},
        h("h3", {}, "Pyramid"),
        pyramidChart(answer.pyramid),
        h("h3", {}, "Lines"),
        linesTable(answer.lines, { caption: "Lines of the checked formula", highlight }),
        highlight.size ? h("p", { class: "hint" }, "Highlighted: materials behind a limiting substance.") : null,
      ),
      h("div", {}, repairSection(answer.repair, answer.lines)),
    ),
  );
}

function violationsTable(violations) {
  if (!violations.length) return h("p", { class: "none" }, "None: no substance is over its limit.");
  return h(
    "table",
    { class: "violations" },
    h("caption", { class: "visually-hidden" }, "Substances over their limit"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Substance"),
      h("th", { scope: "col", class: "number" }, "In product"),
      h("th", { scope: "col", class: "number" }, "Limit"),
      h("th", { scope: "col" }, "Rule and source"),
      h("th", { scope: "col" }, "From"),
    )),
    h("tbody", {}, violations.map((violation) => {
      // IFRA's additive rule for phototoxic materials is the one violation without a CAS:
      // its figures are a sum of level / limit (at most 1), not percentages.
      const figure = violation.cas ? fmt.percent : (value) => fmt.score(value).replace(/0+$/, "").replace(/\.$/, "");
      return h("tr", { dataset: { cas: violation.cas } },
        h("td", {}, violation.substance, violation.cas ? [h("br"), h("span", { class: "cas" }, violation.cas)] : null),
        h("td", { class: "number over" }, figure(violation.level_percent_in_product)),
        h("td", { class: "number" }, figure(violation.limit_percent_in_product),
          violation.limit_uncertain ? [h("br"), h("span", { class: "flag" }, "uncertain")] : null),
        h("td", {}, violation.rule, h("details", { class: "source" }, h("summary", {}, "Source"), violation.limit_source)),
        h("td", {}, h("ul", { class: "plain" }, violation.contributions.map((part) =>
          h("li", {}, `${part.material}: ${figure(part.level_percent_in_product)}`)))),
      );
    })),
  );
}

function reviewTable(review) {
  return h(
    "table",
    { class: "review" },
    h("caption", { class: "visually-hidden" }, "Substances a person must review"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Substance"),
      h("th", { scope: "col", class: "number" }, "In product"),
      h("th", { scope: "col" }, "Why"),
      h("th", { scope: "col" }, "From"),
    )),
    h("tbody", {}, review.map((item) =>
      h("tr", {},
        h("td", {}, item.substance, h("br"), h("span", { class: "cas" }, item.cas)),
        h("td", { class: "number" }, fmt.percent(item.level_percent_in_product)),
        h("td", {}, item.reason),
        h("td", {}, item.materials.join(", ")),
      ),
    )),
  );
}

function allergensTable(compliance) {
  const threshold = compliance.allergen_label_threshold_percent;
  const intro = threshold === null
    ? "Not a cosmetic: no EU allergen label; the allergens are listed for the safety data sheet."
    : `EU label threshold for this product: ${fmt.percent(threshold)} of the product.`;
  if (!compliance.allergens.length) return [h("p", { class: "hint" }, intro), h("p", { class: "none" }, "No EU allergen in this formula.")];
  return [
    h("p", { class: "hint" }, intro),
    h(
      "table",
      { class: "allergens-table" },
      h("caption", { class: "visually-hidden" }, "EU allergens in the formula"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "INCI name"),
        h("th", { scope: "col" }, "CAS"),
        h("th", { scope: "col", class: "number" }, "In product"),
        h("th", { scope: "col" }, "Declare"),
        h("th", { scope: "col" }, "From"),
      )),
      h("tbody", {}, compliance.allergens.map((line) =>
        h("tr", {},
          h("td", {}, line.inci || line.substance,
            line.added_2023 ? [" ", h("span", { class: "flag" }, "added 2023")] : null,
            line.entry_uncertain ? [" ", h("span", { class: "flag" }, "entry uncertain")] : null),
          h("td", { class: "cas" }, line.cas),
          h("td", { class: "number" }, fmt.percent(line.level_percent_in_product)),
          h("td", { class: line.declare ? "declare" : "" }, threshold === null ? "—" : line.declare ? "Yes" : "No"),
          h("td", {}, line.materials.join(", ")),
        ),
      )),
    ),
  ];
}

function repairSection(repair, lines) {
  if (!repair) return null;
  const heading = h("h3", {}, "Repair proposal");
  if (!repair.feasible) {
    return h("section", { class: "repair infeasible", "aria-label": "Repair proposal" },
      heading,
      h("p", {}, h("strong", {}, "No compliant formula found "), "by moving amounts between these materials."),
      h("ul", { class: "reasons" }, repair.reasons.map((reason) => h("li", {}, reason))),
    );
  }
  if (!repair.changes.length) {
    return h("section", { class: "repair", "aria-label": "Repair proposal" }, heading, h("p", {}, "Nothing to repair."));
  }
  const tier = Object.fromEntries(lines.map((line) => [line.cas, line.tier]));
  return h(
    "section",
    { class: "repair feasible", "aria-label": "Repair proposal" },
    h("header", { class: "result-header" }, heading, verdictBadge(repair.compliance)),
    h("p", {}, `The nearest compliant formula moves ${fmt.percent(repair.moved_percent)} of the concentrate`,
      repair.cost_per_kg_eur !== null ? `, at ${fmt.eur(repair.cost_per_kg_eur)} / kg.` : "."),
    h("ul", { class: "reasons" }, repair.reasons.map((reason) => h("li", {}, reason))),
    h(
      "table",
      { class: "changes" },
      h("caption", { class: "visually-hidden" }, "Changes of the repair"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Material"),
        h("th", { scope: "col", class: "number" }, "Before"),
        h("th", { scope: "col", class: "number" }, "After"),
      )),
      h("tbody", {}, repair.changes.map((change) =>
        h("tr", { class: change.after_percent < change.before_percent ? "lowered" : "raised" },
          h("td", {}, change.name, h("span", { class: "visually-hidden" }, ` (${tier[change.cas] ?? change.tier})`)),
          h("td", { class: "number" }, fmt.percent(change.before_percent)),
          h("td", { class: "number" }, h("span", { "aria-hidden": "true" }, "→ "), fmt.percent(change.after_percent)),
        ),
      )),
    ),
    repair.pyramid ? pyramidChart(repair.pyramid) : null,
    repair.lines
      ? h("details", { class: "lines-details" }, h("summary", {}, "The repaired formula"), linesTable(repair.lines, { caption: "Lines of the repaired formula" }))
      : null,
  );
}

async function openDocument(button, viewer, body, { isCurrent }) {
  const { path, title } = DOCUMENTS[button.dataset.document];
  button.disabled = true;
  let html;
  try {
    html = await postHtml(path, body, { format: "html" });
  } catch (error) {
    if (isCurrent()) viewer.replaceChildren(alertBox(error.message));
    return;
  } finally {
    button.disabled = false;
  }
  if (!isCurrent()) return;
  const frame = printableFrame(html, title);
  const heading = h("h3", { tabindex: "-1" }, title);
  const print = h("button", { type: "button" }, "Print");
  print.addEventListener("click", () => frame.contentWindow?.print());
  const close = h("button", { type: "button", class: "secondary" }, "Close");
  close.addEventListener("click", () => {
    viewer.replaceChildren();
    button.focus();
  });
  viewer.replaceChildren(
    h("section", { class: "document-viewer", "aria-label": title }, heading, h("div", { class: "actions" }, print, close), frame),
  );
  heading.focus();
}
