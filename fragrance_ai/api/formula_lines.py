"""A formula line as the API shows it to a perfumer: the material with its odour in a few
words, its share in percent and in parts per thousand, and how it is weighed (neat, or as
its stock dilution with the neat equivalent)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from fragrance_ai.api.schemas.design import FormulaLineView, FormulaView
from fragrance_ai.domain.catalogue import Catalogue
from fragrance_ai.domain.formula import FormulaLine
from fragrance_ai.domain.material_knowledge import KnowledgeBook
from fragrance_ai.domain.material_knowledge_file import load_knowledge
from fragrance_ai.domain.products import ProductType
from fragrance_ai.domain.working_dilution import working_dilution

# Shares are stored to far more digits than a balance weighs; these keep 10 x 0.07 from
# reading 0.7000000000000001.
_DIGITS = 9


class LineLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def cas(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def percent(self) -> float: ...


def line_view(
    *,
    name: str,
    cas: str,
    tier: str,
    percent: float,
    product: ProductType,
    catalogue: Catalogue,
    knowledge: KnowledgeBook | None = None,
) -> FormulaLineView:
    ingredient = catalogue.get(cas)
    working = working_dilution(cas, product, load_knowledge() if knowledge is None else knowledge)
    return FormulaLineView(
        name=name,
        cas=cas,
        tier=str(tier),
        percent=percent,
        per_mille=round(percent * 10, _DIGITS),
        descriptors=[] if ingredient is None else list(ingredient.descriptors),
        working_dilution_percent=working.percent,
        diluent=None if working.diluent is None else working.diluent.short,
        weighed_as=working.label(name),
        percent_as_weighed=round(working.as_weighed(percent), _DIGITS),
    )


def line_views(
    lines: Iterable[LineLike], product: ProductType | str, catalogue: Catalogue
) -> list[FormulaLineView]:
    knowledge = load_knowledge()
    return [
        line_view(
            name=line.name,
            cas=line.cas,
            tier=line.tier,
            percent=line.percent,
            product=ProductType(product),
            catalogue=catalogue,
            knowledge=knowledge,
        )
        for line in lines
    ]


def formula_view(document: dict[str, Any], catalogue: Catalogue) -> FormulaView:
    """A stored formula's document (`read_formula_document`) as GET /v1/formulas/{id}
    answers it."""
    lines = [FormulaLine.model_validate(line) for line in document["lines"]]
    return FormulaView.model_validate(
        {**document, "lines": line_views(lines, document["product"], catalogue)}
    )
