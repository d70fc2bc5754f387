"""Turns a perfumer's free-text brief into a CreativeBrief.

The deterministic parser is the always-available fallback behind the language-model
ensemble, and the source of everything a text literally names (materials, numbers, forbidden
items): a lexicon of perfumery words in English and Korean plus a few number patterns, and the
evocation library's phrases (domain/evocations.py: "petrichor", "like Shalimar", "살냄새").
Notes it recognises but the catalogue lacks are kept as `unmatched_notes`; content words it
does not read are listed as `unread_words`. A text that gives no olfactive direction (no
family, note, mood, season or evocation) is `understood: false` with no families: the reading
says so and asks, it does not default to a fresh citrus.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fragrance_ai.domain.brief import CreativeBrief, Intensity
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.catalogue_file import load_catalogue
from fragrance_ai.domain.designer import MOOD_FAMILIES, SEASON_FAMILIES
from fragrance_ai.domain.evocations import (
    WHOLE_KINDS,
    Evocation,
    EvocationMatch,
    apply_evocations,
    literal_spans,
    load_evocations,
)
from fragrance_ai.domain.families import FAMILY_WORDS
from fragrance_ai.domain.lexicon_ko import (
    AVOID_AFTER_KO,
    ECONOMY_KO,
    FAMILIES_KO,
    INTENSITY_KO,
    LIST_JOINERS_KO,
    MOODS_KO,
    NOTES_KO,
    PRODUCTS_KO,
    SEASONS_KO,
)
from fragrance_ai.domain.note_words import NOTE_READINGS_FIRST, NOTE_WORDS, UNMATCHED_FAMILIES
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.text import language_of, normalise_text, phrase_pattern, unread_words

__all__ = ["BriefParser", "DeterministicBriefParser", "language_of", "normalise_text"]

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
    Intensity.LIGHT: (
        "light", "subtle", "soft", "sheer", "airy", "delicate", "discreet", "gentle",
        # A strong word denied asks for a light one (read whole, before "nothing" opens an
        # avoid list that would drop the word).
        "nothing heavy", "nothing too heavy", "not heavy", "not too heavy", "never heavy",
        "nothing strong", "nothing too strong", "not too strong", "not overpowering",
        "nothing overpowering",
    ),
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
# "a hint of rose", "a little lily of the valley and aldehydes": the notes that follow, to the
# end of the clause, are accents, not the heart of the brief.
_ACCENT_TRIGGER = re.compile(
    r"(?<![a-z0-9])(?:(?:a |the )?(?:hint|hints|touch|touches|dash|whisper|trace|pinch|drop|"
    r"nuance|suggestion|bit|little bit) of|a little|slightly|a twist of)(?![a-z0-9])"
    r"|살짝|약간|조금"
)
_ACCENT_CLAUSE_END = re.compile(
    r"[.;:!?,()\n]|(?<![a-z0-9])(?:but|with|please|for|that|which|over|on)(?![a-z0-9])"
)
_STOPWORDS = frozenset({
    "a", "an", "the", "any", "of", "or", "and", "too", "much", "more", "very", "really", "some",
    "heavy", "strong", "notes", "note", "like", "smell", "smells", "smelling",
})  # fmt: skip

# A word that asks for a low price without a figure reads as this budget, EUR per kg of
# concentrate: the lower end of what functional and mass-market fragrances cost.
ECONOMY_BUDGET_EUR_PER_KG = 20.0
_ECONOMY = re.compile(
    r"(?<![a-z0-9])(?:cheap|cheaper|inexpensive|affordable|budget|low cost|low-cost|"
    r"economical|economy|mass market|mass-market|value)(?![a-z0-9])"
)
_ECONOMY_KO = re.compile("|".join(ECONOMY_KO))
_NUMBER = r"(\d{1,7}(?:[.,]\d{1,3})?)"
_CURRENCY = r"(?:€|eur|euros?|유로)"
_PER_KG = r"(?:\s*(?:/|per|a)\s*(?:kg|kilo|kilogram)s?(?![a-z0-9])|\s*(?:kg|킬로)\s*당)"
# "kg당 40유로": Korean puts the unit first.
_KG_FIRST = r"(?:kg|킬로그램|킬로)\s*당\s*"
_BUDGET = re.compile(
    rf"(?:{_CURRENCY}\s*{_NUMBER}|({_KG_FIRST})?{_NUMBER}\s*{_CURRENCY}(?![a-z]))({_PER_KG})?"
)
_PERCENT = re.compile(rf"{_NUMBER}\s*%(?!\s*(?:natural|organic|vegan|pure|recycl))")
_HOURS = re.compile(rf"{_NUMBER}\s*\+?\s*-?\s*(?:hours?|hrs?|h|시간)(?![a-z0-9])")


class BriefParser(Protocol):
    def parse(self, text: str, *, product: ProductType | None = None) -> CreativeBrief: ...


@dataclass(frozen=True)
class _Term:
    kind: str  # family | note | unmatched | mood | season | intensity | product
    value: str


@dataclass
class _Findings:
    families: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    moods: list[str] = field(default_factory=list)
    seasons: list[str] = field(default_factory=list)
    intensities: list[Intensity] = field(default_factory=list)
    products: list[ProductType] = field(default_factory=list)
    avoid: list[str] = field(default_factory=list)
    accents: list[str] = field(default_factory=list)

    def add(self, term: _Term) -> None:
        target: list[str] = {
            "family": self.families,
            "note": self.notes,
            "unmatched": self.unmatched,
            "mood": self.moods,
            "season": self.seasons,
        }.get(term.kind, [])
        if term.kind == "intensity":
            self.intensities.append(Intensity(term.value))
        elif term.kind == "product":
            self.products.append(ProductType(term.value))
        elif term.value not in target:
            target.append(term.value)


# After a season word, a word that makes it a date in a company's calendar.
_CALENDAR = re.compile(
    r"\s+(?:launch|launches|collection|collections|campaign|release|range|line|drop|edition)\b"
)


class DeterministicBriefParser:
    def __init__(
        self,
        catalogue: Catalogue | None = None,
        evocations: Sequence[Evocation] | None = None,
    ) -> None:
        self._catalogue = catalogue if catalogue is not None else load_catalogue()
        self._evocations = tuple(evocations) if evocations is not None else load_evocations()
        self._lexicon = self._build_lexicon()
        # "orange blossom" beats "orange", "eau de parfum" beats "parfum".
        self._pattern = phrase_pattern(list(self._lexicon))

    def _build_lexicon(self) -> dict[str, _Term]:
        lexicon: dict[str, _Term] = {}

        def add(words: tuple[str, ...], term: _Term) -> None:
            for word in words:
                lexicon.setdefault(normalise_text(word).strip(), term)

        for word, name in NOTE_READINGS_FIRST.items():
            add((word,), self._note_term(name))
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
        # Note words last: "leather" stays a family, "musk" a family word.
        for word in NOTE_WORDS:
            add((word,), self._note_term(word))
        for word, term in self._korean_terms():
            add((word,), term)
        # "roses", "figs", "violets": the plural of a single-word note reads as the note.
        for word, term in list(lexicon.items()):
            single = word.isascii() and word.isalpha() and len(word) >= 3
            if single and term.kind in ("note", "unmatched") and not word.endswith("s"):
                lexicon.setdefault(word + "s", term)
        lexicon.pop("", None)
        return lexicon

    def _korean_terms(self) -> list[tuple[str, _Term]]:
        terms = [(word, _Term("product", product.value)) for word, product in PRODUCTS_KO.items()]
        terms += [(word, _Term("family", family)) for word, family in FAMILIES_KO.items()]
        terms += [(word, self._note_term(note)) for word, note in NOTES_KO.items()]
        terms += [(word, _Term("mood", mood)) for word, mood in MOODS_KO.items()]
        terms += [(word, _Term("season", season)) for word, season in SEASONS_KO.items()]
        terms += [(word, _Term("intensity", level)) for word, level in INTENSITY_KO.items()]
        return terms

    def _note_term(self, word_or_name: str) -> _Term:
        """A catalogue material when the word (or what NOTE_WORDS maps it to) is one; else an
        unmatched note, named by its English word."""
        target = NOTE_WORDS.get(word_or_name, word_or_name)
        ingredient = self._catalogue.find(target) if target else None
        if ingredient is not None:
            return _Term("note", ingredient.name)
        return _Term("unmatched", word_or_name)

    def parse(self, text: str, *, product: ProductType | None = None) -> CreativeBrief:
        clean = normalise_text(text)
        avoid_spans = list(self._avoid_spans(clean))
        accent_spans = list(_scopes(clean, _ACCENT_TRIGGER, _ACCENT_CLAUSE_END))

        def avoided(start: int) -> bool:
            return any(low <= start < high for low, high in avoid_spans)

        findings = _Findings()
        read: list[tuple[int, int]] = []
        matches, whole = self._evocations_in(clean, avoided, findings, read)
        for match in self._pattern.finditer(clean):
            term = self._lexicon[match.group(0)]
            read.append(match.span())
            if avoided(match.start()):
                kinds = ("note", "family", "unmatched")
                if term.kind in kinds and term.value not in findings.avoid:
                    findings.avoid.append(term.value)
                continue
            inside_whole = any(s <= match.start() and match.end() <= e for s, e in whole)
            if inside_whole and term.kind in ("product", "intensity"):
                continue
            if term.kind == "season" and _CALENDAR.match(clean, match.end()):
                # "our spring launch", "the summer collection": a date, not a direction; the
                # word is left unread rather than read as a season.
                read.pop()
                continue
            findings.add(term)
            accent = any(low <= match.start() < high for low, high in accent_spans)
            if accent and term.kind == "note" and term.value not in findings.accents:
                findings.accents.append(term.value)
        for start, end in avoid_spans:
            self._add_unrecognised_avoid(clean[start:end], findings)
        findings.notes = [note for note in findings.notes if note not in findings.avoid]
        findings.unmatched = [note for note in findings.unmatched if note not in findings.avoid]
        findings.families = [f for f in findings.families if f not in findings.avoid]

        budget = _first_budget(clean)
        if budget is None and (_ECONOMY.search(clean) or _ECONOMY_KO.search(clean)):
            budget = ECONOMY_BUDGET_EUR_PER_KG
        dosage = _first_in_range(_PERCENT, _without_budgets(clean), low=0, high=40)
        longevity = _first_in_range(_HOURS, clean, low=0, high=72)
        patterns = (
            _BUDGET, _PERCENT, _HOURS, _ECONOMY, _ECONOMY_KO, _AVOID_TRIGGER, _KO_AVOID,
            _ACCENT_TRIGGER,
        )  # fmt: skip
        for pattern in patterns:
            read.extend(m.span() for m in pattern.finditer(clean))
        unread = [word for word in unread_words(clean, read) if word not in findings.avoid]
        # A direction: something that says what it should smell like. A product, a budget
        # or an intensity alone does not.
        directed = bool(
            findings.families
            or findings.notes
            or findings.unmatched
            or findings.moods
            or findings.seasons
            or matches
        )
        brief = self._assemble(
            findings,
            language=language_of(text),
            product=product,
            budget=budget,
            dosage=dosage,
            longevity=longevity,
            understood=directed,
            unread=unread,
        )
        brief = apply_evocations(brief, matches, catalogue=self._catalogue)
        if not brief.families and directed:
            # Moods and seasons with no evocation, or notes with no material: their families.
            families = self._families_of_words(findings)
            brief = brief.model_copy(update={"families": families})
        return brief

    def _evocations_in(
        self,
        clean: str,
        avoided: Callable[[int], bool],
        findings: _Findings,
        read: list[tuple[int, int]],
    ) -> tuple[list[EvocationMatch], list[tuple[int, int]]]:
        """The evocations the text names (each once), and the spans of the scenes and
        perfumes among them, read as wholes."""
        matches: list[EvocationMatch] = []
        whole: list[tuple[int, int]] = []
        for span in literal_spans(clean, self._evocations):
            read.append((span.start, span.end))
            if avoided(span.start):
                # "nothing like a campfire": read, and kept as a word to avoid.
                if span.phrase not in findings.avoid:
                    findings.avoid.append(span.phrase)
                continue
            if span.evocation.kind in WHOLE_KINDS:
                whole.append((span.start, span.end))
            if all(m.evocation.id != span.evocation.id for m in matches):
                qualifier = span.evocation.kind == "mood" and self._note_follows(clean, span.end)
                matches.append(
                    EvocationMatch(span.evocation, span.phrase, 1.0, "literal", qualifier)
                )
        return matches, whole

    def _note_follows(self, clean: str, end: int) -> bool:
        """A note or family word right after a mood word ("clean musk", "warm vanilla"): the
        mood qualifies the note. English word order only; a Korean adjective qualifies the
        whole phrase it opens, which this cannot tell."""
        start = end + len(clean[end:]) - len(clean[end:].lstrip(" "))
        following = self._pattern.match(clean, start)
        if following is None or start == end:
            return False
        return self._lexicon[following.group(0)].kind in ("note", "family", "unmatched")

    def _assemble(
        self,
        findings: _Findings,
        *,
        language: str,
        product: ProductType | None,
        budget: float | None,
        dosage: float | None,
        longevity: float | None,
        understood: bool,
        unread: list[str],
    ) -> CreativeBrief:
        defaults_used: list[str] = []
        # No default families: with no direction the brief is not understood and the job
        # asks for one; with one, the families come from what was read.
        families = findings.families or self._families_of_notes(findings.notes)
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
            accent_notes=[note for note in findings.accents if note in findings.notes],
            unmatched_notes=findings.unmatched,
            moods=findings.moods,
            seasons=findings.seasons,
            intensity=intensity,
            product=product,
            dosage_percent=dosage,
            budget_per_kg_eur=budget,
            avoid=findings.avoid,
            longevity_hours=longevity,
            language=language,
            understood=understood,
            defaults_used=defaults_used,
            unread_words=unread,
        )

    def _families_of_words(self, findings: _Findings) -> list[str]:
        """Families of unmatched notes, moods and seasons, in the vocabulary's order."""
        wanted: set[str] = {
            UNMATCHED_FAMILIES[note] for note in findings.unmatched if note in UNMATCHED_FAMILIES
        }
        for mood in findings.moods:
            wanted |= MOOD_FAMILIES.get(mood, frozenset())
        for season in findings.seasons:
            wanted |= SEASON_FAMILIES.get(season, frozenset())
        return [
            family for family in FAMILY_WORDS if family in wanted and family not in findings.avoid
        ]

    def _families_of_notes(self, notes: list[str]) -> list[str]:
        families: list[str] = []
        for note in notes:
            ingredient = self._catalogue.find(note)
            if ingredient is not None and ingredient.families[0] not in families:
                families.append(ingredient.families[0])
        return families

    def _avoid_spans(self, clean: str) -> list[tuple[int, int]]:
        spans = list(_scopes(clean, _AVOID_TRIGGER, _CLAUSE_END))
        for suffix in _SUFFIX_FREE.finditer(clean):
            spans.append((suffix.start(1), suffix.end(1)))
        spans.extend(_korean_avoid_spans(clean))
        return spans

    def _add_unrecognised_avoid(self, scope: str, findings: _Findings) -> None:
        """'no oud' names something the lexicon lacks; keep the word so callers can honour
        it by name."""
        if self._pattern.search(scope) or literal_spans(scope, self._evocations):
            return
        words = [w for w in re.findall(r"[a-z][a-z-]+", scope) if w not in _STOPWORDS]
        if words and len(words[0]) >= 3 and words[0] not in findings.avoid:
            findings.avoid.append(words[0])


_KO_AVOID = re.compile("|".join(AVOID_AFTER_KO))


def _scopes(
    clean: str, trigger: re.Pattern[str], clause_end: re.Pattern[str]
) -> Iterator[tuple[int, int]]:
    """What each trigger word governs: from the word to the end of its clause, at most
    _AVOID_SCOPE_CHARS ("no patchouli or oud, ..."; "a hint of rose and ...")."""
    for found in trigger.finditer(clean):
        start = found.end()
        window = clean[start : start + _AVOID_SCOPE_CHARS]
        stop = clause_end.search(window)
        yield start, start + (stop.start() if stop else len(window))


def _korean_avoid_spans(clean: str) -> list[tuple[int, int]]:
    """The words just before a Korean word that forbids ("패출리 없이"), and the words
    joined to them as a list ("패출리와 오크모스는 빼고"), up to the clause's start."""
    spans: list[tuple[int, int]] = []
    for trigger in _KO_AVOID.finditer(clean):
        clause_start = max(clean.rfind(mark, 0, trigger.start()) for mark in ".;:!?\n,") + 1
        words = list(re.finditer(r"\S+", clean[clause_start : trigger.start()]))
        if not words:
            continue
        first = len(words) - 1
        while first > 0 and words[first - 1].group(0).endswith(LIST_JOINERS_KO):
            first -= 1
        spans.append((clause_start + words[first].start(), trigger.start()))
    return spans


def _to_float(raw: str) -> float:
    return float(raw.replace(",", "."))


def _first_budget(clean: str) -> float | None:
    # A figure quoted per kg is the budget; otherwise the first money figure is.
    candidates: list[tuple[bool, float]] = []
    for match in _BUDGET.finditer(clean):
        raw = match.group(1) or match.group(3)
        value = _to_float(raw)
        if value > 0:
            quoted_per_kg = match.group(2) is not None or match.group(4) is not None
            candidates.append((quoted_per_kg, value))
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
