"""A public statement for a period, in the terms of published takedown claims ("N platforms
closed, N corporate accounts cancelled, ..."): each term is one statistic of the registry
(`storage.statistics.STATEMENT_TERMS`), each number links to the listings, accounts, stores or
platforms behind it and to the signed tree heads it rests on. Written into an audit export
(`statement.json`, `statement.html`, `statement-drilldown.html`), so the export's manifest and its
signature cover it and `pwatch audit verify --export` recomputes every number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from precursor_watch.ledger.heads import HEADS_NAME
from precursor_watch.reports.html import Html, join, page, table, tag
from precursor_watch.storage.statistics import BY_NAME, STATEMENT_TERMS

STATEMENT_JSON = "statement.json"
STATEMENT_HTML = "statement.html"
DRILLDOWN_HTML = "statement-drilldown.html"


def _to(href: str, label: Any) -> Html:
    """A link to a file of the export itself (our own names; `html.link` takes web URLs only)."""
    return tag("a", label, href=href)


def sentence(values: dict[str, Any]) -> str:
    """`14 platforms closed, 332 corporate accounts cancelled, ...` from statistic values."""
    return ", ".join(f"{values.get(t.statistic) or 0:,} {t.term}" for t in STATEMENT_TERMS)


def statement_document(data: dict[str, Any], heads: dict[str, Any]) -> dict[str, Any]:
    """The statement of an audit's `collect` data, resting on the heads of its `heads.json`."""
    total = data["groups"]["total"]
    values = {t.statistic: total.get(t.statistic) or 0 for t in STATEMENT_TERMS}
    subjects: dict[str, int] = {}
    for d in data["drill"]:
        if d["group"] == "total" and d["metric"] in values:
            subjects[d["metric"]] = subjects.get(d["metric"], 0) + 1
    return {
        "version": 1,
        "from": data["from"].isoformat(),
        "to": data["to"].isoformat(),
        "statement": sentence(values),
        "terms": [
            {
                "term": t.term,
                "statistic": t.statistic,
                "value": values[t.statistic],
                "unit": BY_NAME[t.statistic].unit,
                "definition": BY_NAME[t.statistic].definition,
                "drilldown": f"{DRILLDOWN_HTML}#{t.statistic}",
                "drilldown_rows": subjects.get(t.statistic, 0),
            }
            for t in STATEMENT_TERMS
        ],
        "heads_file": HEADS_NAME,
        "heads": heads.get("heads", []),
    }


def _heads_html(document: dict[str, Any]) -> Any:
    rows = [[h["date"], h["tree_size"], tag("code", h["root_hash"]), tag("code", h["key_id"][:16] + "…")]
            for h in document["heads"]]  # fmt: skip
    return join(
        [
            tag("h2", "The signed tree heads these numbers rest on", id="heads"),
            tag(
                "p",
                "Each number is computed from events logged in the tamper-evident ledger under these Ed25519-"
                "signed heads (",
                _to(HEADS_NAME, HEADS_NAME),
                "); check the whole chain with ",
                tag("code", "pwatch audit verify --export ."),
                ".",
            ),
            table(["date", "tree size", "root hash", "key id"], rows, id="heads-table"),
        ]
    )


def render_statement(document: dict[str, Any]) -> str:
    period = f"{document['from']} to {document['to']}"
    numbers = []
    for i, t in enumerate(document["terms"]):
        number = tag("a", f"{t['value']:,}", href=t["drilldown"], data_statistic=t["statistic"])
        numbers.append(join([", " if i else "", number, " ", t["term"]]))
    rows = [
        [t["term"], _to(t["drilldown"], f"{t['value']:,}"), tag("code", t["statistic"]), t["definition"],
         _to("#heads", "heads")]
        for t in document["terms"]
    ]  # fmt: skip
    return page(
        f"Precursor Watch — statement {period}",
        tag("h1", f"Statement for {period}"),
        tag("p", tag("b", join(numbers)), "."),
        tag("h2", "What each number counts"),
        table(["term", "number", "statistic", "definition", "rests on"], rows, id="terms"),
        _heads_html(document),
    )


def render_drilldown(document: dict[str, Any], data: dict[str, Any]) -> str:
    sections = []
    for t in document["terms"]:
        members = [d for d in data["drill"] if d["group"] == "total" and d["metric"] == t["statistic"]]
        rows = [
            [d["subject"], d.get("platform", ""), d.get("listing_key", ""), d.get("url", ""),
             " ".join(f"{e.get('event')}@{e.get('on')}" for e in d.get("evidence") or []),
             " ".join(e["warc_record_id"] for e in d.get("evidence") or [] if e.get("warc_record_id"))]
            for d in members
        ]  # fmt: skip
        sections.append(tag("h2", f"{t['value']:,} {t['term']}", id=t["statistic"]))
        sections.append(tag("p", t["definition"], " ", _to(f"{STATEMENT_HTML}#heads", "Signed heads.")))
        sections.append(table(["subject", "platform", "listing", "url", "events", "WARC records"], rows))
    title = f"Statement {document['from']} to {document['to']}: drill-down"
    return page(title, tag("h1", title), *sections)


def write_statement(out_dir: Path, data: dict[str, Any]) -> Path:
    """Write the statement files next to an audit export's `heads.json`; return statement.html."""
    heads = json.loads((out_dir / HEADS_NAME).read_text(encoding="utf-8"))
    document = statement_document(data, heads)
    (out_dir / STATEMENT_JSON).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / STATEMENT_HTML).write_text(render_statement(document), encoding="utf-8")
    (out_dir / DRILLDOWN_HTML).write_text(render_drilldown(document, data), encoding="utf-8")
    return out_dir / STATEMENT_HTML
