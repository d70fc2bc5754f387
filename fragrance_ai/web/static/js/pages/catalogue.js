// The ingredient catalogue: search by name, synonym, CAS, family or descriptor (the API's
// `q` matches all of them), narrowed by tier and family; and one material's page with its
// constituents and every rule that applies to it, each figure with its source.

import { get } from "../api.js";
import { alertBox, h } from "../dom.js";
import * as fmt from "../format.js";

const TIERS = ["top", "heart", "base"];
// EuScope (fragrance_ai/domain/catalogue.py): which cosmetics an EU entry covers.
const EU_SCOPES = {
  all: "all products",
  leave_on: "leave-on products",
  rinse_off: "rinse-off products",
  fine_fragrance: "fine fragrance",
  eau_de_toilette: "eau de toilette and cologne",
};
const DEBOUNCE_MS = 250;

// IFRA's product categories (CATEGORY_LABELS in fragrance_ai/domain/certificate.py).
const IFRA_CATEGORIES = {
  1: "Lip products",
  2: "Deodorants and antiperspirants (axillae)",
  3: "Products applied to the face or body with the fingertips",
  4: "Fine fragrance",
  "5A": "Body lotion",
  "5B": "Face moisturiser",
  "5C": "Hand cream",
  "5D": "Baby creams, oils and talc",
  6: "Products with oral and lip exposure",
  "7A": "Rinse-off hair products",
  "7B": "Leave-on hair products",
  8: "Products with significant anogenital exposure",
  9: "Rinse-off body products (soap, shower gel, shampoo)",
  "10A": "Household care, not sprayed",
  "10B": "Household aerosols and sprays",
  "11A": "Inert substrate, skin contact, no UV exposure",
  "11B": "Inert substrate, skin contact, possible UV exposure",
  12: "No skin contact (candles, diffusers, air fresheners)",
};

export async function render(view, params) {
  if (params.cas) return renderMaterial(view, params);
  return renderSearch(view, params);
}

// ---- the search -------------------------------------------------------------------------

async function renderSearch(view, { isCurrent }) {
  // The last search lives in this history entry's state: back from a material returns to it.
  const saved = window.history.state?.catalogueSearch ?? { q: "", tier: "", family: "" };
  const query = h("input", { id: "catalogue-q", type: "search", name: "q", autocomplete: "off", maxlength: 100, "aria-describedby": "catalogue-q-hint" });
  query.value = saved.q;
  const tier = h("select", { id: "catalogue-tier", name: "tier" },
    h("option", { value: "" }, "Any tier"),
    TIERS.map((value) => h("option", { value }, value)));
  tier.value = saved.tier;
  const family = h("select", { id: "catalogue-family", name: "family" }, h("option", { value: "" }, "Any family"));
  const count = h("p", { class: "result-count", role: "status" });
  const results = h("div", { class: "catalogue-results" }, h("p", { class: "hint" }, "Loading the catalogue…"));

  const form = h(
    "form",
    { class: "catalogue-search toolbar", role: "search", "aria-label": "Find materials" },
    h("div", { class: "search-field" },
      h("label", { for: query.id }, "Search"),
      query,
      h("p", { id: "catalogue-q-hint", class: "hint" }, "Name, synonym, CAS, family or descriptor, such as bergamot, 78-70-6 or powdery."),
    ),
    h("div", {}, h("label", { for: tier.id }, "Tier"), tier),
    h("div", {}, h("label", { for: family.id }, "Family"), family),
  );
  view.append(h("div", { class: "catalogue-page" }, h("h1", {}, "Catalogue"), form, count, results));

  let timer = null;
  let sequence = 0;
  const wanted = () => ({ q: query.value.trim(), tier: tier.value, family: family.value });
  const remember = () => {
    window.history.replaceState({ ...window.history.state, catalogueSearch: wanted() }, "");
  };
  const search = async () => {
    const asked = wanted();
    const mine = ++sequence;
    results.setAttribute("aria-busy", "true");
    let items;
    try {
      items = await get("/v1/ingredients", { ...asked, view: "summary" });
    } catch (error) {
      if (!isCurrent() || mine !== sequence) return;
      results.removeAttribute("aria-busy");
      if (error.status === 422) {
        // The API names the query parameter (too long a text, an unknown tier).
        results.replaceChildren(alertBox(error.fieldErrors.map((field) => field.message).join("; ") || error.message));
        count.textContent = "";
        return;
      }
      results.replaceChildren(alertBox(error.message));
      count.textContent = "";
      return;
    }
    if (!isCurrent() || mine !== sequence) return;
    results.removeAttribute("aria-busy");
    showResults(results, count, items, asked);
  };
  const soon = () => {
    remember();
    clearTimeout(timer);
    timer = setTimeout(search, DEBOUNCE_MS);
  };
  const now = () => {
    remember();
    clearTimeout(timer);
    search();
  };
  query.addEventListener("input", soon);
  tier.addEventListener("change", now);
  family.addEventListener("change", now);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    now();
  });

  // Families come from the whole catalogue (the API has no list of them).
  let everything;
  try {
    everything = await get("/v1/ingredients", { view: "summary" });
  } catch (error) {
    if (!isCurrent()) return;
    results.replaceChildren(alertBox(error.message));
    return;
  }
  if (!isCurrent()) return;
  const families = [...new Set(everything.flatMap((item) => item.families))].sort();
  family.append(...families.map((value) => h("option", { value }, value)));
  family.value = families.includes(saved.family) ? saved.family : "";
  // A search typed while the catalogue loaded has its own answer coming.
  if (timer !== null || sequence > 0) return;
  if (saved.q || saved.tier || saved.family) await search();
  else showResults(results, count, everything, { q: "", tier: "", family: "" });
}

function showResults(results, count, items, wanted) {
  const sorted = [...items].sort((a, b) => a.name.localeCompare(b.name));
  const narrowed = [wanted.q && `“${wanted.q}”`, wanted.tier && `${wanted.tier} tier`, wanted.family && `family ${wanted.family}`].filter(Boolean);
  count.textContent = `${sorted.length} ${sorted.length === 1 ? "material" : "materials"}${narrowed.length ? ` for ${narrowed.join(", ")}` : ""}.`;
  if (!sorted.length) {
    results.replaceChildren(h("p", {}, "No material matches. Try part of the name, a CAS number, a family (woody) or a descriptor (powdery)."));
    return;
  }
  results.replaceChildren(
    h(
      "table",
      { class: "catalogue-table" },
      h("caption", { class: "visually-hidden" }, "Materials found"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Material"),
        h("th", { scope: "col" }, "CAS"),
        h("th", { scope: "col" }, "Tier"),
        h("th", { scope: "col" }, "Families"),
        h("th", { scope: "col" }, "Descriptors"),
        h("th", { scope: "col", class: "number" }, "Price / kg"),
      )),
      h("tbody", {}, sorted.map((item) =>
        h("tr", {},
          h("td", {}, h("a", { href: `#/catalogue/${encodeURIComponent(item.cas)}` }, item.name)),
          h("td", { class: "cas" }, item.cas),
          h("td", {}, item.tier),
          h("td", {}, item.families.join(", ")),
          h("td", { class: "descriptors" }, item.descriptors.join(", ")),
          h("td", { class: "number" }, fmt.eur(item.price_per_kg_eur)),
        ),
      )),
    ),
  );
}

// ---- one material -----------------------------------------------------------------------

async function renderMaterial(view, { cas, isCurrent }) {
  const back = h("p", { class: "back no-print" }, h("a", { href: "#/catalogue" }, "← Catalogue"));
  const page = h("div", { class: "catalogue-page material-page" }, back);
  view.append(page);
  let item;
  try {
    item = await get(`/v1/ingredients/${encodeURIComponent(cas)}`);
  } catch (error) {
    if (!isCurrent()) return;
    const message = error.status === 422 && error.fieldErrors.length
      ? error.fieldErrors.map((field) => `${cas}: ${field.message}`).join("; ")
      : error.message;
    page.append(h("h1", {}, `Material ${cas}`), alertBox(message));
    return;
  }
  if (!isCurrent()) return;
  document.title = `${item.name} · Fragrance AI workbench`;
  const sources = new Sources();
  page.append(
    h("h1", {}, item.name),
    item.synonyms.length ? h("p", { class: "synonyms" }, "Also: ", item.synonyms.join(", ")) : null,
    factsList(item),
    item.note ? h("p", { class: "material-note" }, item.note) : null,
    h("section", { "aria-labelledby": "material-ifra" },
      h("h2", { id: "material-ifra" }, "IFRA limits of the material"),
      item.ifra.length
        ? ifraTable(item.ifra, sources, `IFRA limits of ${item.name}`)
        : h("p", {}, "No IFRA Standard limits the material itself; its constituents' limits are below."),
    ),
    h("section", { "aria-labelledby": "material-constituents" },
      h("h2", { id: "material-constituents" }, "Constituents"),
      constituentsTable(item, sources),
    ),
    h("section", { "aria-labelledby": "material-allergens" },
      h("h2", { id: "material-allergens" }, "EU allergens"),
      item.eu_allergens.length
        ? h("ul", { class: "allergen-list" }, item.eu_allergens.map((name) => h("li", {}, name)))
        : h("p", {}, "None: the material neither is nor contains an EU labelling allergen."),
    ),
    h("section", { "aria-labelledby": "material-regulated" },
      h("h2", { id: "material-regulated" }, "Regulated substances"),
      item.regulated_substances.length
        ? item.regulated_substances.map((substance) => substanceArticle(substance, sources))
        : h("p", {}, "None: no IFRA Standard, EU rule or CMR classification applies to what it contains."),
    ),
    categoriesLegend(),
    sources.section(),
  );
}

function factsList(item) {
  const [low, high] = item.typical_use_percent;
  const facts = [
    ["CAS", h("span", { class: "cas-number" }, item.cas)],
    ["Tier", item.tier],
    ["Volatility", item.volatility.replace("_", " ")],
    ["Families", item.families.join(", ") || "—"],
    ["Descriptors", item.descriptors.join(", ") || "—"],
    ["Typical use", `${fmt.percent(low)} to ${fmt.percent(high)} of the concentrate`],
    ["Price", [`${fmt.eur(item.price_per_kg_eur)} / kg`, h("span", { class: "price-source" }, item.price_source)]],
    ["Natural", item.natural ? "yes" : "no"],
  ];
  return h("dl", { class: "material-facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function constituentsTable(item, sources) {
  if (!item.constituents.length) {
    return h("p", {}, "None listed: a single substance, or no typical composition in the data.");
  }
  return [
    h(
      "table",
      { class: "constituents" },
      h("caption", { class: "visually-hidden" }, `Constituents of ${item.name}`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Substance"),
        h("th", { scope: "col" }, "CAS"),
        h("th", { scope: "col", class: "number" }, "Typical %"),
        h("th", { scope: "col" }, "Source"),
      )),
      h("tbody", {}, item.constituents.map((part) =>
        h("tr", { class: part.uncertain ? "uncertain" : null },
          h("td", {}, part.substance, part.uncertain ? [" ", flag("uncertain", "The figure is not confirmed against its source.")] : null),
          h("td", { class: "cas" }, part.cas),
          h("td", { class: "number" }, fmt.percent(part.percent)),
          h("td", {}, sources.ref(part.source)),
        ),
      )),
    ),
    h("p", { class: "hint" }, "Typical mass fraction in the material; batches vary, the supplier's certificate decides for a real product."),
  ];
}

function substanceArticle(substance, sources) {
  const headingId = `substance-${substance.id}`;
  const facts = [
    `${fmt.percent(substance.percent_in_material)} of the material`,
    `CAS ${substance.cas.join(", ")}`,
    substance.ifra_standard ? `IFRA Standard: ${substance.ifra_standard}` : "No IFRA Standard",
    substance.phototoxic ? "phototoxic (IFRA's additive rule)" : null,
    substance.eu_allergen_inci ? `EU allergen, labelled as ${substance.eu_allergen_inci}` : null,
  ].filter(Boolean);
  return h(
    "article",
    { class: "substance", "aria-labelledby": headingId, dataset: { substance: substance.id } },
    h("h3", { id: headingId }, substance.name),
    h("p", { class: "facts" }, facts.join(" · ")),
    substance.ifra_limits.length
      ? [h("h4", {}, "IFRA limits"), ifraTable(substance.ifra_limits, sources, `IFRA limits of ${substance.name}`)]
      : substance.ifra_no_figure_found
        ? h("p", {}, h("strong", {}, "No IFRA figure found: "), substance.ifra_no_figure_found)
        : null,
    substance.eu_rules.length ? [h("h4", {}, "EU rules"), euRulesTable(substance.eu_rules, sources, substance.name)] : null,
    substance.cmr ? [h("h4", {}, "CMR"), cmrText(substance.cmr, sources)] : null,
  );
}

// IFRA limits, one row for the categories that share a figure, amendment, note and source
// (a material limited alike in every category reads as one or two lines, not eighteen).
function ifraTable(limits, sources, caption) {
  const groups = new Map();
  for (const limit of limits) {
    const key = JSON.stringify([limit.max_percent_in_finished_product, limit.unrestricted, limit.unreadable, limit.uncertain, limit.note, limit.amendment, limit.source]);
    if (groups.has(key)) groups.get(key).categories.push(limit.category);
    else groups.set(key, { limit, categories: [limit.category] });
  }
  return h(
    "table",
    { class: "ifra-limits" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Categories"),
      h("th", { scope: "col", class: "number" }, "Max in finished product"),
      h("th", { scope: "col" }, "Amendment"),
      h("th", { scope: "col" }, "Source"),
    )),
    h("tbody", {}, [...groups.values()].map(({ limit, categories }) =>
      h("tr", {},
        h("th", { scope: "row", class: "categories" }, categories.join(", ")),
        h("td", { class: "number" }, ifraFigure(limit),
          limit.uncertain ? [" ", flag("uncertain", "Applied as binding but not confirmed against the Standard's text.")] : null),
        h("td", {}, limit.amendment || "—", limit.note ? h("p", { class: "limit-note" }, limit.note) : null),
        h("td", {}, sources.ref(limit.source)),
      ),
    )),
  );
}

function ifraFigure(limit) {
  if (limit.unrestricted) return "no restriction";
  if (limit.unreadable) return h("span", { class: "unreadable" }, "no usable figure");
  // IfraLimit: no figure (and not unrestricted) means prohibited.
  if (limit.max_percent_in_finished_product === null) return h("strong", { class: "prohibited" }, "prohibited");
  return fmt.percent(limit.max_percent_in_finished_product);
}

function euRulesTable(rules, sources, name) {
  return h(
    "table",
    { class: "eu-rules" },
    h("caption", { class: "visually-hidden" }, `EU rules for ${name}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Rule"),
      h("th", { scope: "col" }, "Applies to"),
      h("th", { scope: "col", class: "number" }, "Max in finished product"),
      h("th", { scope: "col" }, "Source"),
    )),
    h("tbody", {}, rules.map((rule) =>
      h("tr", {},
        h("td", {}, rule.rule, rule.note ? h("p", { class: "limit-note" }, rule.note) : null),
        h("td", {}, EU_SCOPES[rule.scope] ?? rule.scope),
        h("td", { class: "number" },
          rule.max_percent_in_finished_product === null || rule.max_percent_in_finished_product === undefined
            ? "prohibited"
            : fmt.percent(rule.max_percent_in_finished_product),
          rule.uncertain ? [" ", flag("uncertain", "Not confirmed against the Official Journal text.")] : null),
        h("td", {}, sources.ref(rule.source)),
      ),
    )),
  );
}

function cmrText(cmr, sources) {
  return h("p", { class: "cmr" },
    h("strong", {}, cmr.classification),
    cmr.public_mixture_limit_percent !== null && cmr.public_mixture_limit_percent !== undefined
      ? `: at most ${fmt.percent(cmr.public_mixture_limit_percent)} in a mixture supplied to the public`
      : ": labelling only, no limit in a mixture",
    cmr.uncertain ? [" ", flag("uncertain", "Not confirmed against the regulation's text.")] : null,
    " ",
    sources.ref(cmr.source),
  );
}

function flag(text, explanation) {
  return h("span", { class: "flag" }, text, h("span", { class: "visually-hidden" }, ` (${explanation})`));
}

function categoriesLegend() {
  return h("details", { class: "categories-legend" },
    h("summary", {}, "The IFRA categories"),
    h("dl", {}, Object.entries(IFRA_CATEGORIES)
      .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }))
      .map(([category, label]) => [h("dt", {}, category), h("dd", {}, label)])),
  );
}

// Sources are long and shared by many rows: each row links to a numbered note below.
class Sources {
  constructor() {
    this.numbers = new Map();
  }

  ref(source) {
    if (!source) return "—";
    if (!this.numbers.has(source)) this.numbers.set(source, this.numbers.size + 1);
    const number = this.numbers.get(source);
    return h("a", { href: `#source-${number}`, class: "source-ref", "aria-label": `Source ${number}`, onclick: (event) => this.jump(event, number) }, `[${number}]`);
  }

  // The router owns the hash: a jump to a note scrolls and focuses it instead.
  jump(event, number) {
    event.preventDefault();
    const note = document.getElementById(`source-${number}`);
    note?.scrollIntoView({ block: "center" });
    note?.focus({ preventScroll: true });
  }

  section() {
    if (!this.numbers.size) return null;
    return h("section", { class: "sources", "aria-labelledby": "material-sources" },
      h("h2", { id: "material-sources" }, "Sources"),
      h("ol", {}, [...this.numbers.entries()].map(([source, number]) =>
        h("li", { id: `source-${number}`, tabindex: "-1", value: number }, source))),
    );
  }
}
