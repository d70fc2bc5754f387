"""Honest reading (issue 25, item 5): a text that gives no olfactive direction is not read as
a fresh citrus woody; its job says what was read and asks for a direction; every content word
of a brief is read, matched, or listed as unread; evocations are read by the parser alone."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.domain.products import ProductType
from fragrance_ai.jobs.results import needs_direction
from tests.helpers import wait_for_job


@pytest.fixture(scope="module")
def parser() -> DeterministicBriefParser:
    return DeterministicBriefParser()


@pytest.mark.parametrize(
    "text",
    [
        "a candle for my living room",
        "a strong eau de parfum under 40 EUR/kg",
        "향초 하나 만들어 주세요",
    ],
)
def test_a_text_with_no_direction_is_not_understood_and_gets_no_families(
    parser: DeterministicBriefParser, text: str
) -> None:
    brief = parser.parse(text)
    assert brief.understood is False
    assert brief.families == []
    assert "families" not in brief.defaults_used


def test_the_needs_message_says_what_was_read_and_asks(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("a candle for my living room")
    assert brief.product is ProductType.CANDLE
    assert brief.unread_words == ["living", "room"]
    needs = needs_direction(brief)
    assert "the product (candle)" in needs
    assert "'living', 'room'" in needs
    assert "families" in needs
    assert needs_direction(parser.parse("qwzx blorp")).startswith("Nothing in the text reads")


@pytest.mark.parametrize(
    ("text", "unread"),
    [
        ("a durian and driftwood cologne", ["durian"]),
        ("두리안과 베르가못, 가벼운 향수", ["두리안"]),
        ("bergamot with a hint of quince and yuzu for my sister", ["quince", "sister"]),
        ("fresh citrus cologne for summer with a woody base", []),
    ],
)
def test_every_content_word_is_read_matched_or_listed(
    parser: DeterministicBriefParser, text: str, unread: list[str]
) -> None:
    assert parser.parse(text).unread_words == unread


def test_a_season_in_a_company_calendar_is_a_date_not_a_direction(
    parser: DeterministicBriefParser,
) -> None:
    launch = parser.parse("An eau de parfum for our spring launch.")
    assert launch.seasons == []
    assert not launch.understood
    assert "spring" in launch.unread_words
    assert parser.parse("a fresh spring floral").seasons == ["spring"]


def test_named_notes_map_to_their_catalogue_materials(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("fig, tomato leaf and apple with sea salt and driftwood")
    assert brief.notes == ["Stemone", "Isobutyl thiazole", "Fructone"]
    # No salt or driftwood material: listed, and read as evocations too.
    assert brief.unmatched_notes == ["sea salt", "driftwood"]
    assert {"sea_salt", "driftwood"} <= set(brief.evocations)


def test_orange_blossom_is_the_flower_and_survives_no_citrus(
    parser: DeterministicBriefParser,
) -> None:
    for text in ("orange blossom and white musk, no citrus", "오렌지 블라썸, 시트러스 없이"):
        brief = parser.parse(text)
        assert "Orange flower absolute" in brief.notes, text
        assert "Neroli oil" not in brief.notes
        assert brief.avoid == ["citrus"]
        assert "citrus" not in brief.families


@pytest.mark.parametrize(
    ("text", "evocation", "family"),
    [
        ("petrichor", "petrichor", "green"),
        ("캠프파이어", "campfire", "woody"),
        ("something like Shalimar", "shalimar", "amber"),
        ("a cosy scent", "cosy", "gourmand"),
        ("살냄새 같은 향수", "skin", "musky"),
    ],
)
def test_the_deterministic_parser_alone_reads_evocations(
    parser: DeterministicBriefParser, text: str, evocation: str, family: str
) -> None:
    brief = parser.parse(text)
    assert brief.understood
    assert evocation in brief.evocations
    assert family in brief.families
    assert "families" not in brief.defaults_used


def test_a_scene_is_not_read_as_a_product_or_an_intensity(
    parser: DeterministicBriefParser,
) -> None:
    assert parser.parse("an eau de parfum like clean laundry").product is ProductType.EDP
    brief = parser.parse("something like Light Blue")
    assert "intensity" in brief.defaults_used
    assert parser.parse("a light floral").intensity.value == "light"


def test_an_avoided_evocation_is_not_read_as_wanted(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("a clean floral, nothing like a campfire")
    assert "campfire" not in brief.evocations
    assert "campfire" in brief.avoid
    assert "smoky_tar" not in brief.accepted_clashes


def test_a_brief_with_no_direction_finishes_without_options_and_asks(
    client: TestClient,
) -> None:
    accepted = client.post("/v1/briefs", json={"text": "a candle for my living room"}).json()
    job = wait_for_job(client, str(accepted["job_id"]))
    assert job["status"] == "finished"
    result = job["result"]
    assert result["brief_understood"] is False
    assert result["formula_ids"] == []
    assert "the product (candle)" in result["needs"]
    assert result["unread_words"] == ["living", "room"]
    parsed = client.get(f"/v1/briefs/{accepted['brief_id']}").json()["parsed"]
    assert parsed["families"] == []


def test_an_evocative_brief_is_designed_and_its_reading_reported(client: TestClient) -> None:
    accepted = client.post(
        "/v1/briefs", json={"text": "a campfire candle with a durian twist", "mode": "fast"}
    ).json()
    job = wait_for_job(client, str(accepted["job_id"]), timeout_s=120)
    assert job["status"] == "finished", job
    result = job["result"]
    assert result["brief_understood"] is True
    assert result["formula_ids"]
    assert result["evocations"] == ["campfire"]
    assert result["unread_words"] == ["durian"]
    parsed = client.get(f"/v1/briefs/{accepted['brief_id']}").json()["parsed"]
    assert parsed["accepted_clashes"] == ["smoky_tar"]
    assert "families" not in parsed["defaults_used"]
