"""The workbench's shell in Chromium: the page at `/` and its security policy, the router,
keyboard use, and a page that loads nothing from anywhere else. Each page of the workbench
has its own file."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, expect

from tests.browser.workbench import Workbench

NAV_LINKS = ["Brief", "Check a formula", "Catalogue", "Training"]


def test_root_serves_the_page_under_a_same_origin_policy_and_its_modules_run(
    page: Page, workbench: Workbench
) -> None:
    response = page.goto(workbench.url)
    assert response is not None
    assert response.status == 200
    policy = response.headers.get("content-security-policy", "")
    directives = {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }
    assert directives.get("default-src") == ["'self'"], policy
    nav = page.get_by_role("navigation", name="Workbench")
    expect(nav.get_by_role("link")).to_have_text(NAV_LINKS)
    # The title and the view's content come from the router (js/main.js and the page modules):
    # the noscript notice is gone and the brief page is drawn in its place.
    expect(page).to_have_title("Brief · Fragrance AI workbench")
    expect(page.locator("main#view noscript")).to_have_count(0)
    expect(page.locator("main#view")).not_to_be_empty()
    expect(nav.get_by_role("link", name="Brief")).to_have_attribute("aria-current", "page")


def test_keyboard_alone_reaches_the_skip_link_and_every_nav_link_and_opens_check(
    page: Page, workbench: Workbench
) -> None:
    # The page README opens (`#/`, the fixture's start) leaves the focus at the document's
    # start: no autofocus pulls a keyboard user past the skip link and the navigation.
    nav = page.get_by_role("navigation", name="Workbench")
    expect(nav.get_by_role("link", name="Brief")).to_have_attribute("aria-current", "page")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for name in NAV_LINKS:
        page.keyboard.press("Tab")
        expect(nav.get_by_role("link", name=name)).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    check = nav.get_by_role("link", name="Check a formula")
    expect(check).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{workbench.url}/#/check")
    expect(check).to_have_attribute("aria-current", "page")
    expect(nav.locator("[aria-current]")).to_have_count(1)
    expect(page).to_have_title("Check a formula · Fragrance AI workbench")
    # The new view takes the focus, so the next Tab continues inside it.
    expect(page.locator("main#view")).to_be_focused()


def test_an_unknown_hash_says_there_is_no_page_there(page: Page, workbench: Workbench) -> None:
    page.goto(f"{workbench.url}/#/nope")
    expect(page.get_by_role("alert")).to_have_text("No page at #/nope.")
    nav = page.get_by_role("navigation", name="Workbench")
    expect(nav.locator("[aria-current]")).to_have_count(0)


def test_every_request_of_every_page_stays_on_the_workbench_origin(
    page: Page, workbench: Workbench
) -> None:
    requested: list[str] = []

    def on_request(sent: Request) -> None:
        requested.append(sent.url)

    page.on("request", on_request)
    page.reload(wait_until="networkidle")
    nav = page.get_by_role("navigation", name="Workbench")
    for name in NAV_LINKS:
        nav.get_by_role("link", name=name).click()
        expect(nav.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
        page.wait_for_load_state("networkidle")

    origin = urlsplit(workbench.url)
    elsewhere = [
        url
        for url in requested
        if (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
    ]
    assert elsewhere == []
    paths = {urlsplit(url).path for url in requested}
    # The page, its stylesheet and its modules were all seen, so the check above had
    # something to check.
    assert {"/", "/static/css/workbench.css", "/static/js/main.js"} <= paths, paths
    assert any(re.fullmatch(r"/static/js/pages/\w+\.js", path) for path in paths), paths
