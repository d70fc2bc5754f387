"""The olfactory family vocabulary shared by the parser and the designer."""

from __future__ import annotations

FAMILY_WORDS: dict[str, tuple[str, ...]] = {
    "citrus": ("citrus", "citrusy", "citrussy", "citric", "zesty", "hesperidic", "agrumes"),
    "floral": ("floral", "florals", "flowery", "flower", "flowers", "bouquet", "white floral"),
    "woody": ("woody", "woods", "wood", "wooden", "woodsy"),
    # The catalogue files agarwood and its building blocks (cypriol, Pyralone) under oud.
    "oud": ("oud", "oudh", "aoud"),
    "amber": ("amber", "ambery", "ambered", "oriental", "orientals", "resinous", "balsamic"),
    "fresh": ("fresh", "crisp", "clean", "freshness"),
    "green": ("green", "grassy", "leafy", "verdant"),
    "aquatic": ("aquatic", "marine", "oceanic", "ocean", "sea", "ozonic", "watery", "seaside"),
    "fruity": ("fruity", "fruit", "fruits", "juicy"),
    "spicy": ("spicy", "spice", "spices", "spiced", "peppery", "warm spicy"),
    "gourmand": ("gourmand", "edible", "sweet", "dessert", "sugary", "delicious"),
    "aromatic": ("aromatic", "fougere", "fougeres", "herbal", "herbaceous", "barbershop"),
    "chypre": ("chypre", "mossy"),
    "musky": ("musky", "musk", "musks", "skin scent"),
    "leather": ("leather", "leathery", "suede"),
    "powdery": ("powdery", "powder", "iris", "cosmetic"),
}

_CANONICAL = {word: family for family, words in FAMILY_WORDS.items() for word in words}
_CANONICAL.update({"fougère": "aromatic", "oriental/amber": "amber", "aquatic/marine": "aquatic"})


def canonical_family(word: str) -> str:
    """'oriental' -> 'amber', 'marine' -> 'aquatic'; unknown words come back lower-cased."""
    key = word.strip().lower()
    return _CANONICAL.get(key, key)
