"""The evidence pack of one listing as a download (what `pwatch audit pack` writes): for analysts
and auditors. Built per request into a temporary folder; the data dir is only read."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from precursor_watch.console.web import require_user, state_of
from precursor_watch.storage.models import Listing, Platform

PACK_READERS = ("analyst", "auditor")


class PackUnavailable(LookupError):
    """One line saying why there is no pack to download."""


def _public_pem(settings) -> str:
    """The ledger's public key, exported in the data dir (or derived from its signing key)."""
    from precursor_watch.ledger.keys import private_key_path, public_key_path
    from precursor_watch.ledger.signing import LedgerKeyError, load_private_key, load_public_key, public_pem

    try:
        if public_key_path(settings).is_file():
            return public_pem(load_public_key(public_key_path(settings)))
        if private_key_path(settings).is_file():
            return public_pem(load_private_key(private_key_path(settings)).public_key())
    except LedgerKeyError as exc:
        raise PackUnavailable(str(exc)) from None
    raise PackUnavailable("the data dir has no ledger key yet (`pwatch keys init`)")


def pack_bytes(session: Session, settings, listing_id: int) -> bytes:
    from precursor_watch.ledger.pack import PackError, build_pack

    found = session.execute(
        select(Platform.name, Listing.listing_key).join(Platform).where(Listing.id == listing_id)
    ).first()
    if found is None:
        raise PackUnavailable(f"no listing with id {listing_id}")
    with tempfile.TemporaryDirectory(prefix="pwatch-pack-") as tmp:
        out = Path(tmp) / "pack.zip"
        try:
            build_pack(session, Path(settings.data_path), f"{found[0]}/{found[1]}", out, _public_pem(settings))
        except (PackError, OSError) as exc:
            raise PackUnavailable(str(exc)) from None
        return out.read_bytes()


def pack_download(request: Request, listing_id: int) -> Response:
    require_user(request, PACK_READERS)
    console = state_of(request)
    with Session(console.engine) as session:
        try:
            blob = pack_bytes(session, console.settings, listing_id)
        except PackUnavailable as exc:
            return Response(f"no evidence pack: {exc}\n", status_code=404, media_type="text/plain")
    return Response(
        blob,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-pack-{listing_id}.zip"'},
    )
