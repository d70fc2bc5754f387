"""Printable HTML pages of the documents a regulatory team signs. Plain HTML with a print
stylesheet: no template engine, every value escaped."""

from __future__ import annotations

from html import escape

from fragrance_ai.domain.certificate import AllergenDeclaration, DeclarationLine, IfraCertificate
from fragrance_ai.domain.formula import Formula
from fragrance_ai.domain.products import product_profile
from fragrance_ai.domain.weigh_out import WeighOut

_STYLE = """
body { font: 11pt/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0.2em; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.refused { color: #a00; }
.signature { margin-top: 3em; display: flex; gap: 4em; }
.signature div { border-top: 1px solid #111; padding-top: 0.3em; min-width: 15em; }
td.tick { text-align: center; }
td.cas { white-space: nowrap; }
td.tick input { width: 1.2em; height: 1.2em; margin: 0; }
td.blank { min-width: 6em; }
tr.total td { font-weight: 600; border-top: 2px solid #111; }
@media print { body { margin: 0; } a { color: inherit; text-decoration: none; } }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}"
        "</body></html>"
    )


def _composition(formula: Formula) -> str:
    rows = "".join(
        f"<tr><td>{escape(line.name)}</td><td>{escape(line.cas)}</td>"
        f"<td class='number'>{line.percent:.4g}</td></tr>"
        for line in formula.lines
    )
    return (
        "<h2>Composition of the concentrate</h2><table><thead><tr><th>Material</th>"
        f"<th>CAS</th><th>% of concentrate</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def certificate_html(certificate: IfraCertificate, formula: Formula) -> str:
    rows = []
    for item in certificate.categories:
        if item.max_percent_of_concentrate is None:
            maximum = f"<span class='refused'>cannot certify: {escape(item.cannot_certify)}</span>"
        else:
            maximum = f"{item.max_percent_of_concentrate:g} %"
        rows.append(
            f"<tr><td>{escape(item.category)}</td><td>{escape(item.label)}</td>"
            f"<td class='number'>{maximum}</td><td>{escape(item.limited_by)}</td>"
            f"<td>{escape(item.amendment)}</td></tr>"
        )
    conditions = "".join(f"<li>{escape(c)}</li>" for c in certificate.conditions)
    body = (
        f"<h1>IFRA Certificate of Conformity</h1><p>{escape(certificate.title)}<br>"
        f"Issued on {certificate.issued_on.isoformat()}; Standards as binding on "
        f"{(certificate.rules_as_of or certificate.issued_on).isoformat()} for a new "
        "creation; amendments applied: "
        f"{escape(', '.join(certificate.amendments_applied) or 'none needed')}</p>"
        f"<p>{escape(certificate.statement)}</p>"
        "<table><thead><tr><th>IFRA category</th><th>Product type</th>"
        "<th>Maximum of this concentrate in the finished product</th><th>Limited by</th>"
        f"<th>Amendment</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<h2>Conditions</h2><ul>{conditions}</ul>{_composition(formula)}"
        "<div class='signature'><div>Regulatory affairs: name, date</div>"
        "<div>Signature</div></div>"
    )
    return _page(certificate.title, body)


def _labelled_from(line: DeclarationLine) -> str:
    """A 2023/1545 entry's two dates: new products placed on the market, every product."""
    if not line.added_2023:
        return ""
    new, every = line.labelled_on_new_products_from, line.labelled_on_all_products_from
    dates = (
        f": new products from {new.isoformat()}, all from {every.isoformat()}"
        if new and every
        else ""
    )
    return f"2023/1545{dates}"


def declaration_html(declaration: AllergenDeclaration, title: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(line.inci)}</td><td>{escape(line.cas)}</td>"
        f"<td class='number'>{line.percent_in_concentrate:.4g}</td>"
        f"<td class='number'>{line.percent_in_product:.4g}</td>"
        f"<td>{'yes' if line.declare else 'no'}</td>"
        f"<td>{_labelled_from(line)}</td></tr>"
        for line in declaration.lines
    )
    threshold = (
        "not a cosmetic"
        if declaration.threshold_percent is None
        else f"{declaration.threshold_percent:g} %"
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in declaration.notes)
    body = (
        f"<h1>Allergen declaration</h1><p>{escape(title)}<br>Product: "
        f"{escape(declaration.product)} at {declaration.dosage_percent:g} % concentrate; "
        f"labelling threshold {threshold}</p>"
        "<table><thead><tr><th>INCI name</th><th>CAS</th><th>% in concentrate</th>"
        "<th>% in finished product</th><th>Declare</th><th>New entry</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<p><strong>Label:</strong> {escape(declaration.label_text or 'nothing to declare')}</p>"
        f"<ul>{notes}</ul>"
    )
    return _page(title, body)


def weigh_out_html(sheet: WeighOut, formula: Formula, title: str) -> str:
    """The sheet that goes to the bench: a line per material in weighing order with a box
    to tick and room for what the balance actually read, then the solvent. A material
    weighed as its stock dilution is named as the dilution, its neat grams beside it."""

    def grams(value: float) -> str:
        return f"{value:.3f}"

    rows = [
        f"<tr><td class='number'>{line.step}</td><td>{escape(line.weighed_as)}</td>"
        f"<td class='cas'>{escape(line.cas)}</td><td>{escape(line.tier.value)}</td>"
        f"<td class='number'>{line.percent_of_concentrate:.4g}</td>"
        f"<td class='number'>{grams(line.grams)}</td>"
        f"<td class='number'>{grams(line.neat_grams)}</td>"
        f"<td class='number'>{grams(line.running_total_g)}</td><td class='blank'></td>"
        f"<td class='tick'><input type='checkbox' aria-label='Step {line.step} weighed'></td>"
        "</tr>"
        for line in sheet.lines
    ]
    solvent_step = len(sheet.lines) + 1
    rows.append(
        f"<tr><td class='number'>{solvent_step}</td><td>{escape(sheet.solvent.name)}</td>"
        "<td></td><td>solvent</td><td></td>"
        f"<td class='number'>{grams(sheet.solvent.grams)}</td><td></td>"
        f"<td class='number'>{grams(sheet.total_g)}</td><td class='blank'></td>"
        f"<td class='tick'><input type='checkbox' aria-label='Step {solvent_step} weighed'>"
        "</td></tr>"
    )
    neat_total = sum(line.neat_grams for line in sheet.lines)
    rows.append(
        "<tr class='total'><td></td><td>Total</td><td></td><td></td><td></td>"
        f"<td class='number'>{grams(sheet.total_g)}</td>"
        f"<td class='number'>{grams(neat_total)}</td><td></td><td></td><td></td></tr>"
    )
    profile = product_profile(formula.product)
    dosage_note = ""
    if sheet.dilution_percent != formula.dosage_percent:
        dosage_note = (
            f"<p><strong>Note:</strong> the formula was designed and checked at "
            f"{formula.dosage_percent:g} % concentrate; its IFRA certificate and allergen "
            f"declaration hold at that dosage, not at {sheet.dilution_percent:g} %.</p>"
        )
    brought = "".join(
        f"{grams(diluent.grams)} g of {escape(diluent.name)} comes in with the stock "
        "dilutions and counts as solvent; "
        for diluent in sheet.diluents
    )
    solvent = (
        f"<p>Solvent: {brought}{grams(sheet.solvent.grams)} g of "
        f"{escape(sheet.solvent.name)} is added last.</p>"
    )
    notes = "".join(f"<p><strong>Note:</strong> {escape(note)}</p>" for note in sheet.notes)
    body = (
        f"<h1>Weigh-out sheet</h1><p>{escape(title)}<br>Product: {escape(profile.label)}; "
        f"batch {grams(sheet.batch_g)} g at {sheet.dilution_percent:g} % concentrate: "
        f"{grams(sheet.concentrate_g)} g of concentrate (the materials neat) and "
        f"{grams(sheet.total_g - sheet.concentrate_g)} g of solvent</p>{solvent}"
        f"{dosage_note}{notes}"
        f"<p>Order: {escape(sheet.order)}</p>"
        "<table><thead><tr><th>Step</th><th>Material (as weighed)</th><th>CAS</th>"
        "<th>Tier</th><th>% of concentrate (neat)</th><th>Grams to weigh</th>"
        "<th>Of which neat (g)</th><th>Balance reads (g)</th>"
        "<th>Actual (g)</th><th>Weighed</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<div class='signature'><div>Weighed by: name</div><div>Date and time</div>"
        "<div>Checked by</div></div>"
    )
    return _page(f"Weigh-out: {title}", body)
