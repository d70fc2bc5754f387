// The weigh-out sheet of a formula for the lab bench: a batch mass and a dilution in, grams
// per material in weighing order out (GET /v1/formulas/{id}/weigh-out), printable.

import { ApiError, get, getHtml } from "./api.js";
import { documentFrame } from "./documents.js";
import { alertBox, clearFieldErrors, h, showFieldError } from "./dom.js";
import * as fmt from "./format.js";

let panels = 0;

export function weighOutPanel(formula) {
  const n = ++panels;
  const batch = h("input", { id: `batch-${n}`, name: "batch_g", type: "number", min: "0.001", step: "any", value: "100", inputmode: "decimal" });
  const dilution = h("input", { id: `dilution-${n}`, name: "dilution_percent", type: "number", min: "0.001", max: "100", step: "any", value: String(formula.dosage_percent), inputmode: "decimal" });
  const output = h("div", { class: "weigh-out-output", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "weigh-out-form", novalidate: true },
    h("div", { class: "form-row" },
      h("div", {}, h("label", { for: batch.id }, "Batch of finished product (g)"), batch),
      h("div", {}, h("label", { for: dilution.id }, "Concentrate in product (%)"), dilution),
      h("div", {}, h("button", { type: "submit" }, "Show weigh-out sheet")),
    ),
  );
  const query = () => ({ batch_g: batch.value, dilution_percent: dilution.value });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    output.replaceChildren();
    try {
      const sheet = await get(`/v1/formulas/${formula.id}/weigh-out`, query());
      output.replaceChildren(sheetTable(sheet), h("div", { class: "actions" },
        h("button", {
          type: "button",
          class: "secondary",
          onclick: async () => {
            const html = await getHtml(`/v1/formulas/${formula.id}/weigh-out`, { ...query(), format: "html" });
            output.append(documentFrame(html, "Weigh-out sheet"));
          },
        }, "Printable sheet"),
      ));
    } catch (error) {
      showErrors(error, { batch_g: batch, dilution_percent: dilution }, output);
    }
  });
  return h("details", { class: "weigh-out" }, h("summary", {}, "Weigh-out sheet for the lab"), form, output);
}

function showErrors(error, inputs, output) {
  if (error instanceof ApiError && error.fieldErrors.length) {
    for (const { path, message } of error.fieldErrors) {
      const input = inputs[path[path.length - 1]];
      if (input) showFieldError(input, message);
      else output.append(alertBox(message));
    }
    return;
  }
  output.append(alertBox(error.message));
}

// A material weighed as its stock dilution is named as the dilution, its neat grams beside
// it; the dilutions' solvent counts as part of the batch's, so the solvent added last is less
// by it and the balance still ends on the batch.
function sheetTable(sheet) {
  const brought = (sheet.diluents ?? []).map((diluent) => ` ${fmt.grams(diluent.grams)} of ${diluent.name} comes in with the dilutions.`).join("");
  return h(
    "table",
    { class: "weigh-out-table" },
    h("caption", {},
      `${fmt.grams(sheet.batch_g)} at ${fmt.percent(sheet.dilution_percent)}: ${fmt.grams(sheet.concentrate_g)} of concentrate.${brought} ${sheet.order}`,
      (sheet.notes ?? []).map((note) => h("span", { class: "weigh-out-note" }, note)),
    ),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "number" }, "Step"),
      h("th", { scope: "col" }, "Material (as weighed)"),
      h("th", { scope: "col" }, "Tier"),
      h("th", { scope: "col", class: "number" }, "Grams"),
      h("th", { scope: "col", class: "number" }, "Of which neat"),
      h("th", { scope: "col", class: "number" }, "Running total"),
    )),
    h("tbody", {},
      sheet.lines.map((line) => h("tr", { dataset: { cas: line.cas } },
        h("td", { class: "number" }, String(line.step)),
        h("td", {}, line.weighed_as ?? line.name),
        h("td", {}, line.tier),
        h("td", { class: "number grams" }, fmt.grams(line.grams)),
        h("td", { class: "number neat-grams" }, fmt.grams(line.neat_grams ?? line.grams)),
        h("td", { class: "number" }, fmt.grams(line.running_total_g)),
      )),
      h("tr", { class: "solvent" },
        h("td", {}, ""),
        h("td", {}, sheet.solvent.name),
        h("td", {}, "solvent"),
        h("td", { class: "number" }, fmt.grams(sheet.solvent.grams)),
        h("td", {}, ""),
        h("td", { class: "number" }, fmt.grams(sheet.total_g)),
      ),
    ),
  );
}
