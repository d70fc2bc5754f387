"""Text normalisation shared by everything that reads a brief literally (the parser, the
evocation library, the reading cache): one form, so a phrase written once matches however the
perfumer typed it."""

from __future__ import annotations

import re
import unicodedata

HANGUL = re.compile("[\uac00-\ud7a3]")


def normalise_text(text: str) -> str:
    """Lower case, accents stripped, apostrophes and odd unicode made harmless; Hangul kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # NFKD splits Hangul syllables into jamo; NFC puts them back together.
    lowered = unicodedata.normalize("NFC", stripped).lower().replace("\u2019", " ")
    lowered = lowered.replace("'", " ")
    # Keep letters, digits and the punctuation the patterns need; everything else is a space.
    kept = (
        ch
        if (ch.isascii() and (ch.isalnum() or ch in "%.,;:!?/-+()\n"))
        or ch == "€"
        or HANGUL.match(ch)
        else " "
        for ch in lowered
    )
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(kept))


def language_of(text: str) -> str:
    """`ko` when Hangul makes up a fifth of the letters, else `en`."""
    letters = [ch for ch in text if ch.isalpha()]
    hangul = sum(1 for ch in letters if HANGUL.match(ch))
    return "ko" if letters and hangul * 5 >= len(letters) else "en"


def phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    """One alternation, longest phrase first, so "eau de parfum" beats "parfum". Latin phrases
    need word boundaries; Korean ones carry particles (머스크와), so they match inside words."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    latin = [p for p in ordered if not HANGUL.search(p)]
    hangul = [p for p in ordered if HANGUL.search(p)]
    parts = []
    if latin:
        parts.append(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, latin)) + r")(?![a-z0-9])")
    if hangul:
        parts.append("(?:" + "|".join(map(re.escape, hangul)) + ")")
    # A pattern that matches nothing when there are no phrases.
    return re.compile("|".join(parts) or r"(?!x)x")


def _words_of_block(block: str) -> list[str]:
    return block.split()


# Words that carry no olfactive content of their own: function words, and the words every
# brief uses to frame its request ("I want a perfume that smells like ..."). Everything else
# a reading leaves unread is listed as unread, so nothing a perfumer wrote vanishes.
STOP_WORDS = frozenset(
    _words_of_block(
        """
    a an the and or nor but if then than so as at by for from in into of off on onto out over
    to up with within without via per about above after again against all also am any are
    around be because been before being below between both can could did do does doing down
    during each either else even ever every few further had has have having he her here hers
    herself him himself his how however i im ive id ill is it its itself just least less let
    lets me mine more most much must my myself neither never no not now nothing once only
    other others our ours ourselves own same she should since some such that thats their
    theirs them themselves there these they this those though through thus too under until
    upon us very was we were what when where whether which while who whom whose why will
    would yet you your yours yourself yourselves dont don doesn didn isn aren wasn won wouldn
    shouldn couldn cant cannot ok okay please thanks thank hi hello
    want wants wanted wanting need needs needed like likes liked love loves loved would prefer
    prefers make makes making made create creates creating design designs designing give
    giving get gets find looking look looks help something anything everything someone
    somebody one ones thing things kind kinds sort type style version idea concept
    perfume perfumes fragrance fragrances scent scents scented smell smells smelling
    smelled note notes accord accords brief formula formulas option options composition
    blend blends juice
    feel feels feeling vibe vibes reminds remind reminding reminiscent evoke evokes evoking
    inspired inspiration inspire evocative
    really quite rather slightly slight somewhat bit little lot lots touch hint hints trace
    dash splash plenty maybe perhaps probably definitely especially mostly mainly also still
    just only even well too new use used using wear wearing worn wearable daily day days
    everyday time times top heart base middle opening drydown dry-down trail sillage
    main mostly overall throughout whole full
    eur euro euros kg kilo kilos kilogram kilograms percent hour hours hrs ml concentration
    dosage last lasts lasting longevity price cost costs max maximum approximately twist
    twists accent accents facet facets undertone undertones nuance nuances layer layers
    """
    )
)

# Korean particles (조사) that attach to the noun before them: stripped before a word is
# listed, so "두리안과" is listed as "두리안".
PARTICLES_KO = tuple(
    sorted(
        _words_of_block(
            """은 는 이 가 을 를 의 에 에서 에게 한테 께 으로 로 와 과 도 만 처럼 같은 같이
            보다 랑 이랑 하고 까지 부터 이나 나 든지 이든 이며 며 요 이요 으로서 로서 으로써
            로써 야 이야 인 적인 스러운 한 틱한 느낌의 느낌"""
        ),
        key=len,
        reverse=True,
    )
)
# Korean words that frame a request rather than describe a smell (and verb forms starting
# with them: 만들어 주세요, 원해요, 부탁드립니다).
STOP_STEMS_KO = (
    "향수", "향기", "냄새", "느낌", "제품", "만들", "만들어", "주세", "해주", "원해", "원하",
    "원합", "좋겠", "좋아", "좋은", "싶어", "싶은", "싶습", "부탁", "필요", "찾고", "찾아",
    "그리고", "또는", "하지만", "그런", "이런", "저런", "나는", "저는", "우리", "위한", "위해",
    "정말", "진짜", "너무", "아주", "매우", "조금", "약간", "많이", "살짝", "있는", "있게",
    "하는", "되는", "같은", "어울리", "맞는", "쓸", "사용", "뿌리", "데일리", "느껴", "나는",
    "중요", "이상", "이하", "위주", "계열", "타깃", "라인", "시즌", "기획", "원가", "단가",
    "부향률", "함량", "원료", "성분", "들어간", "들어가", "넣어", "않",
)  # fmt: skip
# Verb and adjective endings that close a request ("중입니다", "빼주세요", "않게"): the
# predicate frames the brief; the nouns around it carry what it asks for.
PREDICATE_ENDINGS_KO = (
    "니다", "세요", "주세", "해요", "어요", "아요", "지요", "지만", "는데", "다고", "하니",
    "않게", "않고", "않은", "해야", "해줘", "하게", "하고", "하는", "해서", "이라", "라서",
)  # fmt: skip
_STOP_SINGLE_KO = frozenset(
    {"향", "것", "거", "좀", "제", "내", "수", "때", "날", "용", "더", "꼭", "잘"}
)

WORD = re.compile(r"[a-z][a-z0-9-]*|[\uac00-\ud7a3]+")


def word_form(token: str) -> str:
    """The form a word is listed under: Korean without its particle, English as written."""
    if not HANGUL.match(token):
        return token
    for particle in PARTICLES_KO:
        if token.endswith(particle):
            rest = token[: -len(particle)]
            if len(rest) >= 2 or rest in _STOP_SINGLE_KO:
                return rest
    return token


def is_content_word(word: str) -> bool:
    """False for function words and request framing, in English and Korean."""
    if HANGUL.match(word):
        # One syllable left is a particle or a fragment, not a word to report.
        if len(word) < 2 or word.endswith(PREDICATE_ENDINGS_KO):
            return False
        return not word.startswith(STOP_STEMS_KO)
    return len(word) >= 3 and word not in STOP_WORDS and not any(ch.isdigit() for ch in word)


def unread_words(clean: str, read_spans: list[tuple[int, int]]) -> list[str]:
    """The content words of a normalised text that no read span touches, each once, in
    order."""
    spans = sorted(read_spans)
    unread: list[str] = []
    for match in WORD.finditer(clean):
        start, end = match.span()
        if any(s < end and start < e for s, e in spans):
            continue
        word = word_form(match.group(0))
        if is_content_word(word) and word not in unread:
            unread.append(word)
    return unread
