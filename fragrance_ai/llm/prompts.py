"""The roles' prompts, one short system message and the brief. The same prompt serves
English and Korean briefs: the instructions say the brief may be Korean and that the answer
uses the schema's English values (the decoder enforces them).

The parser's prompt shows four short worked examples of different kinds (`varied`: a woody
amber evening brief, an evocative brief that names no notes, a Korean brief, a green day
brief), not one. Measured with SmolLM2-135M on the 61 labelled briefs (bench.llm
--parser-prompt, docs/llm.md "The parser prompt: one example, none, or several"): the single
example was repeated by 26 of 58 answers, the four by 20 (13 of them the last one), at the same
overall F1 (0.71 and 0.71); no example at all repeats nothing by construction but loses F1
(0.68: the model then invents notes and seasons)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.llm.reading import FAMILIES, MOODS, SEASONS

if TYPE_CHECKING:
    from fragrance_ai.llm.generation import Chat

_PARSER_SYSTEM = (
    "You read perfumers' creative briefs (in English or Korean, 한국어) and answer with JSON "
    "only. families: the olfactory families asked for, from: " + ", ".join(FAMILIES) + ". "
    "notes: the scent notes or materials named, as short English words. moods: from: "
    + ", ".join(MOODS)
    + ". seasons: from: "
    + ", ".join(SEASONS)
    + ". intensity: light, moderate or strong."
)


def _answer(
    families: list[str], notes: list[str], moods: list[str], seasons: list[str], intensity: str
) -> dict[str, Any]:
    return {
        "families": families,
        "notes": notes,
        "moods": moods,
        "seasons": seasons,
        "intensity": intensity,
    }


# Worked examples, (brief, answer), per prompt variant. None of them comes from or paraphrases
# the labelled sets in bench/data (that would leak the test set into the prompt).
PARSER_EXAMPLES: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "none": (),
    "one": (
        (
            "A light summer cologne with bergamot and neroli, joyful and sporty.",
            _answer(
                ["citrus", "fresh"],
                ["bergamot", "neroli"],
                ["uplifting", "energetic"],
                ["summer"],
                "light",
            ),
        ),
    ),
    "varied": (
        (
            "An extrait for autumn nights: guaiac wood and styrax, deep, lavish and sensual.",
            _answer(
                ["woody", "amber"],
                ["guaiac wood", "styrax"],
                ["luxurious", "sensual"],
                ["autumn"],
                "strong",
            ),
        ),
        (
            "A first slow dance on a midsummer night, tender and glowing.",
            _answer(["floral"], [], ["romantic"], ["summer"], "light"),
        ),
        (
            "목련과 히노키 향의 오 드 뚜왈렛, 맑고 차분한 느낌으로 봄에 쓰기 좋게.",
            _answer(["floral", "woody"], ["magnolia", "hinoki"], ["calm"], ["spring"], "light"),
        ),
        (
            "A daytime EDT: shiso leaf and elemi, crisp, sharp and modern.",
            _answer(
                ["aromatic", "green"],
                ["shiso leaf", "elemi"],
                ["modern", "energetic"],
                [],
                "moderate",
            ),
        ),
    ),
}
# The variant parser_chat uses (see the module docstring for why). Only bench.llm
# (--parser-prompt) changes it, to measure the others.
parser_prompt = "varied"

_VALIDATOR_SYSTEM = (
    "You check a reading of a perfume brief. Answer with JSON only: the olfactory families "
    "the brief really asks for, from: " + ", ".join(FAMILIES) + "."
)

_HINTS_SYSTEM = (
    "You are a senior perfumer. For the brief, write 3 to 5 short creative hints for the "
    "formula (an accord, a material, a contrast), in English, each under 80 characters. "
    "Answer with JSON only."
)


def parser_chat(text: str) -> Chat:
    chat: Chat = [{"role": "system", "content": _PARSER_SYSTEM}]
    for brief, answer in PARSER_EXAMPLES[parser_prompt]:
        chat.append({"role": "user", "content": brief})
        chat.append({"role": "assistant", "content": json.dumps(answer, separators=(",", ":"))})
    chat.append({"role": "user", "content": text})
    return chat


def validator_chat(text: str, candidates: list[str]) -> Chat:
    question = f"Brief: {text}\nCandidate families: {', '.join(candidates) or 'none'}"
    return [
        {"role": "system", "content": _VALIDATOR_SYSTEM},
        {"role": "user", "content": question},
    ]


def hints_chat(text: str, brief: CreativeBrief) -> Chat:
    summary = f"families {', '.join(brief.families)}; notes {', '.join(brief.notes) or 'open'}"
    return [
        {"role": "system", "content": _HINTS_SYSTEM},
        {"role": "user", "content": f"Brief: {text}\nSo far: {summary}"},
    ]
