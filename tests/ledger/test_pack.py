"""An evidence pack verifies from a fresh folder outside the project with its own verifier,
`sha256sum` and `warcio`, as its README says, and fails once one byte of it changes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from precursor_watch import steps
from precursor_watch.cli import main
from precursor_watch.ledger.encoding import decode
from precursor_watch.storage.models import Event, Listing, Platform
from tests.ledger.test_tamper import _flip_payload_byte, db

pytestmark = pytest.mark.slow
WARCIO = Path(sys.executable).with_name("warcio")


def _cli(settings, *argv: str) -> int:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in steps.settings_environment(settings).items():
            mp.setenv(name, value)
        return main(list(argv))


def _run(args, cwd) -> subprocess.CompletedProcess:
    # the verifier runs as a stranger's script would: another folder, no project on the path
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})


def test_pack_verifies_outside_the_project_and_fails_after_one_byte_changes(ledger_run, tmp_path, capsys):
    with db(ledger_run) as s:
        listing_id = s.scalar(
            select(Event.listing_id).where(Event.kind == "removal_observed").order_by(Event.id).limit(1)
        )
        platform, key = s.execute(
            select(Platform.name, Listing.listing_key).join(Platform).where(Listing.id == listing_id)
        ).one()
        kinds = list(s.scalars(select(Event.kind).where(Event.listing_id == listing_id).order_by(Event.id)))
    public = tmp_path / "publisher.pem"
    assert _cli(ledger_run, "keys", "init", "--export", str(public)) == 0
    out = tmp_path / "pack.zip"
    assert _cli(ledger_run, "audit", "pack", f"{platform}/{key}", "--out", str(out)) == 0
    assert f"({len(kinds)} events" in capsys.readouterr().out
    folder = tmp_path / "fresh"
    zipfile.ZipFile(out).extractall(folder)
    assert "sha256sum -c MANIFEST.sha256" in (folder / "README.md").read_text()

    assert _run(["sha256sum", "-c", "MANIFEST.sha256"], folder).returncode == 0
    ok = _run([sys.executable, "verify_pack.py", ".", "--public-key", str(public)], folder)
    assert ok.returncode == 0 and f"pack verified: {len(kinds)} events" in ok.stdout, ok.stdout + ok.stderr
    index = _run(
        [str(WARCIO), "index", "-f", "warc-type,warc-target-uri,warc-concurrent-to", "evidence.warc.gz"], folder
    )
    assert index.returncode == 0, index.stderr
    lines = [json.loads(line) for line in index.stdout.splitlines()]
    assert lines[0]["warc-type"] == "warcinfo"
    responses = [x for x in lines if x["warc-type"] == "response"]
    requests = [x for x in lines if x["warc-type"] == "request"]
    # each fetch's request record comes with its response, linked by WARC-Concurrent-To
    assert responses and len(requests) == len(responses)
    assert {x["warc-target-uri"] for x in requests} == {x["warc-target-uri"] for x in responses}
    assert f", {len(requests)} request records" in ok.stdout

    # one byte of an archived payload changed: the verifier names the record, sha256sum fails
    warc = folder / "evidence.warc.gz"
    original_warc = warc.read_bytes()
    first_leaf = json.loads(next(iter((folder / "events.jsonl").read_text().splitlines())))["leaf_data"]
    record_id = decode(first_leaf)["evidence"]["warc_record_id"]
    warc.write_bytes(_flip_payload_byte(original_warc, record_id))
    bad = _run([sys.executable, "verify_pack.py", ".", "--public-key", str(public)], folder)
    assert bad.returncode == 1 and f"WARC record {record_id} payload does not hash" in bad.stdout, bad.stdout
    assert _run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], folder).returncode != 0
    warc.write_bytes(original_warc)

    events = folder / "events.jsonl"
    original = events.read_bytes()
    at = re.search(rb'\[2,\d+,\\"\d{4}-\d\d-\d\d', original).end() - 1  # last digit of the first date (occurred_on)
    events.write_bytes(original[:at] + bytes([original[at] ^ 0x01]) + original[at + 1 :])
    bad = _run([sys.executable, "verify_pack.py", ".", "--public-key", str(public)], folder)
    assert bad.returncode == 1 and "not in the signed tree" in bad.stdout, bad.stdout + bad.stderr
    assert _run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], folder).returncode != 0
    events.write_bytes(original)

    other = tmp_path / "other.pem"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from precursor_watch.ledger.signing import public_pem

    other.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    wrong_key = _run([sys.executable, "verify_pack.py", ".", "--public-key", str(other)], folder)
    assert wrong_key.returncode == 1 and "signature does not verify" in wrong_key.stdout
