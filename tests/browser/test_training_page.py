"""The training page (#/training) in Chromium: a training run started from its button and
followed to the end, its curves, the policy table, and a policy activated from there that the
API then reports active; and the refusals (409, 403, 422) told in words."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from fragrance_ai.settings import Settings
from tests.browser.workbench import Workbench

Shoot = Callable[[Page, str], Path]

# Two checkpoints (every 5 updates), so the run writes a policy that is not the active one.
TOTAL_UPDATES = 10
RUN_TIMEOUT_S = 120


def _wait_for_job(api: httpx.Client, job_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("finished", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s")


def _record_choices(api: httpx.Client, at_least: int) -> int:
    """A brief's options chosen between, then a chain of variation sets, each answered:
    every choice stores the chosen formula as preferred over each other one offered."""
    accepted = api.post(
        "/v1/briefs", json={"text": "fresh citrus cologne with a woody base", "mode": "fast"}
    )
    assert accepted.status_code == 202, accepted.text
    # The first brief of the session loads the small LLM.
    job = _wait_for_job(api, accepted.json()["job_id"], timeout_s=150)
    assert job["status"] == "finished", job
    options = job["result"]["formula_ids"]
    answer = api.post(
        "/v1/feedback", json={"brief_id": accepted.json()["brief_id"], "chosen_id": options[0]}
    )
    assert answer.status_code == 201, answer.text
    stored: int = answer.json()["preferences_stored"]
    parent = options[0]
    while stored < at_least:
        offered = api.post(f"/v1/formulas/{parent}/variations", json={"n": 3, "seed": stored})
        assert offered.status_code == 201, offered.text
        chosen = offered.json()["variations"][0]["formula_id"]
        answer = api.post(
            "/v1/feedback",
            json={"variation_set_id": offered.json()["variation_set_id"], "chosen_id": chosen},
        )
        assert answer.status_code == 201, answer.text
        stored += answer.json()["preferences_stored"]
        parent = chosen
    return stored


def _wait_until_no_run_is_busy(api: httpx.Client) -> None:
    # Enough choices in the session start a run by themselves (rl.auto_train_every).
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = api.get("/v1/training-runs").json()["items"]
        if not any(run["status"] in ("queued", "started") for run in runs):
            return
        time.sleep(0.5)
    raise AssertionError(f"a training run was still going after {RUN_TIMEOUT_S} s")


@pytest.mark.timeout(300)
def test_a_run_started_on_the_page_draws_its_curves_and_a_policy_activated_there_serves(
    page: Page, workbench: Workbench, shoot: Shoot
) -> None:
    needed = Settings(_env_file=None).rl.reward_model.min_preferences
    with httpx.Client(base_url=workbench.url, timeout=30) as api:
        _record_choices(api, at_least=needed)
        _wait_until_no_run_is_busy(api)
        before = {run["id"] for run in api.get("/v1/training-runs").json()["items"]}

        page.goto(f"{workbench.url}/#/training")
        expect(page.get_by_role("heading", name="Active policy")).to_be_visible()
        page.get_by_label("PPO updates (optional)").fill(str(TOTAL_UPDATES))
        page.get_by_role("button", name="Start a training run").click()
        expect(page.locator("#run-message")).to_contain_text("started")

        [run_id] = {run["id"] for run in api.get("/v1/training-runs").json()["items"]} - before
        row = page.locator(f"tr[data-run-id='{run_id}']")
        # The page polls the run and redraws its row until it ends.
        expect(row).to_have_attribute("data-status", "finished", timeout=RUN_TIMEOUT_S * 1000)
        expect(row.get_by_role("cell").nth(1)).to_contain_text("100 %")
        run = api.get(f"/v1/training-runs/{run_id}").json()
        assert run["status"] == "finished", run
        expect(row).to_contain_text(str(run["reward_model"]["preferences"]))

        detail = page.get_by_role("region", name=f"Run {run_id[:8]}")
        reward = detail.get_by_role(
            "img", name=re.compile(rf"^Mean reward per update, {TOTAL_UPDATES} updates: ")
        )
        expect(reward).to_be_visible()
        expect(reward.locator("polyline.series")).to_have_count(1)
        expect(reward.locator("circle.point")).to_have_count(TOTAL_UPDATES)
        expect(
            detail.get_by_role("img", name=re.compile(r"^Approximate KL per update, "))
        ).to_be_visible()
        expect(detail.get_by_role("heading", name="Rollbacks")).to_be_visible()

        policies = page.get_by_role("table", name=re.compile(r"^Policies training wrote"))
        for written in run["policies"]:
            expect(policies.locator(f"tr[data-policy-id='{written['id']}']")).to_have_count(1)
        # Training activated its best checkpoint if it beat the one before; any other policy
        # it wrote with its file still there can be activated by hand.
        [spare, *_] = [p for p in run["policies"] if p["kept"] and p["good"] and not p["active"]]
        policies.get_by_role("button", name=f"Activate version {spare['version']}").click()
        expect(page.locator(".training-active-policy")).to_contain_text(
            f"Version {spare['version']}"
        )
        expect(policies.locator(f"tr[data-policy-id='{spare['id']}']")).to_contain_text("Active")
        # The run's own view is read again: its list of policies says which serves now.
        written_line = f"v{spare['version']} at update {spare['at_update']} (active)"
        expect(detail).to_contain_text(written_line)
        assert api.get("/v1/policies").json()["active"] == {
            "id": spare["id"],
            "version": spare["version"],
        }
        shoot(page, "training")

        page.get_by_role("button", name="Back to the initial policy").click()
        expect(page.locator(".training-active-policy")).to_contain_text(
            "The initial uniform policy"
        )
        assert api.get("/v1/policies").json()["active"] is None


@pytest.mark.expected_http_errors(422)
def test_a_refused_number_of_updates_is_told_next_to_the_field(
    page: Page, workbench: Workbench
) -> None:
    page.goto(f"{workbench.url}/#/training")
    start = page.get_by_role("button", name="Start a training run")
    updates = page.get_by_label("PPO updates (optional)")
    # The service's own refusal: more updates than a run may take.
    updates.fill("100001")
    start.click()
    expect(updates).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#training-updates + .field-error")).to_have_text(
        "Input should be less than or equal to 100000"
    )
    expect(updates).to_be_focused()
    # A number that is not one is told before anything is sent.
    updates.fill("2.5")
    start.click()
    expect(page.locator("#training-updates + .field-error")).to_contain_text("whole number")
