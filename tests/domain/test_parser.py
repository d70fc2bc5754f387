import pytest

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.parser import DeterministicBriefParser
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.structures import load_structures


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if ch != " " else "\u3000" for ch in text)


@pytest.fixture(scope="module")
def parser() -> DeterministicBriefParser:
    return DeterministicBriefParser()


def test_citrus_cologne(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("fresh citrus cologne for summer with a woody base")
    assert {"citrus", "woody"} <= set(brief.families)
    assert brief.product is ProductType.EDC
    assert brief.seasons == ["summer"]
    assert brief.understood
    assert "product" not in brief.defaults_used
    assert "families" not in brief.defaults_used


def test_numbers_budget_and_avoid(parser: DeterministicBriefParser) -> None:
    brief = parser.parse(
        "Warm amber EDP, no patchouli, 20% concentration, lasts 8 hours, under 50 EUR/kg"
    )
    assert brief.avoid == ["Patchouli oil"]
    assert "Patchouli oil" not in brief.notes
    assert brief.dosage_percent == 20
    assert brief.longevity_hours == 8
    assert brief.budget_per_kg_eur == 50
    assert brief.product is ProductType.EDP


@pytest.mark.parametrize(
    ("text", "budget"),
    [("€40 per kg", 40), ("budget 35,5 euros/kg", 35.5), ("max 60 eur a kilo", 60)],
)
def test_budget_forms(parser: DeterministicBriefParser, text: str, budget: float) -> None:
    assert parser.parse(f"a floral {text}").budget_per_kg_eur == budget


def test_avoid_list_with_several_items(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("rose soliflore without vanilla or musk, but with jasmine")
    assert brief.avoid == ["Vanillin", "musky"]
    assert brief.notes == ["Rose oil", "Jasmine absolute"]


def test_unknown_avoided_word_is_kept(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("a floral, no unicorn dust please")
    assert brief.avoid == ["unicorn"]
    assert brief.families == ["floral"]


def test_notes_become_catalogue_names_and_imply_families(
    parser: DeterministicBriefParser,
) -> None:
    brief = parser.parse("bergamot, neroli and vetiver")
    assert brief.notes == ["Bergamot oil", "Neroli oil", "Vetiver oil"]
    assert brief.families == ["citrus", "floral", "woody"]


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("an eau de toilette", ProductType.EDT),
        ("eau de parfum", ProductType.EDP),
        ("extrait", ProductType.PARFUM),
        ("scented candle", ProductType.CANDLE),
        ("body lotion", ProductType.BODY_LOTION),
    ],
)
def test_product_words(parser: DeterministicBriefParser, text: str, product: ProductType) -> None:
    assert parser.parse(f"fresh {text}").product is product


def test_explicit_product_wins_over_text(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("a citrus cologne", product=ProductType.CANDLE)
    assert brief.product is ProductType.CANDLE


def test_intensity_words(parser: DeterministicBriefParser) -> None:
    assert parser.parse("a light airy floral").intensity is Intensity.LIGHT
    assert parser.parse("an intense, powerful leather").intensity is Intensity.STRONG


def test_a_note_asked_for_as_a_touch_is_an_accent(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("soft musk with a hint of rose, and jasmine for the heart")
    assert {"Rose oil", "Jasmine absolute"} <= set(brief.notes)
    assert brief.accent_notes == ["Rose oil"]
    laundry = parser.parse("fresh musk with a little lily of the valley and aldehydes")
    assert (
        set(laundry.accent_notes)
        == set(laundry.notes)
        == {
            "Hydroxycitronellal",
            "Aldehyde C-12 lauric",
        }
    )
    assert not laundry.unread_words


def test_a_mood_word_before_a_note_colours_the_note_and_names_no_structure(
    parser: DeterministicBriefParser,
) -> None:
    # "clean" alone suggests the white-musk skin scent; "clean musk" is a musk, in a brief
    # whose hero is the lavender of a fougere.
    alone = parser.parse("a clean, soft scent for a body lotion")
    assert alone.structure == "musk_skin"
    qualified = parser.parse("laundry detergent with a fresh lavender and clean musk scent")
    assert "clean" in qualified.evocations
    assert qualified.structure is None
    assert qualified.qualifying_evocations == ["clean"]
    assert load_structures().for_brief(qualified).id == "fougere"


def test_a_strong_word_denied_reads_as_light_and_is_read(
    parser: DeterministicBriefParser,
) -> None:
    for text in ("summer citrus with lemon, nothing heavy", "a rose, not too strong"):
        brief = parser.parse(text)
        assert brief.intensity is Intensity.LIGHT, text
        assert "intensity" not in brief.defaults_used
        assert not brief.unread_words


def test_gibberish_is_not_understood_and_gets_no_families(
    parser: DeterministicBriefParser,
) -> None:
    brief = parser.parse("qwzx blorp 12 zzkk")
    assert not brief.understood
    # No direction, so no families: not a fresh citrus woody made up for it.
    assert brief.families == []
    assert brief.product is ProductType.EDP
    assert brief.intensity is Intensity.MODERATE
    assert {"product", "intensity", "dosage_percent"} <= set(brief.defaults_used)
    assert brief.unread_words == ["qwzx", "blorp", "zzkk"]


def test_empty_text_is_a_valid_default_brief(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("")
    assert isinstance(brief, CreativeBrief)
    assert not brief.understood


def test_out_of_range_numbers_are_ignored(parser: DeterministicBriefParser) -> None:
    brief = parser.parse("100% natural woody, 500 hours")
    assert brief.dosage_percent is None
    assert brief.longevity_hours is None


@pytest.mark.parametrize(
    "text",
    [
        "x" * 10_000,
        "citrus " * 1_500,
        "🌸\u200b\u202e" * 3_000 + " jasmine",
        _fullwidth("Citrus fresh"),
        "fougère boisée épicée, sans patchouli\x00\x07",
        "no " * 3_000,
        "€" * 2_000 + "5",
    ],
)
def test_long_and_odd_text_never_crashes(parser: DeterministicBriefParser, text: str) -> None:
    brief = parser.parse(text)
    assert CreativeBrief.model_validate(brief.model_dump(mode="json")) == brief


def test_unicode_is_normalised(parser: DeterministicBriefParser) -> None:
    assert "citrus" in parser.parse(_fullwidth("Citrus")).families
    assert "aromatic" in parser.parse("a fougère").families
