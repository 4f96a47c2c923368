"""Cashier PINs: what one looks like, and the one slow salted hash HQ stores and tills check.

HQ hashes a PIN when a manager sets it (``syncserver cashier add`` / ``cashier pin``); the
hash, its salt and the scheme travel to the store's tills in the pull, and a till checks a
PIN offline against them. Neither side ever stores or sends the PIN itself.

scrypt with n=2^14, r=8, p=1 costs a core tens of milliseconds and 16 MiB per check: fine
once per sign-in, and it makes trying all 10,000 four-digit PINs against a stolen database file
minutes of work per cashier instead of microseconds (a PIN is short; the cost is the
defence, with the salt keeping one table from serving every cashier).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["PIN_RULE", "PIN_SCHEME", "burn_one_hash", "new_pin_hash", "pin_matches", "valid_pin"]

PIN_SCHEME = "scrypt:16384:8:1"
"""``scrypt:n:r:p``: how ``pin_hash`` was derived (a 32-byte key, hex)."""

PIN_RULE = "a PIN is 4 to 8 digits"
"""What :func:`valid_pin` checks, in words for an error message."""

_PIN = re.compile(r"[0-9]{4,8}")
_SALT_BYTES = 16
_KEY_BYTES = 32
# scrypt's own limit is 128 * r * n bytes of memory; give it room above that.
_MAX_MEMORY = 64 * 1024 * 1024
_SCHEMES: dict[str, tuple[int, int, int]] = {PIN_SCHEME: (2**14, 8, 1)}
"""The schemes this code can check. A hash in any other one is refused, never guessed at."""


def valid_pin(pin: str) -> bool:
    """4 to 8 ASCII digits (not ``str.isdigit``, which also accepts "²" and "١")."""
    return _PIN.fullmatch(pin) is not None


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=_KEY_BYTES
    )


def new_pin_hash(pin: str) -> tuple[str, str]:
    """(salt, hash), both hex, of ``pin`` in :data:`PIN_SCHEME` with a fresh random salt.

    Raises ValueError for a PIN that is not 4 to 8 digits.
    """
    if not valid_pin(pin):
        raise ValueError(PIN_RULE)
    salt = secrets.token_bytes(_SALT_BYTES)
    n, r, p = _SCHEMES[PIN_SCHEME]
    return salt.hex(), _derive(pin, salt, n, r, p).hex()


def pin_matches(pin: str, scheme: str, salt_hex: str, hash_hex: str) -> bool:
    """Whether ``pin`` is the PIN behind ``hash_hex``. Costs one full hash whatever the PIN
    looks like (so a malformed guess tells nothing by its speed); compares in constant time.
    False for a scheme this code does not know or a salt/hash that is not hex."""
    params = _SCHEMES.get(scheme)
    try:
        salt = bytes.fromhex(salt_hex)
        expected = bytes.fromhex(hash_hex)
    except ValueError:
        salt, expected = b"", b""
    if params is None or not salt or not expected:
        burn_one_hash(pin)
        return False
    derived = _derive(pin, salt, *params)
    return hmac.compare_digest(derived, expected) and valid_pin(pin)


def burn_one_hash(pin: str) -> None:
    """The cost of one check with nothing to check against: for an unknown cashier id, so
    its answer takes as long as a wrong PIN's and does not tell the id is unknown."""
    n, r, p = _SCHEMES[PIN_SCHEME]
    _derive(pin, b"\0" * _SALT_BYTES, n, r, p)
