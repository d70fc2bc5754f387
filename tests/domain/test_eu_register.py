"""The EU annexes read from the Commission's CosIng export (eu_register): every entry is
accounted for, the committed files are the ones the provenance names, and the rules bind."""

from __future__ import annotations

import hashlib
from datetime import date
from importlib import resources

import yaml

from fragrance_ai.domain.catalogue import Tier
from fragrance_ai.domain.catalogue_file import eu_merge, load_catalogue
from fragrance_ai.domain.compliance import check_compliance
from fragrance_ai.domain.eu_annex_file import load_eu_annexes
from fragrance_ai.domain.eu_register import Status, cas_numbers, parse_annex
from fragrance_ai.domain.formula import Formula, FormulaLine
from fragrance_ai.domain.products import ProductType

COSING = resources.files("fragrance_ai").joinpath("data", "regulatory", "cosing")


def test_the_committed_export_hashes_to_the_values_its_provenance_records() -> None:
    provenance = yaml.safe_load(COSING.joinpath("PROVENANCE.yaml").read_text(encoding="utf-8"))
    assert provenance["licence"] == "CC BY 4.0"
    assert provenance["commission_last_update"] == date(2026, 8, 28)
    for name, recorded in provenance["files"].items():
        data = COSING.joinpath(name).read_bytes()
        assert len(data) == recorded["bytes"], name
        assert hashlib.sha256(data).hexdigest() == recorded["sha256"], name


def test_the_export_is_read_whole_with_its_multi_line_cells() -> None:
    annexes = load_eu_annexes()
    assert len(annexes.annex_ii) == 1758
    assert len(annexes.annex_iii) == 381
    assert {e.export_date for e in (*annexes.annex_ii, *annexes.annex_iii)} == {date(2026, 8, 28)}
    by_ref = {e.reference: e for e in annexes.annex_iii}
    assert by_ref["2a"].maximum.startswith("(a) (i) 8%")
    assert set(by_ref["70"].cas) == {"5392-40-5", "141-27-5", "106-26-3"}
    assert by_ref["324"].regulation == "(EU) 2023/1545"


def test_cas_cells_keep_only_check_digit_valid_numbers() -> None:
    assert cas_numbers("106-22-9/ 26489-01-0; 1117-61-9,\n7540-51-4 and 123-45-6") == (
        "106-22-9",
        "26489-01-0",
        "1117-61-9",
        "7540-51-4",
    )
    assert cas_numbers("-") == ()


def test_parse_annex_finds_the_header_after_the_preamble() -> None:
    text = (
        '"File creation date: 09/09/2026"\n"ANNEX II","Last update: 28/08/2026"\n"LIST"\n'
        '"Substance identification"\n"Reference Number","Chemical name / INN","CAS Number",'
        'Regulation,"Update Date"\n7,"Two\nlines",60-32-2,"(EC) 2009/1223",17/10/2010\n'
    )
    [entry] = parse_annex(text, "II")
    assert entry.reference == "7"
    assert entry.names == ("Two\nlines",)
    assert entry.cas == ("60-32-2",)
    assert entry.update_date == date(2010, 10, 17)


def test_every_annex_ii_entry_with_a_cas_is_a_prohibition_or_accounted_for() -> None:
    merge = eu_merge()
    entries = load_eu_annexes().annex_ii
    accounts = [a for a in merge.accounts if a.annex == "II"]
    assert [a.reference for a in accounts] == [e.reference for e in entries]
    with_cas = {e.reference for e in entries if e.cas}
    by_ref = {a.reference: a for a in accounts}
    counts = {status: 0 for status in Status}
    for reference in with_cas:
        account = by_ref[reference]
        counts[account.status] += 1
        if account.status is Status.ENCODED:
            assert account.substance_ids
        else:
            assert account.reason, reference
    assert sum(counts.values()) == len(with_cas)
    substances = load_catalogue().substances
    # A mechanical prohibition lands on the substance with the CAS (Lilial: entry 1666).
    [lilial] = [s for s in substances.values() if "80-54-6" in s.cas and s.allergen is None]
    ban = next(limit for limit in lilial.eu_limits if limit.rule == "Annex II entry 1666")
    assert ban.prohibited
    assert ban.act == "Regulation (EU) 2021/1902"
    assert not any("1670" in limit.rule for limit in lilial.eu_limits)


def test_furocoumarins_are_banned_only_when_added_as_such() -> None:
    substances = load_catalogue().substances
    [limit] = substances["eu_annex_ii_358"].eu_limits
    assert limit.prohibited
    assert limit.only_added_as_such
    bergamot = load_catalogue().find("Bergamot oil")
    assert bergamot is not None
    assert all(s.id != "eu_annex_ii_358" for s, _ in bergamot.contributions)


def test_every_relevant_annex_iii_entry_is_encoded_labelled_or_excepted() -> None:
    merge = eu_merge()
    reviewed = load_eu_annexes().encoded["annex_iii"]
    accounts = [a for a in merge.accounts if a.annex == "III"]
    assert len(accounts) == len(load_eu_annexes().annex_iii)
    relevant = [a for a in accounts if a.reference in reviewed]
    # 117 reviewed references; one of them names two rows of the export.
    assert {a.reference for a in relevant} == set(reviewed)
    assert len(reviewed) == 117
    for account in relevant:
        if account.status is Status.EXCEPTED:
            assert account.reason, account.reference
            assert account.effect, account.reference
        if account.status is Status.ENCODED:
            assert account.substance_ids, account.reference
    assert merge.count("III", Status.ENCODED) == 40
    assert merge.count("III", Status.LABELLING) == 69


def test_methyl_salicylate_over_its_limit_in_a_body_lotion_is_not_compliant() -> None:
    catalogue = load_catalogue()
    material = next(m for m in catalogue if m.cas == "119-36-8")

    def report(percent: float) -> str:
        line = FormulaLine(cas=material.cas, name=material.name, tier=Tier.HEART, percent=percent)
        filler = FormulaLine(
            cas="24851-98-7", name="Hedione", tier=Tier.HEART, percent=100 - percent
        )
        formula = Formula(lines=[line, filler], product=ProductType.BODY_LOTION, dosage_percent=1)
        return check_compliance(formula, catalogue).verdict

    # 8 % of the concentrate at 1 % dosage: 0.08 % > 0.06 % (entry 324 (a)); 5 %: 0.05 %.
    assert report(8) == "not_compliant"
    assert report(5) != "not_compliant"


def test_a_2026_909_figure_carries_its_act_and_dates() -> None:
    citral = load_catalogue().substances["citral"]
    fragrance = next(limit for limit in citral.eu_limits if limit.rule == "Annex III entry 70 (d)")
    assert fragrance.max_percent_in_finished_product == 0.6
    assert set(fragrance.products) == {"EDC", "EDT", "EDP", "parfum"}
    assert fragrance.act == "Regulation (EU) 2026/909"
    assert fragrance.placing_on_market_from == date(2027, 1, 1)
    assert fragrance.making_available_from == date(2028, 7, 1)


def test_the_hand_typed_eu_figures_are_replaced_not_doubled() -> None:
    substances = load_catalogue().substances
    musk_ketone = substances["musk_ketone"]
    rules = [limit.rule for limit in musk_ketone.eu_limits]
    assert len(rules) == len(set(rules))
    assert all(
        limit.source.startswith("European Commission CosIng") for limit in musk_ketone.eu_limits
    )
    combined = substances["mhc_and_moc_combined"]
    [limit] = [limit for limit in combined.eu_limits if "89" in limit.rule]
    assert limit.max_percent_in_finished_product == 0.01
