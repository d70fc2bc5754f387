"""The brief page in Chromium against a running service: a brief written in the page becomes
options shown side by side, one is chosen, variations are asked for and chosen among, the
parser's reading is corrected and designed again, a language model's late suggestions are
accepted, and a weigh-out sheet is drawn up; every step is checked against what the API then
stores."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.workbench import Workbench
from tests.helpers import wait_for_job

BRIEF = "fresh citrus cologne for summer with a woody base, no patchouli"
OPTIONS_TIMEOUT_MS = 170_000


def api(workbench: Workbench, path: str) -> Any:
    response = httpx.get(workbench.url + path, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def brief_id_of(page: Page) -> str:
    match = re.search(r"#/briefs/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def round_section(page: Page, number: int) -> Locator:
    return page.locator(f"section.round[data-round='{number}']")


def card(section: Locator, title: str) -> Locator:
    return section.locator("article.formula-card").filter(
        has=section.page.get_by_role("heading", name=title, exact=True)
    )


def expect_cards_as_stored(
    options: Locator, workbench: Workbench, option_ids: list[str], brief: dict[str, Any]
) -> None:
    """Each card says what the API stores (verdict, cost, product, lines), and the parser's
    reading is shown as chips."""
    for index, formula_id in enumerate(option_ids):
        formula = api(workbench, f"/v1/formulas/{formula_id}")
        shown = card(options, f"Option {index + 1}")
        expect(shown.locator(".verdict")).to_have_attribute(
            "data-verdict", formula["compliance"]["verdict"]
        )
        expect(shown.locator(".cost")).to_have_text(f"€{formula['cost_per_kg_eur']:.2f} / kg")
        expect(shown.locator(".facts")).to_contain_text("EDT")
        expect(shown.locator("table.lines tbody tr:not(.tier-row)")).to_have_count(
            len(formula["lines"])
        )
    page = options.page
    families = page.locator(".chip-group[data-field='families'] .chip")
    expect(families).to_have_count(len(brief["parsed"]["families"]))
    avoid = page.locator(".chip-group[data-field='avoid'] .chip")
    expect(avoid.first).to_contain_text("Patchouli", ignore_case=True)


def expect_a_weigh_out_sheet(sheet_card: Locator) -> None:
    """50 g of product at 15 %: 7.5 g of concentrate, and the running total ends at 50 g."""
    sheet_card.get_by_text("Weigh-out sheet for the lab").click()
    sheet_card.get_by_label("Batch of finished product (g)").fill("50")
    sheet_card.get_by_label("Concentrate in product (%)").fill("15")
    sheet_card.get_by_role("button", name="Show weigh-out sheet").click()
    table = sheet_card.locator("table.weigh-out-table")
    expect(table.locator("caption")).to_contain_text("7.500 g of concentrate")
    expect(table.locator("tr.solvent td").last).to_have_text("50.000 g")


def expect_what_the_choices_taught(
    page: Page, workbench: Workbench, *, user: str, choices: int
) -> None:
    """The panel says what the perfumer's own model read in their choices, in the API's
    words and order."""
    taste = api(workbench, f"/v1/taste?user={user}")
    assert taste["whose"] == "own"
    assert taste["choices"] == choices
    panel = page.locator("section.taste")
    expect(panel).to_contain_text(f"Your model ({user}), from {choices} choices.")
    readings = panel.locator(".taste-readings li")
    expect(readings).to_have_count(len(taste["readings"]))
    expect(readings.first).to_contain_text(taste["readings"][0]["words"])
    expect(panel.locator(".taste-confidence")).to_contain_text("Not confident yet")


@pytest.mark.timeout(300)
def test_a_brief_becomes_options_a_choice_and_variations(
    page: Page, workbench: Workbench, shoot: Any
) -> None:
    page.get_by_label("Creative brief").fill(BRIEF)
    page.get_by_label("Mode").select_option("fast")
    page.get_by_label("Product").select_option("EDT")
    shoot(page, "brief")
    page.get_by_role("button", name="Design options").click()

    # The job is followed live, then the options are drawn.
    expect(page.locator("progress#job-progress")).to_be_attached()
    options = round_section(page, 1)
    expect(options.locator("article.formula-card").first).to_be_visible(timeout=OPTIONS_TIMEOUT_MS)
    brief_id = brief_id_of(page)
    brief = api(workbench, f"/v1/briefs/{brief_id}")
    option_ids = brief["rounds"][0]["formula_ids"]
    cards = options.locator("article.formula-card")
    expect(cards).to_have_count(len(option_ids))
    assert cards.evaluate_all("els => els.map(e => e.dataset.formulaId)") == option_ids
    expect(page.get_by_role("status").filter(has_text="options designed")).to_be_visible()
    shoot(page, "options")

    expect_cards_as_stored(options, workbench, option_ids, brief)

    # Two options line by line.
    options.get_by_label("Compare A").select_option(label="Option 1")
    options.get_by_label("with B").select_option(label="Option 2")
    options.get_by_role("button", name="Compare", exact=True).click()
    expect(options.locator(".comparison h2")).to_contain_text("Option 1 and Option 2")
    expect(options.locator(".comparison tbody tr").first).to_be_visible()

    # The choices are made as Ana: her own reward model learns from them.
    page.get_by_label("Choosing as").fill("ana")
    page.get_by_label("Choosing as").blur()

    # The choice is stored as the brief's round's choice.
    card(options, "Option 2").get_by_role("button", name="I prefer this one").click()
    chosen = card(round_section(page, 1), "Option 2")
    expect(chosen.locator(".chosen-badge")).to_have_text("Chosen")
    expect(round_section(page, 1).get_by_role("button", name="I prefer this one")).to_have_count(0)
    stored = api(workbench, f"/v1/briefs/{brief_id}")
    assert stored["rounds"][0]["chosen_id"] == option_ids[1]

    # Variations of the chosen option: a second round, the same cards, and its choice.
    chosen.get_by_role("button", name="Variations").click()
    variations = round_section(page, 2)
    expect(variations.locator("h2")).to_have_text("Round 2: variations of Option 2")
    stored = api(workbench, f"/v1/briefs/{brief_id}")
    second = stored["rounds"][1]
    assert second["parent_id"] == option_ids[1]
    variation_cards = variations.locator("article.formula-card")
    expect(variation_cards).to_have_count(len(second["formula_ids"]))
    assert (
        variation_cards.evaluate_all("els => els.map(e => e.dataset.formulaId)")
        == second["formula_ids"]
    )
    expect(variations.locator(".variation-edit").first).to_contain_text("Edit:")
    shoot(page, "variations")
    card(variations, "Variation 1.2").get_by_role("button", name="I prefer this one").click()
    expect(card(round_section(page, 2), "Variation 1.2").locator(".chosen-badge")).to_be_visible()
    stored = api(workbench, f"/v1/briefs/{brief_id}")
    assert stored["rounds"][1]["chosen_id"] == second["formula_ids"][1]
    expect(page.locator(".rounds-history li")).to_have_text(
        [
            re.compile(r"Round 1: \d options designed; chose Option 2"),
            re.compile(r"Round 2: \d variations of Option 2; chose Variation 1\.2"),
        ]
    )

    expect_what_the_choices_taught(page, workbench, user="ana", choices=2)
    shoot(page, "taste")

    expect_a_weigh_out_sheet(card(round_section(page, 2), "Variation 1.2"))
    shoot(page, "weigh-out")


@pytest.mark.timeout(300)
@pytest.mark.expected_http_errors(422)
def test_a_misreading_is_corrected_on_the_chips_and_designed_again(
    page: Page, workbench: Workbench, shoot: Any
) -> None:
    accepted = httpx.post(
        workbench.url + "/v1/briefs", json={"text": BRIEF, "mode": "fast"}, timeout=30
    ).json()
    job = wait_for_job(httpx.Client(base_url=workbench.url), accepted["job_id"], timeout_s=170)
    assert job["status"] == "finished", job
    page.goto(f"{workbench.url}/#/briefs/{accepted['brief_id']}")
    families = page.locator(".chip-group[data-field='families']")
    expect(families.locator(".chip[data-value='citrus']")).to_be_visible()

    # A word the designer has no meaning for: said next to the families, nothing lost.
    families.get_by_role("button", name="Remove citrus from families").click()
    families.get_by_label("Families", exact=True).fill("wodoy")
    page.get_by_role("button", name="Design again with these corrections").click()
    error = page.locator(".field-error", has_text="'wodoy'")
    expect(error).to_be_visible()
    expect(families.get_by_label("Families", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(families.get_by_label("Families", exact=True)).to_have_value("wodoy")
    expect(families.locator(".chip[data-value='citrus']")).to_have_count(0)
    assert re.search(f"#/briefs/{accepted['brief_id']}$", page.url)

    # Corrected: no citrus, vetiver asked for and citrus avoided.
    families.get_by_label("Families", exact=True).fill("")
    notes = page.locator(".chip-group[data-field='notes']")
    notes.get_by_label("Notes and materials", exact=True).fill("vetiver")
    notes.get_by_label("Notes and materials", exact=True).press("Enter")
    expect(notes.locator(".chip[data-value='vetiver']")).to_be_visible()
    avoid = page.locator(".chip-group[data-field='avoid']")
    avoid.get_by_label("Avoid (forbidden)", exact=True).fill("citrus")
    avoid.get_by_role("button", name="Add").click()
    shoot(page, "correction")
    page.get_by_role("button", name="Design again with these corrections").click()

    # The new brief's page follows its job (?job=) before drawing its own options.
    expect(page).to_have_url(re.compile(r"#/briefs/[0-9a-f-]{36}\?job="))
    expect(round_section(page, 1).locator("article.formula-card").first).to_be_visible(
        timeout=OPTIONS_TIMEOUT_MS
    )
    revised_id = brief_id_of(page)
    assert revised_id != accepted["brief_id"]
    revised = api(workbench, f"/v1/briefs/{revised_id}")
    assert revised["parser"] == "perfumer"
    assert revised["revises"] == accepted["brief_id"]
    assert "citrus" not in revised["parsed"]["families"]
    assert "citrus" in revised["parsed"]["avoid"]
    assert revised["parsed"]["notes"] == ["Vetiver oil"]
    expect(page.get_by_text("Corrected by the perfumer.")).to_be_visible()
    expect(page.get_by_role("link", name="an earlier reading")).to_have_attribute(
        "href", f"#/briefs/{accepted['brief_id']}"
    )


def test_an_empty_brief_is_refused_next_to_the_field_without_a_request(
    page: Page, workbench: Workbench
) -> None:
    posted: list[str] = []
    page.on("request", lambda sent: posted.append(sent.url) if sent.method == "POST" else None)
    text = page.get_by_label("Creative brief")
    text.fill("   ")
    page.get_by_role("button", name="Design options").click()
    expect(page.locator("main .field-error")).to_have_text(
        "Write the brief first: what should it smell like?"
    )
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(text).to_be_focused()
    assert posted == []
    assert page.url.endswith("/") or page.url.endswith("#/")


@pytest.mark.expected_http_errors(422)
def test_a_dosage_the_service_refuses_is_said_next_to_it_and_the_text_is_kept(
    page: Page, workbench: Workbench
) -> None:
    page.get_by_label("Creative brief").fill(BRIEF)
    dosage = page.get_by_label("Dosage (% concentrate, optional)")
    dosage.fill("55")
    page.get_by_role("button", name="Design options").click()
    expect(dosage).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main .field-error")).to_contain_text("less than or equal to 40")
    expect(page.get_by_label("Creative brief")).to_have_value(BRIEF)


@pytest.mark.timeout(300)
def test_evocations_read_are_chips_and_unread_words_and_a_missing_direction_are_said(
    page: Page, workbench: Workbench
) -> None:
    client = httpx.Client(base_url=workbench.url, timeout=30)
    accepted = client.post(
        "/v1/briefs", json={"text": "a campfire candle with a durian twist", "mode": "fast"}
    ).json()
    job = wait_for_job(client, accepted["job_id"], timeout_s=170)
    assert job["status"] == "finished", job
    page.goto(f"{workbench.url}/#/briefs/{accepted['brief_id']}?job={accepted['job_id']}")
    expect(page.locator(".alert-info")).to_contain_text("Read as: campfire.")
    evocations = page.locator(".chip-group[data-field='evocations']")
    expect(evocations.locator(".chip[data-value='campfire']")).to_be_visible()
    expect(page.locator(".unread-words")).to_contain_text("Not read: durian.")
    # Removable like the other chips.
    evocations.get_by_role("button", name="Remove campfire from evocations read").click()
    expect(evocations.locator(".chip[data-value='campfire']")).to_have_count(0)

    vague = client.post("/v1/briefs", json={"text": "a candle for my living room"}).json()
    assert wait_for_job(client, vague["job_id"])["result"]["brief_understood"] is False
    page.goto(f"{workbench.url}/#/briefs/{vague['brief_id']}?job={vague['job_id']}")
    alert = page.locator(".alert-error")
    expect(alert).to_contain_text("Read the product (candle)")
    expect(alert).to_contain_text("'living', 'room'")
    expect(page.locator(".chip-group[data-field='families'] .chip")).to_have_count(0)


@pytest.mark.timeout(600)
def test_what_the_model_reads_after_the_design_is_offered_and_accepted(
    page: Page, workbench: Workbench, shoot: Any
) -> None:
    """Issue 26: the workbench's parser model (SmolLM2, conftest.py) earns no field, so the
    options come first, from the deterministic reading; its reading follows as suggestions,
    each one a button into the corrections, and accepting them designs again."""
    client = httpx.Client(base_url=workbench.url, timeout=30)
    accepted = client.post(
        "/v1/briefs", json={"text": "a woody amber for the evening", "mode": "fast"}
    ).json()
    job = wait_for_job(client, accepted["job_id"], timeout_s=170)
    assert job["status"] == "finished", job
    # "Designed without waiting for [the paraphrase matcher (still loading), ]the parser model
    # (...)": the matcher may still be loading too.
    [later] = [n for n in job["result"]["reading_notes"] if "without waiting for" in n]
    assert "the parser model" in later
    page.goto(f"{workbench.url}/#/briefs/{accepted['brief_id']}")
    panel = page.locator("section.suggestions")
    expect(panel).to_be_visible()
    offered = panel.locator("button.suggestion")
    expect(offered.first).to_be_visible(timeout=500_000)
    suggestions = api(workbench, f"/v1/briefs/{accepted['brief_id']}")["suggestions"]
    assert suggestions["state"] == "ready", suggestions
    fields = suggestions["fields"]
    chip_fields = [
        name for name in ("families", "moods", "seasons", "notes", "evocations") if name in fields
    ]
    assert chip_fields, fields
    field = chip_fields[0]
    value = fields[field][0]
    panel.locator(f"button.suggestion[data-field='{field}'][data-value='{value}']").click()
    chip = page.locator(f".chip-group[data-field='{field}'] .chip[data-value='{value}']")
    expect(chip).to_be_visible()
    shoot(page, "suggestions")

    panel.get_by_role("button", name="Accept all and design again").click()
    expect(page).to_have_url(re.compile(r"#/briefs/[0-9a-f-]{36}\?job="))
    expect(round_section(page, 1).locator("article.formula-card").first).to_be_visible(
        timeout=OPTIONS_TIMEOUT_MS
    )
    revised = api(workbench, f"/v1/briefs/{brief_id_of(page)}")
    assert revised["revises"] == accepted["brief_id"]
    parsed = revised["parsed"]
    for name in chip_fields:
        if name == "notes":
            kept = {n.lower() for n in [*parsed["notes"], *parsed["unmatched_notes"]]}
            assert {n.lower() for n in fields["notes"]} <= kept, (fields, parsed)
        else:
            assert set(fields[name]) <= set(parsed[name]), (name, fields, parsed)
