"""The "Check my formula" page (#/check) in Chromium: a pasted formula checked against
POST /v1/formulas/check, with its verdict, limiting substances, repair and printable
documents; and bad input told next to the field it belongs to, the pasted text kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Locator, Page, Request, expect

from tests.browser.workbench import Workbench

# tests/test_api_check.py's chypre, pasted as a perfumer would from a spreadsheet: a header,
# ';' between the columns, decimal commas, a CAS instead of a name, a comment. In an EDP (18 %)
# oakmoss at 2 % (0.36 % of the product, limit 0.1 %) and bergamot at 12 % are over their
# IFRA limits.
CHYPRE = """material;percent
Bergamot oil;12,0
Lemon oil;4
78-70-6;9 %
Hedione;25
# florals
rose oil;1
Phenylethyl alcohol;9
oakmoss;2
Patchouli oil;8
Iso E Super;15
Galaxolide;15
"""

Shoot = Callable[[Page, str], Path]


def open_check(page: Page, workbench: Workbench) -> tuple[Locator, Locator]:
    page.goto(f"{workbench.url}/#/check")
    formula = page.get_by_label("Formula", exact=True)
    return formula, page.get_by_role("button", name="Check", exact=True)


def formula_error(page: Page) -> Locator:
    # showFieldError puts the message right after the field and names it in aria-describedby.
    return page.locator("#formula-text + .field-error")


def test_a_formula_over_its_limits_shows_verdict_limiting_substances_repair_and_certificate(
    page: Page, workbench: Workbench, shoot: Shoot
) -> None:
    formula, check = open_check(page, workbench)
    formula.fill(CHYPRE)
    expect(page.locator("#formula-total")).to_have_text("Total: 100 %")
    page.get_by_label("Product", exact=True).select_option("EDP")
    check.click()

    result = page.get_by_role("region", name="Result")
    expect(result.locator(":scope > header .verdict")).to_have_text("Not compliant")
    expect(result).to_contain_text("IFRA category 4, 18.00 % concentrate")
    oakmoss = result.locator("table.violations tr", has_text="Oakmoss and treemoss extracts")
    expect(oakmoss).to_contain_text("0.360 %")
    expect(oakmoss).to_contain_text("0.100 %")
    expect(oakmoss).to_contain_text("Oakmoss absolute: 0.360 %")
    expect(
        result.locator("table.violations tr", has_text="Bergamot oil expressed")
    ).to_contain_text("2.16 %")
    declared = result.locator("table.allergens-table tr", has_text="Linalool").first
    expect(declared).to_contain_text("Yes")

    repair = result.get_by_role("region", name="Repair proposal")
    expect(repair.locator(".verdict")).to_have_text("Compliant")
    # 0.1 % limit / 18 % dosage = 0.556 % of the concentrate.
    oakmoss_change = repair.locator("table.changes tr", has_text="Oakmoss absolute")
    expect(oakmoss_change).to_contain_text("2.00 %")
    expect(oakmoss_change).to_contain_text("0.556 %")
    shoot(page, "check")

    result.get_by_role("button", name="IFRA certificate").click()
    frame = result.locator("iframe.document-frame")
    expect(frame).to_have_attribute("sandbox", "allow-same-origin allow-modals")
    document = page.frame_locator("iframe.document-frame")
    expect(document.get_by_role("heading", level=1)).to_have_text("IFRA Certificate of Conformity")
    expect(document.locator("body")).to_contain_text("Fine fragrance")
    # Print prints the frame's document, not the workbench around it.
    frame.evaluate("f => { f.contentWindow.print = () => { f.dataset.printed = 'yes'; }; }")
    result.get_by_role("button", name="Print").click()
    expect(frame).to_have_attribute("data-printed", "yes")
    shoot(page, "certificate")

    result.get_by_role("button", name="Allergen declaration").click()
    expect(document.get_by_role("heading", level=1)).to_have_text("Allergen declaration")
    # The pasted text is what it was.
    expect(formula).to_have_value(CHYPRE)


def test_each_line_shows_its_odour_per_mille_and_the_stock_dilution_it_is_weighed_as(
    page: Page, workbench: Workbench
) -> None:
    formula, check = open_check(page, workbench)
    formula.fill(CHYPRE)
    page.get_by_label("Product", exact=True).select_option("EDP")
    check.click()

    lines = page.get_by_role("region", name="Result").locator("table.lines").first
    expect(lines.locator("thead")).to_contain_text("‰")
    # Rose oil is weighed as its 10 % dilution, in alcohol for an EDP: 1 % neat is 10 %
    # of the dilution, and 10 parts per thousand.
    rose = lines.locator("tr[data-cas='8007-01-0']")
    expect(rose.locator(".material-name")).to_have_text("Rose oil")
    expect(rose.locator(".descriptors")).to_have_text("rose, honeyed, spicy, lush")
    expect(rose.locator("td.percent")).to_have_text("1.00 %")
    expect(rose.locator("td.per-mille")).to_have_text("10.00 ‰")
    expect(rose.locator("td.weighed-as")).to_have_text("10 % in ethanol: 10.00 %")
    hedione = lines.locator("tr[data-cas='24851-98-7']")
    expect(hedione.locator("td.per-mille")).to_have_text("250.0 ‰")
    expect(hedione.locator("td.weighed-as")).to_have_text("neat")


# If the API ever answers an unknown name with a 422 (lines.N.name), the page shows that too.
@pytest.mark.expected_http_errors(422)
def test_a_misspelt_material_is_named_by_its_pasted_line_and_the_text_is_kept(
    page: Page, workbench: Workbench
) -> None:
    formula, check = open_check(page, workbench)
    text = "# my cologne\nHedione, 40\nGalaxolide, 20\n\nBergamott oil, 40\n"
    formula.fill(text)
    check.click()

    error = formula_error(page)
    expect(error).to_contain_text("line 5: no material named 'Bergamott oil'")
    expect(error).to_contain_text("Did you mean 'Bergamot oil'")
    expect(formula).to_have_attribute("aria-invalid", "true")
    expect(formula).to_have_value(text)
    # The rest is still checked, and cannot be certified with an unknown line.
    expect(
        page.get_by_role("region", name="Result").locator(":scope > header .verdict")
    ).to_have_text("Cannot certify")


@pytest.mark.expected_http_errors(422)
def test_percentages_that_do_not_add_up_are_told_with_their_total(
    page: Page, workbench: Workbench
) -> None:
    formula, check = open_check(page, workbench)
    text = "Bergamot oil\t10,5\nHedione\t88\n"
    formula.fill(text)
    expect(page.locator("#formula-total")).to_have_text("Total: 98.5 % (must be 100 %)")
    check.click()

    expect(formula_error(page)).to_contain_text("add up to 98.5, not 100")
    expect(formula).to_have_value(text)
    expect(page.get_by_role("region", name="Result")).to_have_count(0)


def test_an_empty_formula_is_told_and_nothing_is_sent(page: Page, workbench: Workbench) -> None:
    formula, check = open_check(page, workbench)
    sent: list[str] = []

    def on_request(request: Request) -> None:
        if "/v1/formulas/check" in request.url:
            sent.append(request.url)

    page.on("request", on_request)
    formula.fill("\n# nothing yet\n\n")
    check.click()

    expect(formula_error(page)).to_contain_text("The formula is empty")
    expect(formula).to_be_focused()
    expect(formula).to_have_value("\n# nothing yet\n\n")
    assert sent == []


def test_lines_without_a_readable_percentage_are_each_named(
    page: Page, workbench: Workbench
) -> None:
    formula, check = open_check(page, workbench)
    text = "Hedione, 50\nGalaxolide 30\nIso E Super, lots\n"
    formula.fill(text)
    check.click()

    error = formula_error(page)
    expect(error).to_contain_text("line 2: no percentage after 'Galaxolide 30'")
    expect(error).to_contain_text("line 3: 'lots' is not a percentage")
    expect(formula).to_have_value(text)


@pytest.mark.expected_http_errors(422)
def test_a_bad_dosage_is_told_next_to_the_dosage_field(page: Page, workbench: Workbench) -> None:
    formula, check = open_check(page, workbench)
    formula.fill("Hedione, 60\nIso E Super, 40")
    dosage = page.get_by_label("Dosage (% concentrate in the product)")
    dosage_error = page.locator("#check-dosage + .field-error")

    dosage.fill("lots")
    check.click()
    expect(dosage_error).to_contain_text("'lots' is not a number")

    # The API's own judgement: no EDP holds 80 % concentrate.
    dosage.fill("80")
    check.click()
    expect(dosage_error).to_contain_text("not a plausible eau de parfum: at most 40 %")
    expect(dosage).to_have_attribute("aria-invalid", "true")
    expect(formula_error(page)).to_be_hidden()
    expect(dosage).to_have_value("80")


# js/formula_text.js's parseFormulaText: pasted text -> lines (with the line each came from)
# and the lines it cannot read.
PARSER_CASES: list[tuple[str, list[dict[str, object]], list[str]]] = [
    (
        "material,percent\nBergamot oil, 12.5\n\n# top\n78-70-6, 9 %\nHedione,78.5 # heart",
        [
            {"lineNumber": 2, "name": "Bergamot oil", "percent": 12.5},
            {"lineNumber": 5, "cas": "78-70-6", "percent": 9},
            {"lineNumber": 6, "name": "Hedione", "percent": 78.5},
        ],
        [],
    ),
    (
        "Name;%\nBergamot oil; 12,5\nLinalool\t87,5%",
        [
            {"lineNumber": 2, "name": "Bergamot oil", "percent": 12.5},
            {"lineNumber": 3, "name": "Linalool", "percent": 87.5},
        ],
        [],
    ),
    (
        '"Oil, bergamot",40\nBergamot oil, 8007-75-8, 60',
        [
            {"lineNumber": 1, "name": "Oil, bergamot", "percent": 40},
            {"lineNumber": 2, "name": "Bergamot oil", "cas": "8007-75-8", "percent": 60},
        ],
        [],
    ),
    (
        "Bergamot oil, 12,5\nHedione\nIso E Super, abc\nGalaxolide, 0\n, 12\nLinalool, 120",
        [],
        [
            "line 1: '12,5' is ambiguous",
            "line 2: no percentage after 'Hedione'",
            "line 3: 'abc' is not a percentage",
            "line 4: 0 is not more than 0 %",
            "line 5: no material before the percentage '12'",
            "line 6: 120 is more than 100 %",
        ],
    ),
]


def test_the_paste_parser_reads_separators_decimal_commas_headers_and_comments(
    page: Page, workbench: Workbench
) -> None:
    page.goto(f"{workbench.url}/#/check")
    for text, lines, errors in PARSER_CASES:
        parsed = page.evaluate(
            "async (text) => (await import('/static/js/formula_text.js')).parseFormulaText(text)",
            text,
        )
        assert parsed["lines"] == lines, text
        assert len(parsed["errors"]) == len(errors), parsed["errors"]
        for error, start in zip(parsed["errors"], errors, strict=True):
            assert error["message"].startswith(start), (error, start)


def tab_to(page: Page, target: Locator, limit: int = 40) -> None:
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_keyboard_alone_checks_a_formula_and_opens_the_allergen_declaration(
    page: Page, workbench: Workbench
) -> None:
    formula, check = open_check(page, workbench)
    tab_to(page, formula)
    page.keyboard.type("Hedione, 60\nIso E Super, 40")
    expect(page.locator("#formula-total")).to_have_text("Total: 100 %")
    tab_to(page, page.get_by_label("Product", exact=True))
    page.keyboard.press("End")  # the last product: air freshener spray
    tab_to(page, check)
    page.keyboard.press("Enter")

    result = page.get_by_role("region", name="Result")
    expect(result).to_contain_text("air_freshener_spray (Air freshener spray), IFRA category 10B")
    declaration = result.get_by_role("button", name="Allergen declaration")
    tab_to(page, declaration)
    page.keyboard.press("Enter")
    # The document's heading takes the focus; Print is next.
    expect(result.get_by_role("heading", name="Allergen declaration")).to_be_focused()
    page.keyboard.press("Tab")
    expect(result.get_by_role("button", name="Print")).to_be_focused()
    document = page.frame_locator("iframe.document-frame")
    expect(document.get_by_role("heading", level=1)).to_have_text("Allergen declaration")


def test_a_csv_file_loads_into_the_formula_and_is_checked(page: Page, workbench: Workbench) -> None:
    formula, check = open_check(page, workbench)
    csv = "material;percent\r\nHedione;60\r\nIso E Super;39,5\r\nLinalool;0,5\r\n"
    upload: FilePayload = {"name": "cologne.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    page.get_by_label("Or load a CSV file").set_input_files(files=[upload])
    # A textarea keeps line breaks as "\n".
    expect(formula).to_have_value(csv.replace("\r\n", "\n"))
    expect(page.locator("#formula-total")).to_have_text("Total: 100 %")
    check.click()
    result = page.get_by_role("region", name="Result")
    expect(result.locator(":scope > header .verdict")).to_have_text("Compliant")
    expect(result.locator("table.lines")).to_contain_text("Linalool")
