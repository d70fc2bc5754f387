"""What a perfumer knows about a material beyond its regulatory data: how strong it is, how
long it lasts, what it does in a structure, how it is weighed, how it behaves in a product
base and which odour classes clash with a brief that did not ask for them.

`material_knowledge_file` reads the packaged data (`data/perfumery/materials.yaml`) into
these types; every figure carries a source and says whether it is uncertain, as the
regulatory data does.

Strength drives the character model: a material's share of a formula's character grows with
its amount over the dose at which it carries (`carry_percent`), and saturates, so 1 % of
isobutyl quinoline weighs like 30 % of Hedione and twice "enough" is not twice the character.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from fragrance_ai.domain.products import ProductType


class Strength(StrEnum):
    """Odour strength (impact) class, as perfumers and suppliers' data sheets grade it."""

    FAINT = "faint"
    WEAK = "weak"
    MEDIUM = "medium"
    STRONG = "strong"
    VERY_STRONG = "very_strong"
    OVERPOWERING = "overpowering"


# Percent of the concentrate at which a material of the class carries: its character impact
# is 1 - 1/e (0.63) there. A decade between neighbouring classes at the strong end and less at
# the weak end, as working dilutions run (neat, 10 %, 1 %, 0.1 %) and as odour thresholds span
# orders of magnitude while weak materials are used by the tens of percent.
CARRY_PERCENT: dict[Strength, float] = {
    Strength.FAINT: 15.0,
    Strength.WEAK: 6.0,
    Strength.MEDIUM: 2.5,
    Strength.STRONG: 0.8,
    Strength.VERY_STRONG: 0.2,
    Strength.OVERPOWERING: 0.03,
}
# Above this many times its carrying dose a material dominates whatever it is in.
DOMINATES_AT_CARRY_MULTIPLE = 6.0


class Role(StrEnum):
    TOP = "top"
    HEART = "heart"
    BASE = "base"
    # Changes the character of an accord at low levels without being smelled as itself.
    MODIFIER = "modifier"
    # Lifts diffusion or radiance (aldehydes, Hedione, Iso E Super at trace to mid levels).
    BOOSTER = "booster"
    # Slows evaporation of the rest and carries the dry-down (musks, resins, ambers).
    FIXATIVE = "fixative"
    # Rounds and joins an accord without its own signature (linalool, benzyl salicylate).
    BLENDER = "blender"


class Form(StrEnum):
    LIQUID = "liquid"
    VISCOUS = "viscous"
    # Crystalline or powder at room temperature: needs dissolving (solvent) above a share.
    CRYSTALLINE = "crystalline"
    # Resinoids and thick absolutes: pourable only warm or diluted.
    RESINOUS = "resinous"
    # Butters and waxy concretes (orris butter): solid at room temperature.
    WAXY = "waxy"


class Clash(StrEnum):
    """Odour classes a perfumer keeps out of a brief that did not ask for them."""

    MINTY = "minty"
    CAMPHORACEOUS = "camphoraceous"
    MEDICINAL = "medicinal"
    SAVOURY = "savoury"
    ROASTED = "roasted"
    SMOKY_TAR = "smoky_tar"
    ANIMALIC = "animalic"
    SULFUROUS = "sulfurous"
    PHENOLIC_SPICE = "phenolic_spice"
    ANISIC = "anisic"


class Base(StrEnum):
    """Product bases by the chemistry a material meets there."""

    ALCOHOL = "alcohol"
    EMULSION = "emulsion"
    SURFACTANT = "surfactant"
    SOAP = "soap"
    CANDLE = "candle"
    DETERGENT = "detergent"
    DIFFUSER = "diffuser"


BASE_OF_PRODUCT: dict[ProductType, Base] = {
    ProductType.EDC: Base.ALCOHOL,
    ProductType.EDT: Base.ALCOHOL,
    ProductType.EDP: Base.ALCOHOL,
    ProductType.PARFUM: Base.ALCOHOL,
    ProductType.HAIR_SPRAY: Base.ALCOHOL,
    ProductType.DEODORANT: Base.ALCOHOL,
    ProductType.AIR_FRESHENER_SPRAY: Base.ALCOHOL,
    ProductType.BODY_LOTION: Base.EMULSION,
    ProductType.FACE_CREAM: Base.EMULSION,
    ProductType.HAND_CREAM: Base.EMULSION,
    ProductType.SHAMPOO: Base.SURFACTANT,
    ProductType.SHOWER_GEL: Base.SURFACTANT,
    ProductType.SOAP: Base.SOAP,
    ProductType.CANDLE: Base.CANDLE,
    ProductType.REED_DIFFUSER: Base.DIFFUSER,
    ProductType.LAUNDRY_DETERGENT: Base.DETERGENT,
    ProductType.FABRIC_SOFTENER: Base.DETERGENT,
}


class Risk(StrEnum):
    DISCOLORATION = "discoloration"
    # Vanillin, ethyl vanillin, indole, eugenol: brown in light and in alkaline bases.
    BROWNING = "browning"
    # Aldehydes and anthranilates form coloured Schiff bases together.
    SCHIFF_BASE = "schiff_base"
    # Breaks down or changes odour in the base (citral at high pH, esters in soap).
    INSTABILITY = "instability"
    # Separates or crystallises out of the base.
    SEPARATION = "separation"
    # Lowers a candle's flash point or burns badly (sooting, tunnelling).
    POOR_BURN = "poor_burn"


@dataclass(frozen=True)
class StabilityRisk:
    bases: tuple[Base, ...]
    risk: Risk
    note: str
    source: str
    uncertain: bool = True


@dataclass(frozen=True)
class OdourThreshold:
    """A published odour detection threshold in air."""

    ng_per_litre: float
    source: str
    uncertain: bool = True


@dataclass(frozen=True)
class MaterialKnowledge:
    cas: str
    name: str
    strength: Strength
    # Hours the material is still smelled on a smelling strip (dipped neat or at its working
    # dilution); top notes minutes to a few hours, fixatives weeks (capped at 400 h).
    substantivity_hours: float
    roles: tuple[Role, ...]
    # The dilution (percent in a solvent) the material is weighed and smelled at; 100: neat.
    working_dilution_percent: float
    form: Form
    clashes: tuple[Clash, ...]
    stability: tuple[StabilityRisk, ...]
    source: str
    uncertain: bool
    odour_threshold: OdourThreshold | None = None
    nitro_musk: bool = False
    note: str = ""

    @property
    def carry_percent(self) -> float:
        """Percent of the concentrate at which the material carries its character."""
        return CARRY_PERCENT[self.strength]

    @property
    def dominates_above_percent(self) -> float:
        return self.carry_percent * DOMINATES_AT_CARRY_MULTIPLE

    def impact(self, percent: float) -> float:
        """Share of its full character the material shows at this level, in [0, 1)."""
        return 1.0 - math.exp(-max(percent, 0.0) / self.carry_percent)

    def risks_in(self, product: ProductType) -> tuple[StabilityRisk, ...]:
        base = BASE_OF_PRODUCT[ProductType(product)]
        return tuple(risk for risk in self.stability if base in risk.bases)


class MaterialKnowledgeError(ValueError):
    """A knowledge row is malformed or missing; the message names the material and field."""


@dataclass(frozen=True)
class KnowledgeBook:
    """Knowledge by CAS for every catalogue material."""

    by_cas: dict[str, MaterialKnowledge]

    def of(self, cas: str) -> MaterialKnowledge:
        try:
            return self.by_cas[cas]
        except KeyError:
            raise MaterialKnowledgeError(f"no perfumery knowledge for CAS {cas}") from None

    def get(self, cas: str) -> MaterialKnowledge | None:
        return self.by_cas.get(cas)

    def __len__(self) -> int:
        return len(self.by_cas)
