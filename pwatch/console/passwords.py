"""Password hashing for console users: scrypt with a random salt, compared in constant time.

Parameters (stored in every hash, so they can be raised later without breaking old hashes):
N = 2**15, r = 8, p = 1 (32 MiB of memory per check, tens of milliseconds), 16-byte salt from
`secrets`, 32-byte key. Format: `scrypt$N$r$p$<salt hex>$<key hex>`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 10
_MAXMEM = 64 * 1024 * 1024  # scrypt needs 128 * N * r bytes = 32 MiB; OpenSSL's default cap is lower


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; a malformed hash never matches."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, bytes.fromhex(key))
    except (ValueError, TypeError):
        return False


# A hash to check against when the user does not exist, so an unknown name takes as long as a
# wrong password (no user enumeration by timing).
DUMMY_HASH = hash_password(secrets.token_hex(16))


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must be at least {MIN_PASSWORD_LENGTH} characters"
    return None
