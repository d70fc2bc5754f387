"""Turns a perfumer's free-text brief into a CreativeBrief.

The deterministic parser is the always-available fallback behind any language-model parser:
a lexicon of perfumery words plus a few number patterns, English first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.products import ProductType

DEFAULT_FAMILIES = ("fresh", "citrus", "woody")
DEFAULT_INTENSITY = Intensity.MODERATE
DEFAULT_PRODUCT = ProductType.EDP

MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "romantic": ("romantic", "romance"),
    "sensual": ("sensual", "sexy", "seductive", "alluring"),
    "elegant": ("elegant", "sophisticated", "chic", "refined", "classy"),
    "playful": ("playful", "fun", "flirty", "cheerful"),
    "energetic": ("energetic", "energising", "energizing", "invigorating", "sporty", "vibrant"),
    "uplifting": ("uplifting", "joyful", "happy", "optimistic", "sunny"),
    "calm": ("calm", "calming", "relaxing", "serene", "soothing", "peaceful", "zen"),
    "cozy": ("cozy", "cosy", "comforting", "snug"),
    "mysterious": ("mysterious", "mystical", "dark", "enigmatic", "smoky"),
    "confident": ("confident", "assertive", "powerful presence"),
    "nostalgic": ("nostalgic", "vintage", "retro", "classic"),
    "modern": ("modern", "minimalist", "contemporary", "futuristic"),
    "luxurious": ("luxurious", "luxury", "opulent", "precious"),
}

SEASON_WORDS: dict[str, tuple[str, ...]] = {
    "spring": ("spring", "springtime"),
    "summer": ("summer", "summery", "summertime"),
    "autumn": ("autumn", "autumnal", "fall"),
    "winter": ("winter", "wintery", "wintry", "christmas"),
}

INTENSITY_WORDS: dict[Intensity, tuple[str, ...]] = {
    Intensity.LIGHT: ("light", "subtle", "soft", "sheer", "airy", "delicate", "discreet", "gentle"),
    Intensity.MODERATE: ("moderate", "balanced", "medium", "everyday", "versatile"),
    Intensity.STRONG: (
        "strong", "intense", "powerful", "bold", "heavy", "rich", "loud", "beast mode",
        "potent", "long lasting", "projecting",
    ),
}  # fmt: skip

PRODUCT_WORDS: dict[ProductType, tuple[str, ...]] = {
    ProductType.EDC: ("eau de cologne", "cologne", "edc"),
    ProductType.EDT: ("eau de toilette", "toilette", "edt"),
    ProductType.EDP: ("eau de parfum", "edp"),
    ProductType.PARFUM: (
        "extrait de parfum", "extrait", "parfum", "perfume extract", "pure perfume",
    ),
    ProductType.BODY_LOTION: ("body lotion", "lotion", "body milk", "body cream"),
    ProductType.CANDLE: ("candle", "candles", "scented candle"),
    ProductType.FACE_CREAM: ("face cream", "face moisturiser", "face moisturizer"),
    ProductType.HAND_CREAM: ("hand cream",),
    ProductType.DEODORANT: ("deodorant", "antiperspirant"),
    ProductType.HAIR_SPRAY: ("hair spray", "hairspray"),
    ProductType.SHAMPOO: ("shampoo",),
    ProductType.SHOWER_GEL: ("shower gel", "body wash"),
    ProductType.SOAP: ("bar soap", "soap"),
    ProductType.REED_DIFFUSER: ("reed diffuser", "diffuser"),
    ProductType.LAUNDRY_DETERGENT: ("laundry detergent", "laundry", "detergent"),
    ProductType.FABRIC_SOFTENER: ("fabric softener", "softener"),
    ProductType.AIR_FRESHENER_SPRAY: ("air freshener", "room spray"),
}  # fmt: skip

# "no patchouli", "without oakmoss or musk", "avoid vanilla", "patchouli-free".
_AVOID_TRIGGER = re.compile(
    r"(?<![a-z0-9])(?:no|without|avoid|avoiding|exclude|excluding|free of|free from|"
    r"do not want|don t want|dont want|hate|nothing)(?![a-z0-9])"
)
_SUFFIX_FREE = re.compile(r"(?<![a-z0-9])([a-z][a-z ]{1,30}?)-free(?![a-z0-9])")
# An avoid list runs until punctuation or a word that starts a new clause.
_CLAUSE_END = re.compile(
    r"[.;:!?,()\n]|(?<![a-z0-9])(?:but|with|please|for|that|which)(?![a-z0-9])"
)
_AVOID_SCOPE_CHARS = 60
_STOPWORDS = frozenset({
    "a", "an", "the", "any", "of", "or", "and", "too", "much", "more", "very", "really", "some",
    "heavy", "strong", "notes", "note",
})  # fmt: skip

# A word that asks for a low price without a figure reads as this budget, EUR per kg of
# concentrate: the lower end of what functional and mass-market fragrances cost.
ECONOMY_BUDGET_EUR_PER_KG = 20.0
_ECONOMY = re.compile(
    r"(?<![a-z0-9])(?:cheap|cheaper|inexpensive|affordable|budget|low cost|low-cost|"
    r"economical|economy|mass market|mass-market|value)(?![a-z0-9])"
)
_NUMBER = r"(\d{1,7}(?:[.,]\d{1,3})?)"
_CURRENCY = r"(?:€|eur|euros?)"
_PER_KG = r"(?:\s*(?:/|per|a)\s*(?:kg|kilo|kilogram)s?(?![a-z0-9]))"
_BUDGET = re.compile(rf"(?:{_CURRENCY}\s*{_NUMBER}|{_NUMBER}\s*{_CURRENCY}(?![a-z]))({_PER_KG})?")
_PERCENT = re.compile(rf"{_NUMBER}\s*%(?!\s*(?:natural|organic|vegan|pure|recycl))")
_HOURS = re.compile(rf"{_NUMBER}\s*\+?\s*-?\s*(?:hours?|hrs?|h)(?![a-z0-9])")


class BriefParser(Protocol):
    def parse(self, text: str, *, product: ProductType | None = None) -> CreativeBrief: ...


@dataclass(frozen=True)
class _Term:
    kind: str  # family | note | mood | season | intensity | product
    value: str


@dataclass
class _Findings:
    families: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    seasons: list[str] = field(default_factory=list)
    intensities: list[Intensity] = field(default_factory=list)
    products: list[ProductType] = field(default_factory=list)
    avoid: list[str] = field(default_factory=list)

    def add(self, term: _Term) -> None:
        target: list[str] = {
            "family": self.families,
            "note": self.notes,
            "mood": self.moods,
            "season": self.seasons,
        }.get(term.kind, [])
        if term.kind == "intensity":
            self.intensities.append(Intensity(term.value))
        elif term.kind == "product":
            self.products.append(ProductType(term.value))
        elif term.value not in target:
            target.append(term.value)


def normalise_text(text: str) -> str:
    """Lower case, accents stripped, apostrophes and odd unicode made harmless."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    lowered = stripped.lower().replace("\u2019", " ").replace("'", " ")
    # Keep letters, digits and the punctuation the patterns need; everything else is a space.
    kept = (
        ch if (ch.isascii() and (ch.isalnum() or ch in "%.,;:!?/-+()\n")) or ch == "€" else " "
        for ch in lowered
    )
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(kept))


class DeterministicBriefParser:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue if catalogue is not None else load_catalogue()
        self._lexicon = self._build_lexicon()
        phrases = sorted(self._lexicon, key=len, reverse=True)
        # One alternation, longest phrase first, so "eau de parfum" beats "parfum" and
        # "orange blossom" beats "orange".
        self._pattern = re.compile(
            r"(?<![a-z0-9])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![a-z0-9])"
        )

    def _build_lexicon(self) -> dict[str, _Term]:
        lexicon: dict[str, _Term] = {}

        def add(words: tuple[str, ...], term: _Term) -> None:
            for word in words:
                lexicon.setdefault(normalise_text(word).strip(), term)

        for product, words in PRODUCT_WORDS.items():
            add(words, _Term("product", product.value))
        # Material names come before family words, so "leather note" is a material but
        # "leather" stays a family.
        for ingredient in self._catalogue:
            add(ingredient.names(), _Term("note", ingredient.name))
        for family, words in FAMILY_WORDS.items():
            add(words, _Term("family", family))
        for mood, words in MOOD_WORDS.items():
            add(words, _Term("mood", mood))
        for season, words in SEASON_WORDS.items():
            add(words, _Term("season", season))
        for intensity, words in INTENSITY_WORDS.items():
            add(words, _Term("intensity", intensity.value))
        lexicon.pop("", None)
        return lexicon

    def parse(self, text: str, *, product: ProductType | None = None) -> CreativeBrief:
        clean = normalise_text(text)
        avoid_spans = list(self._avoid_spans(clean))
        findings = _Findings()
        for match in self._pattern.finditer(clean):
            term = self._lexicon[match.group(0)]
            if any(start <= match.start() < end for start, end in avoid_spans):
                if term.kind in ("note", "family") and term.value not in findings.avoid:
                    findings.avoid.append(term.value)
                continue
            findings.add(term)
        for start, end in avoid_spans:
            self._add_unrecognised_avoid(clean[start:end], findings)
        findings.notes = [note for note in findings.notes if note not in findings.avoid]
        findings.families = [f for f in findings.families if f not in findings.avoid]

        budget = _first_budget(clean)
        if budget is None and _ECONOMY.search(clean):
            budget = ECONOMY_BUDGET_EUR_PER_KG
        dosage = _first_in_range(_PERCENT, _without_budgets(clean), low=0, high=40)
        longevity = _first_in_range(_HOURS, clean, low=0, high=72)
        understood = bool(
            findings.families
            or findings.notes
            or findings.moods
            or findings.seasons
            or findings.intensities
            or findings.products
            or findings.avoid
            or budget is not None
            or dosage is not None
            or longevity is not None
        )
        return self._assemble(
            findings,
            product=product,
            budget=budget,
            dosage=dosage,
            longevity=longevity,
            understood=understood,
        )

    def _assemble(
        self,
        findings: _Findings,
        *,
        product: ProductType | None,
        budget: float | None,
        dosage: float | None,
        longevity: float | None,
        understood: bool,
    ) -> CreativeBrief:
        defaults_used: list[str] = []
        families = findings.families or self._families_of_notes(findings.notes)
        if not families:
            families = [f for f in DEFAULT_FAMILIES if f not in findings.avoid]
            defaults_used.append("families")
        if product is None:
            product = findings.products[-1] if findings.products else None
        if product is None:
            product = DEFAULT_PRODUCT
            defaults_used.append("product")
        if findings.intensities:
            # Most mentioned wins; on a tie, the first mentioned.
            intensity = Counter(findings.intensities).most_common(1)[0][0]
        else:
            intensity = DEFAULT_INTENSITY
            defaults_used.append("intensity")
        if dosage is None:
            defaults_used.append("dosage_percent")
        return CreativeBrief(
            families=families,
            notes=findings.notes,
            moods=findings.moods,
            seasons=findings.seasons,
            intensity=intensity,
            product=product,
            dosage_percent=dosage,
            budget_per_kg_eur=budget,
            avoid=findings.avoid,
            longevity_hours=longevity,
            language="en",
            understood=understood,
            defaults_used=defaults_used,
        )

    def _families_of_notes(self, notes: list[str]) -> list[str]:
        families: list[str] = []
        for note in notes:
            ingredient = self._catalogue.find(note)
            if ingredient is not None and ingredient.families[0] not in families:
                families.append(ingredient.families[0])
        return families

    def _avoid_spans(self, clean: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for trigger in _AVOID_TRIGGER.finditer(clean):
            start = trigger.end()
            window = clean[start : start + _AVOID_SCOPE_CHARS]
            stop = _CLAUSE_END.search(window)
            spans.append((start, start + (stop.start() if stop else len(window))))
        for suffix in _SUFFIX_FREE.finditer(clean):
            spans.append((suffix.start(1), suffix.end(1)))
        return spans

    def _add_unrecognised_avoid(self, scope: str, findings: _Findings) -> None:
        """'no oud' names something the lexicon lacks; keep the word so callers can honour
        it by name."""
        if self._pattern.search(scope):
            return
        words = [w for w in re.findall(r"[a-z][a-z-]+", scope) if w not in _STOPWORDS]
        if words and len(words[0]) >= 3 and words[0] not in findings.avoid:
            findings.avoid.append(words[0])


def _to_float(raw: str) -> float:
    return float(raw.replace(",", "."))


def _first_budget(clean: str) -> float | None:
    # A figure quoted per kg is the budget; otherwise the first money figure is.
    candidates: list[tuple[bool, float]] = []
    for match in _BUDGET.finditer(clean):
        raw = match.group(1) or match.group(2)
        value = _to_float(raw)
        if value > 0:
            candidates.append((match.group(3) is not None, value))
    per_kg = [value for is_per_kg, value in candidates if is_per_kg]
    if per_kg:
        return per_kg[0]
    return candidates[0][1] if candidates else None


def _without_budgets(clean: str) -> str:
    return _BUDGET.sub(" ", clean)


def _first_in_range(
    pattern: re.Pattern[str], clean: str, *, low: float, high: float
) -> float | None:
    for match in pattern.finditer(clean):
        value = _to_float(match.group(1))
        if low < value <= high:
            return value
    return None
