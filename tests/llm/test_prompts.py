"""The parser prompt's worked examples: valid answers, and none taken from the labelled sets
the bench scores against (that would leak the test set into the prompt)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fragrance_ai.llm import prompts
from fragrance_ai.llm.reading import READING_SCHEMA, ModelReading

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
EXAMPLES = [
    pytest.param(brief, answer, id=f"{variant}-{number}")
    for variant, examples in prompts.PARSER_EXAMPLES.items()
    for number, (brief, answer) in enumerate(examples)
]


def _labelled_texts() -> list[str]:
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    texts.append(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in ("briefs.yaml", "formula_review_briefs.yaml", "evocation_paraphrases.yaml"):
        walk(yaml.safe_load((BENCH_DATA / name).read_text(encoding="utf-8")))
    return texts


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


@pytest.mark.parametrize(("brief", "answer"), EXAMPLES)
def test_each_worked_example_answers_within_the_reading_schema(
    brief: str, answer: dict[str, object]
) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    assert jsonschema_rs.validator_for(READING_SCHEMA).is_valid(answer), brief
    ModelReading.model_validate(answer)


# The old single example ("one", kept as the measured baseline) shares 7 of its 10 words with
# a formula-review brief ("A classic neroli cologne with bergamot and lemon ..."), so it is
# left out here.
@pytest.mark.parametrize(
    ("brief", "answer"), [p for p in EXAMPLES if not str(p.id).startswith("one-")]
)
def test_no_worked_example_comes_from_a_labelled_set(brief: str, answer: dict[str, object]) -> None:
    texts = _labelled_texts()
    assert len(texts) > 100
    for text in texts:
        shared = _words(brief) & _words(text)
        assert len(shared) <= len(_words(brief)) // 2, (brief, text)


def test_the_parser_chat_shows_the_shipped_examples_then_the_brief() -> None:
    chat = prompts.parser_chat("a brief")
    examples = prompts.PARSER_EXAMPLES[prompts.parser_prompt]
    assert [m["role"] for m in chat] == ["system", *["user", "assistant"] * len(examples), "user"]
    assert chat[-1]["content"] == "a brief"
