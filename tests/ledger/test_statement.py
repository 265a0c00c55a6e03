"""The public statement's terms: one statistic each, listed in README.md (the statement itself is
checked against a real run in test_tamper.py)."""

from __future__ import annotations

from pathlib import Path

from precursor_watch.reports.statement import sentence
from precursor_watch.storage.statistics import BY_NAME, STATEMENT_TERMS


def test_readme_lists_every_statement_term_with_its_statistic():

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for t in STATEMENT_TERMS:
        assert t.statistic in BY_NAME and f"| {t.term} | `{t.statistic}` |" in readme, t


def test_the_sentence_reads_like_a_published_claim():
    values = {"platforms_closed": 14, "accounts_closed": 332, "stores_closed": 1016, "removed": 150000,
              "items_reported": 10000}  # fmt: skip
    assert sentence(values) == (
        "14 platforms closed, 332 corporate accounts cancelled, 1,016 online stores removed, "
        "150,000 pieces of information cleaned, 10,000 items reported"
    )
    assert sentence({}).startswith("0 platforms closed, 0 corporate")
