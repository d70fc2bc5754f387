"""The roles' prompts, one short system message and the brief. The same prompt serves
English and Korean briefs: the instructions say the brief may be Korean and that the answer
uses the schema's English values (the decoder enforces them)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
_PARSER_EXAMPLE_USER = "A light summer cologne with bergamot and neroli, joyful and sporty."
_PARSER_EXAMPLE_ANSWER = json.dumps(
    {
        "families": ["citrus", "fresh"],
        "notes": ["bergamot", "neroli"],
        "moods": ["uplifting", "energetic"],
        "seasons": ["summer"],
        "intensity": "light",
    },
    separators=(",", ":"),
)

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
    return [
        {"role": "system", "content": _PARSER_SYSTEM},
        {"role": "user", "content": _PARSER_EXAMPLE_USER},
        {"role": "assistant", "content": _PARSER_EXAMPLE_ANSWER},
        {"role": "user", "content": text},
    ]


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
