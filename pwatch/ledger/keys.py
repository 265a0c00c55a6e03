"""Where the signing key lives: the `ledger_key_file` setting, or `<data_dir>/ledger/signing_key.pem`.
The public half is exported next to it as `public_key.pem` for auditors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from precursor_watch.ledger.signing import create_private_key, key_id, load_private_key, public_pem

log = logging.getLogger(__name__)
PUBLIC_NAME = "public_key.pem"


def private_key_path(settings) -> Path:
    chosen = getattr(settings, "ledger_key_file", "") or ""
    return Path(chosen) if chosen else Path(settings.data_path) / "ledger" / "signing_key.pem"


def public_key_path(settings) -> Path:
    return Path(settings.data_path) / "ledger" / PUBLIC_NAME


@dataclass(frozen=True)
class KeyInfo:
    private_path: Path
    public_path: Path
    key_id: str
    public_pem: str
    created: bool


def _export(settings, key: Ed25519PrivateKey, created: bool) -> KeyInfo:
    pem = public_pem(key.public_key())
    target = public_key_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(pem, encoding="ascii")
    return KeyInfo(private_key_path(settings), target, key_id(key.public_key()), pem, created)


def init_key(settings) -> KeyInfo:
    """Create the signing key unless it exists; (re-)export its public key either way."""
    path = private_key_path(settings)
    if path.exists():
        return _export(settings, load_private_key(path), created=False)
    return _export(settings, create_private_key(path), created=True)


def signing_key(settings) -> Ed25519PrivateKey:
    """The signing key; a data dir sealed for the first time without `pwatch keys init` gets one."""
    path = private_key_path(settings)
    if not path.exists():
        info = init_key(settings)
        log.warning("ledger: created signing key %s (key id %s); public key in %s", path, info.key_id, info.public_path)
    return load_private_key(path)
