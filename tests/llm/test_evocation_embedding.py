"""The evocation paraphrase matcher with the real all-MiniLM-L6-v2 (requirements-models.txt),
on the real evocation library, alone and inside the ensemble's reading. The model loads once
for the module (a few seconds); each reading takes milliseconds."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.evocations import load_evocations
from fragrance_ai.llm.cache import ReadingCache
from fragrance_ai.llm.ensemble import BriefEnsemble, BriefRequest
from fragrance_ai.llm.evocation_embedding import (
    ParaphraseMatcher,
    ParaphraseReader,
    SentenceEmbedder,
    locate_model,
    split_clauses,
    unpack_model,
)
from fragrance_ai.llm.loading import ModelUnavailable
from fragrance_ai.optimize.space import build_space
from fragrance_ai.platform.atomic_file import temporary_name
from fragrance_ai.settings import ParaphraseSettings, RequestedMode, Settings

SHIPPED = ParaphraseSettings()

# Texts that describe an entry without any of its phrases, and the entry (from the tune split
# of bench/data/evocation_paraphrases.yaml; "fireplace", "freshly washed" are phrases).
PARAPHRASES = {
    "the smell of the ground after a summer storm": "petrichor",
    "logs crackling and glowing embers on a cold night": "campfire",
    "sheets hung out on the line to dry in the sun": "clean_laundry",
}
CAMPFIRE = "logs crackling and glowing embers on a cold night"
# What briefs say that evokes nothing.
NOT_EVOCATIVE = (
    "a candle for my living room",
    "an eau de parfum for a launch in March",
    "an affordable shampoo for the supermarket",
    "something for my sister's birthday",
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One for the module: the model is unpacked and the library embedded once.
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def model_dir(cache_dir: Path) -> Path:
    return locate_model(SHIPPED.model_path, cache_dir)


@pytest.fixture(scope="module")
def matcher(model_dir: Path) -> ParaphraseMatcher:
    return ParaphraseMatcher(
        SentenceEmbedder(model_dir),
        load_evocations(),
        threshold=SHIPPED.threshold,
        margin=SHIPPED.margin,
        max_matches=SHIPPED.max_matches,
    )


def settings(data_dir: Path, **paraphrases: object) -> Settings:
    # No language model for any role (the defaults): the embedded default's reading.
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        llm={"paraphrases": {"model_path": SHIPPED.model_path, **paraphrases}},
    )


@pytest.fixture
def shipped(tmp_path: Path, cache_dir: Path) -> Settings:
    return settings(tmp_path, cache_dir=cache_dir)


def ensemble(settings: Settings, catalogue: Catalogue) -> BriefEnsemble:
    built = BriefEnsemble(settings, catalogue, cache=ReadingCache(None, 0))
    built.load()
    return built


@pytest.mark.parametrize(("text", "entry"), PARAPHRASES.items())
def test_a_paraphrase_finds_its_entry(matcher: ParaphraseMatcher, text: str, entry: str) -> None:
    matches = matcher.match(text).matches
    assert [match.evocation.id for match in matches][:1] == [entry], matches
    assert all(match.how == "paraphrase" and match.phrase == text for match in matches)


@pytest.mark.parametrize("text", NOT_EVOCATIVE)
def test_a_sentence_that_evokes_nothing_matches_nothing(
    matcher: ParaphraseMatcher, text: str
) -> None:
    assert matcher.match(text).matches == []


def test_korean_is_left_to_the_literal_matcher(matcher: ParaphraseMatcher) -> None:
    outcome = matcher.match(f"비 온 뒤의 흙냄새, {CAMPFIRE}")
    assert outcome.korean_clauses == 1
    assert all("비" not in clause for clause in outcome.clauses)
    assert [match.evocation.id for match in outcome.matches] == ["campfire"]


def test_a_clause_is_read_whole_and_in_its_parts() -> None:
    assert split_clauses("A cologne with waves and salt; budget 40 EUR/kg") == [
        "A cologne with waves and salt",
        "A cologne",
        "waves",
        "salt",
        "budget 40 EUR",
        "kg",
    ]


def test_the_same_text_gives_the_same_matches_and_scores_every_time(
    matcher: ParaphraseMatcher, model_dir: Path
) -> None:
    text = f"{CAMPFIRE}, and the smell of the ground after a summer storm"
    again = ParaphraseMatcher(
        SentenceEmbedder(model_dir),
        load_evocations(),
        threshold=SHIPPED.threshold,
        margin=SHIPPED.margin,
        max_matches=SHIPPED.max_matches,
    )
    first, second, third = matcher.match(text), matcher.match(text), again.match(text)
    assert first == second == third
    assert len(first.matches) == 2
    assert matcher.scores(first.clauses) == again.scores(first.clauses)


def test_reading_without_any_language_model_applies_paraphrased_evocations(
    shipped: Settings, catalogue: Catalogue
) -> None:
    reading = ensemble(shipped, catalogue).read(
        BriefRequest("Logs crackling and glowing embers, for a winter candle", RequestedMode.FAST)
    )
    assert "campfire" in reading.brief.evocations
    path = reading.path["paraphrases"]
    assert path["outcome"] == "matched"
    assert [match["id"] for match in path["matches"]] == ["campfire"]
    assert path["matches"][0]["clause"] in ("Logs crackling and glowing embers", "Logs crackling")
    # A paraphrase is a suggestion: it lets no clash class in and makes no material a must.
    assert reading.brief.paraphrased_evocations == ["campfire"]
    assert "smoky_tar" not in reading.brief.accepted_clashes
    space = build_space(catalogue, reading.brief)
    campfire = next(e for e in load_evocations() if e.id == "campfire")
    groups = [*space.key_groups_by_name(), *space.missing_keys]
    assert not any(set(group) <= set(campfire.notes) for group in groups), (
        "a paraphrased evocation made its materials a must"
    )


def test_turned_off_the_reading_is_the_literal_one(tmp_path: Path, catalogue: Catalogue) -> None:
    reading = ensemble(settings(tmp_path, enabled=False), catalogue).read(
        BriefRequest("Logs crackling and glowing embers, for a winter candle", RequestedMode.FAST)
    )
    assert "campfire" not in reading.brief.evocations
    assert reading.path["paraphrases"] == {"outcome": "off"}


def test_a_literal_match_wins_over_a_paraphrase_of_the_same_entry(
    shipped: Settings, catalogue: Catalogue
) -> None:
    reading = ensemble(shipped, catalogue).read(
        BriefRequest(f"A campfire: {CAMPFIRE}", RequestedMode.FAST)
    )
    assert reading.brief.evocations.count("campfire") == 1
    assert "campfire" not in [m["id"] for m in reading.path["paraphrases"]["matches"]]


@pytest.mark.parametrize("broken", ["missing", "not a zip"])
def test_without_its_model_reading_goes_on_and_says_why(
    tmp_path: Path, catalogue: Catalogue, broken: str
) -> None:
    archive = tmp_path / "model.zip"
    if broken == "not a zip":
        archive.write_bytes(b"this is not a zip file")
    reading = ensemble(settings(tmp_path, model_path=str(archive)), catalogue).read(
        BriefRequest("Logs crackling and glowing embers, for a winter candle", RequestedMode.FAST)
    )
    assert reading.brief.understood  # "candle", "winter": the literal reading stands
    assert "campfire" not in reading.brief.evocations
    path = reading.path["paraphrases"]
    assert path["outcome"] == "unavailable"
    assert str(archive) in path["reason"]


def test_the_model_is_unpacked_once_and_never_half(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("config.json", "{}")
        bundle.writestr("1_Pooling/config.json", "{}")
    cache = tmp_path / "cache"
    # A dead writer's temporary, an hour old: removed by the next unpacking.
    stale = cache / temporary_name("model-0")
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{")
    old = stale.stat().st_mtime - 7200
    os.utime(stale, (old, old))
    first = unpack_model(archive, cache)
    assert (first / "config.json").read_text() == "{}"
    assert (first / "1_Pooling" / "config.json").is_file()
    assert not stale.exists()
    assert unpack_model(archive, cache) == first
    assert sorted(path.name for path in cache.iterdir()) == [first.name]


def test_an_archive_that_escapes_its_directory_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../outside.json", "{}")
    with pytest.raises(ModelUnavailable, match="escapes"):
        unpack_model(archive, tmp_path / "cache")
    assert not (tmp_path / "outside.json").exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_loading_in_the_background_reports_a_missing_wheel(tmp_path: Path) -> None:
    reader = ParaphraseReader(
        settings(tmp_path, model_path="package:no-such-wheel/model.zip"), lambda: ()
    )
    reader.start()
    assert reader.get() is None
    assert reader.unavailable is not None
    assert "no-such-wheel" in reader.unavailable
    assert reader.version == "unavailable"


def test_a_korean_brief_is_read_by_the_literal_matcher_alone(
    shipped: Settings, catalogue: Catalogue
) -> None:
    reading = ensemble(shipped, catalogue).read(
        BriefRequest("비 온 뒤의 흙냄새 같은 향수", RequestedMode.FAST)
    )
    assert "petrichor" in reading.brief.evocations  # the literal matcher's (phrases_ko)
    path = reading.path["paraphrases"]
    assert path["outcome"] == "none"
    assert path["clauses"] == 0
    assert path["korean_clauses_left_to_literal"] == 1
