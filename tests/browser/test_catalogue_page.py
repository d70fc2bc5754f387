"""The catalogue (#/catalogue, #/catalogue/{cas}) in Chromium: search as you type over
GET /v1/ingredients, narrowed by tier and family, and one material's page with its
constituents and every rule that applies to it, each figure with its source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.workbench import Workbench

Shoot = Callable[[Page, str], Path]


def search_box(page: Page, workbench: Workbench) -> Locator:
    page.goto(f"{workbench.url}/#/catalogue")
    # The whole catalogue is listed once loaded.
    expect(page.locator(".result-count")).to_contain_text("materials.")
    return page.get_by_role("searchbox", name="Search")


def material_links(page: Page) -> Locator:
    return page.locator("table.catalogue-table tbody a")


def test_searching_bergamot_opens_its_page_with_constituents_and_sourced_limits(
    page: Page, workbench: Workbench, shoot: Shoot
) -> None:
    search_box(page, workbench).fill("bergamot")

    expect(page.locator(".result-count")).to_contain_text("for “bergamot”")
    links = material_links(page)
    expect(links.get_by_text("Bergamot oil FCF", exact=True)).to_have_count(1)
    # Linalool is found by its descriptor "bergamot"; Hedione matches nothing.
    expect(links.get_by_text("Linalool", exact=True)).to_have_count(1)
    expect(links.get_by_text("Hedione", exact=True)).to_have_count(0)
    bergamot = page.locator("table.catalogue-table tr", has_text="8007-75-8")
    expect(bergamot).to_contain_text("citrus, fresh")
    expect(bergamot).to_contain_text("€55.00")
    shoot(page, "catalogue")

    page.get_by_role("link", name="Bergamot oil", exact=True).click()
    expect(page).to_have_url(f"{workbench.url}/#/catalogue/8007-75-8")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bergamot oil")
    facts = page.locator("dl.material-facts")
    expect(facts).to_contain_text("1.00 % to 15.00 % of the concentrate")
    expect(facts).to_contain_text("Approximate bulk price")

    constituents = page.locator("table.constituents")
    expect(constituents.locator("tr", has_text="Limonene")).to_contain_text("37.00 %")
    # A figure the data marks uncertain says so.
    expect(constituents.locator("tr", has_text="Citral")).to_contain_text("uncertain")

    # The oil's own IFRA limit in fine fragrance (category 4), with its source named below.
    own_limits = page.get_by_role("region", name="IFRA limits of the material")
    category_4 = own_limits.locator("tr").filter(has=page.locator("th", has_text="4"))
    expect(category_4).to_contain_text("0.400 %")
    expect(category_4).to_contain_text("51st Amendment")
    reference = category_4.locator("a.source-ref")
    target = reference.get_attribute("href")
    assert target is not None
    assert target.startswith("#source-")
    source = page.locator(target)
    expect(source).to_contain_text("IFRA Standards overview, 51st Amendment")
    reference.click()
    expect(source).to_be_focused()
    # The router did not take the footnote for a page.
    expect(page).to_have_url(f"{workbench.url}/#/catalogue/8007-75-8")

    bergapten = page.locator("article.substance", has_text="Bergapten")
    expect(bergapten).to_contain_text("0.350 % of the material")
    expect(bergapten.locator("tr", has_text="0.002 %")).to_have_count(1)
    shoot(page, "catalogue-material")


def test_a_descriptor_search_narrowed_by_tier_and_family(page: Page, workbench: Workbench) -> None:
    search_box(page, workbench).fill("lavender")
    links = material_links(page)
    expect(links.filter(has_text="Linalool")).to_have_count(2)  # Linalool, Ethyl linalool

    page.get_by_label("Tier").select_option("heart")
    expect(page.locator(".result-count")).to_contain_text("heart tier")
    for tier in page.locator("table.catalogue-table tbody td:nth-child(3)").all_inner_texts():
        assert tier == "heart"
    expect(links.filter(has_text="Ethyl linalool")).to_have_count(1)
    expect(links.get_by_text("Linalool", exact=True)).to_have_count(0)

    page.get_by_label("Tier").select_option("")
    page.get_by_label("Family").select_option("woody")
    expect(page.locator(".result-count")).to_contain_text("family woody")
    for families in page.locator("table.catalogue-table tbody td:nth-child(4)").all_inner_texts():
        assert "woody" in families.split(", ")


def test_back_from_a_material_returns_to_the_same_search(page: Page, workbench: Workbench) -> None:
    search_box(page, workbench).fill("oakmoss")
    expect(page.locator(".result-count")).to_contain_text("for “oakmoss”")
    page.get_by_role("link", name="Oakmoss absolute").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Oakmoss absolute")

    page.go_back()
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("oakmoss")
    expect(page.locator(".result-count")).to_contain_text("for “oakmoss”")


@pytest.mark.expected_http_errors(404)
def test_an_unknown_cas_shows_the_api_answer_in_an_alert(page: Page, workbench: Workbench) -> None:
    page.goto(f"{workbench.url}/#/catalogue/50-00-0")
    expect(page.get_by_role("alert")).to_have_text("no material with CAS 50-00-0")
    expect(page.get_by_role("link", name="← Catalogue")).to_be_visible()
