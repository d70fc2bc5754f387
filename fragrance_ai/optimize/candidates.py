"""Which catalogue materials a brief's search may use, and in what range: the catalogue less
what the brief rules out, what is prohibited or uncertifiable in the product, and what a
perfumer would veto for this brief (a clash class it did not ask for, a nitro musk, a material
too dear for the product), each vetoed material with the reason the perfumer is shown."""

from __future__ import annotations

from dataclasses import dataclass, field

from fragrance_ai.domain.brief import CreativeBrief
from fragrance_ai.domain.catalogue import Catalogue, Ingredient
from fragrance_ai.domain.compliance import max_percent_in_concentrate
from fragrance_ai.domain.material_knowledge import Clash, KnowledgeBook
from fragrance_ai.domain.structures import ProductBase, StructureBook

# No single material takes more than this share of the concentrate, whatever its range.
MAX_SHARE_PERCENT = 30.0
# A named note's floor sits this far over its carrying dose, so rounding to hundredths and
# the final scaling to 100 % leave it carried.
NAMED_CARRY_MARGIN = 1.03
# A material the product base discolours or breaks down (vanillin in a lotion, citral in soap)
# is used up to this many times the dose that carries it, no more.
AT_RISK_CARRY_MULTIPLE = 2.0


@dataclass
class Candidates:
    materials: list[Ingredient] = field(default_factory=list)
    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    unusable: list[Ingredient] = field(default_factory=list)
    vetoed: list[tuple[str, str]] = field(default_factory=list)


def select_candidates(
    catalogue: Catalogue,
    brief: CreativeBrief,
    *,
    dosage: float,
    named_cas: set[str],
    excluded: set[str],
    avoided: set[str],
    accepted: frozenset[Clash],
    knowledge: KnowledgeBook,
    product_base: ProductBase,
) -> Candidates:
    """The catalogue less what the brief rules out, what is prohibited or uncertifiable here,
    and what a perfumer would veto for it (a clash it did not ask for, a nitro musk, a
    material too dear for the product), each with the range it may take."""
    chosen = Candidates()
    for ingredient in catalogue:
        is_named = ingredient.cas in named_cas
        ruled_out = ingredient.cas in excluded or bool(avoided.intersection(ingredient.families))
        # Prohibited here, or limited by a figure the data lacks: never proposed (0).
        cap = max_percent_in_concentrate(ingredient, brief.product, dosage, catalogue)
        if ruled_out or cap == 0:
            if is_named:
                chosen.unusable.append(ingredient)
            continue
        known = knowledge.of(ingredient.cas)
        # What the brief names is never vetoed; a key material is, like any other (its
        # group has others).
        veto = _veto(ingredient, known.clashes, known.nitro_musk, accepted, product_base)
        if veto and not is_named:
            chosen.vetoed.append((ingredient.name, veto))
            continue
        low = ingredient.typical_use_min_percent
        # Past a few times its carrying dose a material dominates whatever it is in; one the
        # product base discolours or breaks down is used only as much as carries it.
        dominates = known.dominates_above_percent
        if known.risks_in(brief.product):
            dominates = known.carry_percent * AT_RISK_CARRY_MULTIPLE
        high = min(ingredient.typical_use_max_percent, cap, MAX_SHARE_PERCENT, dominates)
        if is_named:
            # A named note is present at a dose that carries it, where its limit allows; one
            # whose limit sits below its usual range takes as much as is allowed.
            low = min(max(low, known.carry_percent * NAMED_CARRY_MARGIN), high)
        elif high < low:
            continue
        chosen.materials.append(ingredient)
        chosen.lows.append(low)
        chosen.highs.append(high)
    return chosen


def accepted_clashes(
    brief: CreativeBrief, named: list[Ingredient], knowledge: KnowledgeBook
) -> frozenset[Clash]:
    """What the brief asks for: its reading's accepted classes ("leather", "campfire" accept
    smoky tar) and those of the materials it names. A family word alone accepts none: the
    families a reading holds include what its moods and scenes suggest ("dark" -> leather),
    and a perfumer does not put birch tar in an orris because it mentions suede."""
    accepted: set[Clash] = set()
    for value in brief.accepted_clashes:
        try:
            accepted.add(Clash(value))
        except ValueError:
            continue
    for ingredient in named:
        accepted.update(knowledge.of(ingredient.cas).clashes)
    return frozenset(accepted)


def _veto(
    ingredient: Ingredient,
    clashes: tuple[Clash, ...],
    nitro_musk: bool,
    accepted: frozenset[Clash],
    product_base: ProductBase,
) -> str:
    """Why a material the brief did not name is kept out of the search, or ''."""
    unasked = [clash.value for clash in clashes if clash not in accepted]
    if unasked:
        return f"{', '.join(unasked).replace('_', ' ')}: the brief does not ask for it"
    if nitro_musk:
        return "a nitro musk: not used unless asked for"
    ceiling = product_base.max_material_price_eur_per_kg
    if ceiling is not None and ingredient.price_per_kg_eur > ceiling:
        return (
            f"{ingredient.price_per_kg_eur:g} EUR/kg: above what a {product_base.base.value} "
            f"base carries ({ceiling:g} EUR/kg)"
        )
    return ""


def stand_in_group(
    ingredient: Ingredient,
    product_base: ProductBase,
    structures: StructureBook,
    catalogue: Catalogue,
) -> tuple[str, ...]:
    """For a named material dearer than the product base carries, the affordable materials of
    its own note among the key groups that hold it (rose oil: phenylethyl alcohol, geraniol,
    citronellol ...): the group most of whose members share its first family, kept to those
    members. Empty when it is affordable or no accord holds it."""
    ceiling = product_base.max_material_price_eur_per_kg
    if ceiling is None or ingredient.price_per_kg_eur <= ceiling:
        return ()
    family = ingredient.families[0]

    def same_note(name: str) -> bool:
        material = catalogue.find(name)
        return (
            material is not None
            and material.families[0] == family
            and material.price_per_kg_eur <= ceiling
        )

    groups = [group for s in structures.structures for group in s.keys if ingredient.name in group]
    # The group that is most of this material's note (rose oil's own rose accord, not the
    # rose-oud group where it stands beside saffron and woods); the first listed on a tie.
    best = max(groups, key=lambda g: sum(map(same_note, g)) / len(g), default=())
    return tuple(name for name in best if same_note(name))
