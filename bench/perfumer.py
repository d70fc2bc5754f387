"""A simulated perfumer with a hidden taste, who makes choices through the HTTP API.

Used by the learning test (tests/rl/test_learning.py), bench/rl.py and bench/learning.py,
never by the product. The taste is a score of a formula from its materials: each material
weighs by its families, its descriptors and its tier, and the formula scores the
amount-weighted sum over 100. For "woody, not sweet", +1 for every percent of the
concentrate in woody materials, -1 for every percent in materials described as sweet (a
material that is both counts 0). `TASTES` holds one taste of each kind the benchmark asks
for: a family preference, an avoided material class and a structural preference. The
perfumer picks the option with the highest taste plus Gumbel noise (a Bradley-Terry
chooser: with `sharpness` 100, a taste difference of 0.01, a 1 % shift between a woody and
a sweet material, is one logit), so choices are informative but not perfect, as a real
perfumer's are.

An experiment: briefs submitted, their options chosen among, then rounds of variations of
the last chosen formula (back to a brief's option every few rounds), each answered with a
choice; then a training run; then the proposals of the initial and the trained policy are
scored on the hidden taste, for the same parents and the same seeds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fragrance_ai.domain.catalogue import Catalogue, Ingredient
from fragrance_ai.domain.families import canonical_family

BRIEFS = (
    "warm amber eau de parfum for winter evenings with vanilla",
    "fresh citrus cologne for summer with a woody base",
    "green floral eau de toilette for spring",
    "spicy woody perfume with leather and tobacco",
    "soft powdery musk for everyday wear",
    "fruity floral eau de parfum, sweet and playful",
)


class Client(Protocol):
    def get(self, url: str) -> Any: ...

    def post(self, url: str, *, json: Any = None) -> Any: ...


@dataclass(frozen=True)
class Taste:
    name: str
    # Canonical family, descriptor or tier ("top", "heart", "base") -> weight per percent of
    # the concentrate.
    families: dict[str, float]
    descriptors: dict[str, float]
    tiers: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name

    def opposite(self) -> Taste:
        return Taste(
            name=f"not ({self.name})",
            families={k: -v for k, v in self.families.items()},
            descriptors={k: -v for k, v in self.descriptors.items()},
            tiers={k: -v for k, v in self.tiers.items()},
        )

    def weight(self, material: Ingredient) -> float:
        """What one percent of this material adds to the taste, times 100."""
        families = {canonical_family(f) for f in material.families}
        weight = sum(self.families.get(f, 0.0) for f in families)
        weight += sum(self.descriptors.get(d, 0.0) for d in material.descriptors)
        return weight + self.tiers.get(material.tier.value, 0.0)

    def score(self, lines: list[dict[str, Any]], catalogue: Catalogue) -> float:
        total = 0.0
        for line in lines:
            material = catalogue.get(line["cas"])
            if material is not None:
                total += line["percent"] / 100 * self.weight(material)
        return total


# A family preference.
WOODY_NOT_SWEET = Taste("woody, not sweet", families={"woody": 1.0}, descriptors={"sweet": -1.0})
# An avoided material class: the musks, as the catalogue's "musky" family names them (19
# materials: the musks proper, Galaxolide to Civetone, and those with a musky facet, such as
# Ambroxan, Cashmeran and benzyl salicylate). The optimiser puts some in every option of
# bench's briefs (2-30 % of the concentrate), so every formula has some to give up.
NO_MUSKS = Taste("no musks", families={"musky": -1.0}, descriptors={})
# A structural preference: more of the concentrate in base notes (the catalogue's tier,
# its volatility class), whatever they smell of.
HEAVIER_BASE = Taste("heavier base", families={}, descriptors={}, tiers={"base": 1.0})
TASTES = (WOODY_NOT_SWEET, NO_MUSKS, HEAVIER_BASE)
# Beyond the sparse reward model's prior (rl/sparse_reward.py: one or two features): a taste
# of six, none dominant, to show what that prior does when a taste is not about a few
# things (bench/learning.py --tastes many-sided).
MANY_SIDED = Taste(
    "many-sided",
    families={"citrus": 1.0, "green": 0.7, "aquatic": 0.5},
    descriptors={"animalic": -1.0, "sweet": -0.5},
    tiers={"top": 0.5},
)


def bradley_terry_choice(tastes: list[float], rng: np.random.Generator, sharpness: float) -> int:
    """Which option the perfumer picks: the highest taste plus Gumbel noise, one draw per
    option in order (P(a over b) = sigmoid(sharpness * (taste a - taste b)))."""
    keys = [sharpness * taste + rng.gumbel() for taste in tastes]
    return int(np.argmax(keys))


@dataclass
class Perfumer:
    client: Client
    catalogue: Catalogue
    taste: Taste
    rng: np.random.Generator
    sharpness: float = 100.0
    choices: int = 0
    _lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def lines(self, formula_id: str) -> list[dict[str, Any]]:
        if formula_id not in self._lines:
            response = self.client.get(f"/v1/formulas/{formula_id}")
            assert response.status_code == 200, response.text
            self._lines[formula_id] = response.json()["lines"]
        return self._lines[formula_id]

    def taste_of(self, formula_id: str) -> float:
        return self.taste.score(self.lines(formula_id), self.catalogue)

    def pick(self, offered: list[str]) -> str:
        tastes = [self.taste_of(f) for f in offered]
        return offered[bradley_terry_choice(tastes, self.rng, self.sharpness)]

    def submit_briefs(self, texts: tuple[str, ...] = BRIEFS) -> list[str]:
        """Submits the briefs, chooses among each one's options; returns every option.

        One at a time and each with a seed from the perfumer's generator, so that an
        experiment repeats exactly: the search is seeded, and no brief is read in a batch
        with another (the LLM worker batches what arrives together)."""
        options: list[str] = []
        for text in texts:
            seed = int(self.rng.integers(2**31))
            response = self.client.post(
                "/v1/briefs", json={"text": text, "mode": "fast", "seed": seed}
            )
            assert response.status_code == 202, response.text
            accepted = response.json()
            job = _wait(self.client, f"/v1/jobs/{accepted['job_id']}", ("finished", "failed"))
            assert job["status"] == "finished", job
            ids = job["result"]["formula_ids"]
            options.extend(ids)
            chosen = self.pick(ids)
            answer = self.client.post(
                "/v1/feedback", json={"brief_id": accepted["brief_id"], "chosen_id": chosen}
            )
            assert answer.status_code == 201, answer.text
            self.choices += 1
        return options

    def vary_and_choose(self, parent: str, *, n: int = 3) -> str:
        # The set's seed from the perfumer's own generator: an experiment repeats exactly.
        seed = int(self.rng.integers(2**31))
        response = self.client.post(
            f"/v1/formulas/{parent}/variations", json={"n": n, "seed": seed}
        )
        assert response.status_code == 201, response.text
        offered_set = response.json()
        offered = [v["formula_id"] for v in offered_set["variations"]]
        if offered_set["parent_offered"]:
            offered.append(parent)
        chosen = self.pick(offered)
        answer = self.client.post(
            "/v1/feedback",
            json={"variation_set_id": offered_set["variation_set_id"], "chosen_id": chosen},
        )
        assert answer.status_code == 201, answer.text
        self.choices += 1
        return chosen

    def sessions(self, starts: list[str], rounds: int, *, restart_every: int = 4) -> None:
        parent = starts[0]
        for round_index in range(rounds):
            if round_index % restart_every == 0:
                parent = starts[int(self.rng.integers(len(starts)))]
            parent = self.vary_and_choose(parent)

    def proposal_gains(self, parents: list[str], seeds: list[int], *, n: int = 3) -> list[float]:
        """Per variation proposed (same parents, same seeds): its taste minus its parent's.
        These sets are measurements, not questions: no choice is posted for them."""
        gains = []
        for parent in parents:
            for seed in seeds:
                response = self.client.post(
                    f"/v1/formulas/{parent}/variations", json={"n": n, "seed": seed}
                )
                assert response.status_code == 201, response.text
                for variation in response.json()["variations"]:
                    gains.append(self.taste_of(variation["formula_id"]) - self.taste_of(parent))
        return gains


def train(client: Client, *, seed: int, updates: int, timeout_s: float = 600) -> dict[str, Any]:
    response = client.post("/v1/training-runs", json={"seed": seed, "total_updates": updates})
    assert response.status_code == 202, response.text
    run_id = response.json()["training_run_id"]
    run: dict[str, Any] = _wait(
        client, f"/v1/training-runs/{run_id}", ("finished", "failed"), timeout_s=timeout_s
    )
    assert run["status"] == "finished", run.get("error")
    return run


def permutation_p_value(
    before: list[float], after: list[float], *, seed: int, rounds: int = 20000
) -> float:
    """One-sided: the chance that mean(after) - mean(before) is at least what was seen if
    the policy made no difference (labels exchangeable)."""
    rng = np.random.default_rng(seed)
    pooled = np.array(before + after)
    observed = float(np.mean(after) - np.mean(before))
    count = 0
    for _ in range(rounds):
        rng.shuffle(pooled)
        if float(pooled[len(before) :].mean() - pooled[: len(before)].mean()) >= observed:
            count += 1
    return (count + 1) / (rounds + 1)


def effect_size(before: list[float], after: list[float]) -> float:
    """Cohen's d with the pooled standard deviation."""
    pooled = math.sqrt((np.var(before, ddof=1) + np.var(after, ddof=1)) / 2)
    return float((np.mean(after) - np.mean(before)) / pooled) if pooled > 0 else 0.0


def _wait(client: Client, url: str, ends: tuple[str, ...], *, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body.get("status") in ends:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{url} did not end within {timeout_s} s")


@dataclass(frozen=True)
class ExperimentResult:
    taste: str
    seed: int
    choices: int
    preferences: int
    heldout_accuracy: float | None
    before: list[float]
    after: list[float]
    p_value: float
    effect_size: float
    run: dict[str, Any]

    @property
    def gain(self) -> float:
        return float(np.mean(self.after) - np.mean(self.before))


def run_experiment(
    client: Client,
    catalogue: Catalogue,
    taste: Taste,
    *,
    seed: int,
    rounds: int,
    updates: int,
    measure_seeds: int = 4,
    sharpness: float = 100.0,
) -> ExperimentResult:
    """On a fresh installation behind `client`: briefs and their options, the initial
    policy's proposals scored, `rounds` choices among variations, one training run, the
    trained policy's proposals scored on the same parents and seeds."""
    perfumer = Perfumer(client, catalogue, taste, np.random.default_rng(seed), sharpness)
    options = perfumer.submit_briefs()
    measure_seeds_list = [seed * 100 + k for k in range(measure_seeds)]
    before = perfumer.proposal_gains(options, measure_seeds_list)
    perfumer.sessions(options, rounds)
    run = train(client, seed=seed, updates=updates)
    after = perfumer.proposal_gains(options, measure_seeds_list)
    reward_model = (run.get("metrics") or {}).get("reward_model") or {}
    return ExperimentResult(
        taste=taste.name,
        seed=seed,
        choices=perfumer.choices,
        preferences=int(reward_model.get("preferences") or 0),
        heldout_accuracy=reward_model.get("heldout_accuracy"),
        before=before,
        after=after,
        p_value=permutation_p_value(before, after, seed=seed),
        effect_size=effect_size(before, after),
        run=run,
    )
