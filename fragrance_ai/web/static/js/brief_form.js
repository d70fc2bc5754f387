// The brief form: text (English or Korean), mode, product and dosage. Submitting posts the
// brief and moves to its page, which follows the job. What the perfumer typed stays in the
// form when the service refuses it, with the reason next to the field.

import { ApiError, post } from "./api.js";
import { alertBox, clearFieldErrors, h, showFieldError } from "./dom.js";
import { MODES, productSelect } from "./products.js";

const EXAMPLE = "fresh citrus cologne for summer with a woody base, no patchouli";

export function briefForm({ text = "", mode = "", product = "", dosage = "", heading = "New brief" } = {}) {
  const textarea = h("textarea", {
    id: "brief-text",
    name: "text",
    rows: 4,
    maxlength: 4000,
    placeholder: EXAMPLE,
    "aria-describedby": "brief-text-hint",
  });
  textarea.value = text;
  const modeSelect = h("select", { id: "brief-mode", name: "mode" },
    MODES.map(([value, label]) => h("option", { value, selected: value === mode }, label)));
  const product_ = productSelect({ id: "brief-product", selected: product, emptyLabel: "As the text says (default EDP)" });
  const dosageInput = h("input", { id: "brief-dosage", name: "dosage_percent", type: "number", min: "0.1", max: "40", step: "any", inputmode: "decimal", value: dosage });
  const messages = h("div", { class: "form-messages" });
  const submit = h("button", { type: "submit" }, "Design options");
  const form = h(
    "form",
    { class: "brief-form", novalidate: true, "aria-labelledby": "brief-form-title" },
    h("h1", { id: "brief-form-title" }, heading),
    h("label", { for: textarea.id }, "Creative brief"),
    h("p", { class: "hint", id: "brief-text-hint" }, "In English or Korean: families, notes or materials, mood, season, product, budget, what to avoid."),
    textarea,
    h("div", { class: "form-row" },
      h("div", {}, h("label", { for: modeSelect.id }, "Mode"), modeSelect),
      h("div", {}, h("label", { for: product_.id }, "Product"), product_),
      h("div", {}, h("label", { for: dosageInput.id }, "Dosage (% concentrate, optional)"), dosageInput),
      h("div", {}, submit),
    ),
    messages,
  );
  const fields = { text: textarea, mode: modeSelect, product: product_, dosage_percent: dosageInput };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    messages.replaceChildren();
    if (!textarea.value.trim()) {
      showFieldError(textarea, "Write the brief first: what should it smell like?");
      textarea.focus();
      return;
    }
    const body = { text: textarea.value };
    if (modeSelect.value) body.mode = modeSelect.value;
    if (product_.value) body.product = product_.value;
    if (dosageInput.value !== "") body.dosage_percent = Number(dosageInput.value);
    submit.disabled = true;
    try {
      const accepted = await post("/v1/briefs", body);
      window.location.hash = `#/briefs/${accepted.brief_id}?job=${accepted.job_id}`;
    } catch (error) {
      submit.disabled = false;
      showApiErrors(error, fields, messages);
    }
  });
  return form;
}

// 422s next to the field they name (`within`: the request's sub-object the fields belong
// to); anything else after the form's buttons.
export function showApiErrors(error, fields, messages, { within = null } = {}) {
  if (error instanceof ApiError && error.fieldErrors.length) {
    let first = null;
    for (const { path: fullPath, message } of error.fieldErrors) {
      const path = within && fullPath[0] === within ? fullPath.slice(1) : fullPath;
      const input = fields[path[0]];
      if (input) {
        showFieldError(input, message);
        first ??= input;
      } else messages.append(alertBox(`${path.join(".")}: ${message}`));
    }
    first?.focus();
    return;
  }
  messages.append(alertBox(error.message));
}
