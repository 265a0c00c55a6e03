"""Ed25519 keys and signatures of tree heads and export manifests (`cryptography`).

A tree head is signed as the UTF-8 text `HEAD_PREFIX` + date, tree size and root hash (hex), one
per line; a manifest as `MANIFEST_PREFIX` + the SHA-256 of the manifest file (hex). The prefixes
keep a signature over one kind of statement from passing as the other.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HEAD_PREFIX = "precursor-watch tree head v1\n"
MANIFEST_PREFIX = "precursor-watch manifest v1\n"


class LedgerKeyError(ValueError):
    """A key file that is missing, unreadable or not an Ed25519 key."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def create_private_key(path: Path) -> Ed25519PrivateKey:
    """A new key written to `path` (PEM, PKCS#8, mode 0600; never overwrites an existing file)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise LedgerKeyError(f"{path}: not a readable Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise LedgerKeyError(f"{path}: not a readable Ed25519 public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise LedgerKeyError(f"{path}: not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class HeadStatement:
    head_date: str  # ISO date
    tree_size: int
    root_hash: str  # hex

    def message(self) -> bytes:
        return f"{HEAD_PREFIX}{self.head_date}\n{self.tree_size}\n{self.root_hash}\n".encode()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return key.sign(message).hex()


def verifies(public: Ed25519PublicKey, message: bytes, signature_hex: str) -> bool:
    try:
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def manifest_message(manifest_sha256: str) -> bytes:
    return f"{MANIFEST_PREFIX}{manifest_sha256}\n".encode()
