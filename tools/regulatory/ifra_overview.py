"""Writes `fragrance_ai/data/regulatory/ifra_51st_overview.csv` from IFRA's "IFRA Standards
overview, 51st Amendment" Excel file: one row per Standard, the cells as IFRA writes them.

    python -m tools.regulatory.ifra_overview /tmp/ifra51.xlsx [--out PATH]

openpyxl is this tool's only dependency and is not in the project's locks: run it from any
virtual environment that has openpyxl (`python -m venv /tmp/xl && /tmp/xl/bin/pip install
openpyxl`), from the repository root. The output is deterministic (same workbook, same bytes),
and the workbook's sha256 goes into the file's header so a reader can tell which copy it came
from. The engine reads the CSV through `fragrance_ai.domain.ifra_register`.

What is normalised, and nothing else:
- the two implementation deadlines become ISO dates ("February 10, 2021" -> 2021-02-10; a
  month alone, "December 1991", -> its first day, 1991-12-01; "Not applicable." -> empty);
- a multi-line cell's lines are joined with "; " (CAS numbers keep IFRA's order and words,
  e.g. "68737-61-1 (mixed isomers)" or "Prohibition of Tagetes erecta:");
- a numeric category cell is written as the shortest decimal that reads back as the same
  float, without an exponent (0.000069, 2.4, 52);
  a text cell ("No Restriction", "See Notebox", "0,10", "0.0015 (5-MOP)") is kept, stripped;
  an empty cell stays empty (a prohibition's table is empty in the overview).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

OUT = Path("fragrance_ai/data/regulatory/ifra_51st_overview.csv")
SOURCE_REPO = "GitHub kijjaz/miniPinscher"
SOURCE_COMMIT = "14e0105"
SOURCE_FILE = "ifra-51st-amendment-ifra-standards-overview.xlsx"
CAVEAT = (
    "IFRA: the information included in the individual IFRA Standards prevails over the "
    "information from this Excel file; verify with the individual Standards in case of doubt."
)

CATEGORIES = "1 2 3 4 5A 5B 5C 5D 6 7A 7B 8 9 10A 10B 11A 11B 12".split()  # noqa: SIM905
# Output column -> the overview's header, in the overview's order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "Key"),
    ("amendment", "Amendment number"),
    ("existing_creations_from", "Implementation deadline for existing creations"),
    ("new_creations_from", "Implementation deadline for new creations"),
    ("name", "Name of the IFRA Standard"),
    ("cas", "CAS numbers"),
    ("type", "IFRA Standard type"),
    ("critical_effect", "Intrinsic property driving the risk management measure"),
    ("prohibited_notes", "Prohibited fragrance ingredients: notes"),
    ("phototoxic_notes", "Restricted ingredients due to phototoxicity considerations: notes"),
    ("restricted_notes", "Restricted ingredients: notes"),
    ("specified_notes", "Specified ingredients: notes"),
    ("contributions", "Contributions from other sources"),
    ("contributions_notes", "Contributions from other sources: notes"),
    *((f"category_{c}", f"Category {c} (%)") for c in CATEGORIES),
)
HEADER_ROW = 3


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if value != int(value) else str(int(value))
    lines = (line.strip() for line in str(value).replace("\r", "").split("\n"))
    return "; ".join(line for line in lines if line)


def _notes(value: Any) -> str:
    """A notes cell: paragraphs kept apart by " | " so the CSV stays one line a row."""
    if value is None:
        return ""
    lines = (" ".join(line.split()) for line in str(value).replace("\r", "").split("\n"))
    return " | ".join(line for line in lines if line)


def _date(value: Any, key: str) -> str:
    text = _text(value).rstrip(".")
    if not text or text == "Not applicable":
        return ""
    for shape in ("%B %d, %Y", "%B %Y"):
        try:
            return datetime.strptime(text, shape).date().isoformat()
        except ValueError:
            continue
    raise SystemExit(f"{key}: implementation deadline {value!r} is not a date")


def convert(workbook_path: Path) -> str:
    import openpyxl  # type: ignore[import-untyped]  # the tool's own dependency: see the docstring

    digest = hashlib.sha256(workbook_path.read_bytes()).hexdigest()
    sheet = openpyxl.load_workbook(workbook_path, read_only=True, data_only=True)["Sheet1"]
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h).strip() if h is not None else "" for h in rows[HEADER_ROW - 1]]
    index = {}
    for column, title in COLUMNS:
        if title not in header:
            raise SystemExit(f"the overview has no column {title!r}")
        index[column] = header.index(title)
    out = io.StringIO()
    out.write(
        f"# IFRA Standards overview, 51st Amendment: one row per IFRA Standard.\n"
        f"# Source: {SOURCE_REPO}, commit {SOURCE_COMMIT}, file {SOURCE_FILE}\n"
        f"# sha256 {digest}\n"
        f"# {CAVEAT}\n"
        f"# Written by tools/regulatory/ifra_overview.py; see PROVENANCE.md beside this file.\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column for column, _ in COLUMNS])
    for raw in rows[HEADER_ROW:]:
        if raw[index["key"]] is None:
            continue
        key = _text(raw[index["key"]])
        record = []
        for column, _ in COLUMNS:
            value = raw[index[column]]
            if column.endswith("_from"):
                record.append(_date(value, key))
            elif column.endswith("notes"):
                record.append(_notes(value))
            else:
                record.append(_text(value))
        writer.writerow(record)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = convert(args.workbook)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 6} Standards)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
