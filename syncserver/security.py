"""Secrets: bearer tokens (stored only as SHA-256 hashes) and HQ passwords (argon2id).

Passwords hashed by an earlier release with scrypt still verify; :func:`needs_rehash` tells
the sign-in code to store an argon2id hash in their place.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "hash_password",
    "hash_token",
    "needs_rehash",
    "new_password",
    "new_token",
    "verify_password",
]

# argon2-cffi's defaults are RFC 9106's "low memory" profile (argon2id, 64 MiB, 3 passes):
# tens of milliseconds per sign-in, expensive for anyone guessing offline.
_hasher = PasswordHasher()


def new_token() -> str:
    """A bearer token: 32 random bytes, URL-safe text. Shown once, never stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps. Tokens carry 256 bits of entropy, so a plain hash suffices."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_legacy_scrypt(password, stored)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scrypt hash or argon2 parameters weaker than today's."""
    return stored.startswith("scrypt$") or _hasher.check_needs_rehash(stored)


def _verify_legacy_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))
