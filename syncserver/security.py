"""Secrets: bearer tokens (stored only as SHA-256 hashes) and HQ passwords (scrypt)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "hash_token", "new_password", "new_token", "verify_password"]

# scrypt parameters: 16 MiB of memory per hash, well under a second on a small server.
_N, _R, _P = 2**14, 8, 1


def new_token() -> str:
    """A bearer token: 32 random bytes, URL-safe text. Shown once, never stored."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the database keeps. Tokens carry 256 bits of entropy, so a plain hash suffices."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(18)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P)
    encode = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))
