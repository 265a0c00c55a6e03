"""Decisions made in the console leave the database exactly as `pwatch review` leaves it for the
same decisions: the same events and review rows, apart from the reviewer's name."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from precursor_watch.cli import main
from precursor_watch.storage.db import make_engine
from precursor_watch.storage.models import Listing
from tests.console.conftest import settings_for
from tests.console.helpers import flagged_ids, logged_in, token


def _seller_batch(settings, exclude: set[int]) -> list[int]:
    """The flagged listings of the seller with the most of them (the bulk decision's batch)."""
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            rows = s.execute(select(Listing.id, Listing.account_id).where(Listing.review == "flagged").order_by(Listing.id)).all()
    finally:
        engine.dispose()
    by_seller: dict[int, list[int]] = {}
    for lid, account in rows:
        if lid not in exclude and account is not None:
            by_seller.setdefault(account, []).append(lid)
    return max(by_seller.values(), key=len)


def _dump(settings) -> dict[str, list[dict]]:
    engine = make_engine(settings.db_url)
    out = {}
    try:
        with engine.connect() as conn:
            for table in ("events", "reviews", "listings"):
                rows = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for row in rows:
                    row.pop("reviewer", None)  # the one difference allowed: who decided
                    if table == "events" and row.get("details"):
                        details = json.loads(row["details"])
                        details.pop("reviewer", None)
                        row["details"] = details
                out[table] = rows
            out["reviewers"] = sorted({r for (r,) in conn.execute(text("SELECT reviewer FROM reviews WHERE automated = false"))})
    finally:
        engine.dispose()
    return out


def test_console_decisions_equal_cli_decisions(run_copy, tmp_path, trained_model):
    cli_data = tmp_path / "cli"
    shutil.copytree(run_copy.data, cli_data, ignore=shutil.ignore_patterns(".lock"))
    cli_settings = settings_for(cli_data, trained_model)
    ids = flagged_ids(run_copy.settings)
    single = [(ids[0], "confirmed", "seen the CAS number and a price"), (ids[1], "dismissed", None)]
    batch = _seller_batch(run_copy.settings, {ids[0], ids[1]})
    assert len(batch) >= 1

    c = logged_in(run_copy.settings, "ana")
    for lid, decision, note in single:
        form = {"csrf_token": token(c, "/queue"), "listing_id": str(lid), "decision": decision, "note": note or ""}
        assert c.post("/decide", data=form).status_code == 303
    form = {"csrf_token": token(c, "/queue"), "listing_id": [str(i) for i in batch], "decision": "dismissed", "note": "seller sells reagents only"}
    assert c.post("/decide", data=form).status_code == 303

    for lid, decision, note in single:
        verb = "confirm" if decision == "confirmed" else "dismiss"
        argv = ["review", verb, str(lid), "--reviewer", "cli-user", "--data-dir", str(cli_data)]
        assert main(argv + (["--note", note] if note else [])) == 0
    for lid in batch:
        assert main(["review", "dismiss", str(lid), "--reviewer", "cli-user", "--note", "seller sells reagents only",
                     "--data-dir", str(cli_data)]) == 0

    console, cli = _dump(run_copy.settings), _dump(cli_settings)
    assert len(console["reviews"]) == len(cli["reviews"]) == 2 + len(batch)
    assert console.pop("reviewers") == ["ana"] and cli.pop("reviewers") == ["cli-user"]
    assert console == cli
