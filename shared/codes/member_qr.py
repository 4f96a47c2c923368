"""Member QR codes shown by the member app: signed, versioned and short-lived.

Payload (version 1)::

    LT1.<key_id>.<card_number>.<issued_unix>.<mac>

``mac`` is the first 20 characters (100 bits) of the unpadded, uppercase RFC 4648 base32 of
HMAC-SHA256(key, b"LT1|" + key_id + "|" + card_number + "|" + issued_unix). The key id lets HQ
rotate keys: tills accept every key they were sent. The short validity window is what stops a
screenshot from being replayed later; the caller passes the clock (this module is pure).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final

from shared.codes.config import QR_KEY_ID, CodeConfig
from shared.codes.results import MemberQR, Refusal

__all__ = [
    "MAC_CHARS",
    "QR_VERSION",
    "looks_like_member_qr",
    "make_member_qr",
    "member_qr_mac",
    "parse_member_qr",
]

QR_VERSION: Final = "LT1"
MAC_CHARS: Final = 20

# "LT" + a version number + "." is how every present and future member code starts.
_VERSIONED: Final = re.compile(r"LT([0-9]{1,6})\.")
_V1_FIELDS: Final = re.compile(
    r"LT1\.(?P<key_id>[A-Za-z0-9_-]{1,32})\.(?P<card>[0-9]{1,19})"
    r"\.(?P<issued>0|[1-9][0-9]{0,11})\.(?P<mac>[A-Z2-7]{20})"
)

REASON_NO_CLOCK: Final = (
    "member code cannot be checked because the till gave no clock time — "
    "key the card number instead and tell support"
)
REASON_NEWER_VERSION: Final = (
    "member code comes from a newer app version than this till understands — "
    "key the card number, and ask for a till update"
)
REASON_DAMAGED: Final = "member code is damaged — ask the member to refresh the code in the app"
REASON_UNKNOWN_KEY: Final = (
    "member code is signed with a key this till does not know yet — "
    "let the till sync, or key the card number"
)
REASON_FORGED: Final = "member code was not issued by this program — ask for the loyalty card"
REASON_NOT_A_CARD: Final = (
    "member code does not hold a valid loyalty card number — ask for the loyalty card"
)
REASON_EXPIRED: Final = "member code has expired — ask the member to refresh the code in the app"
REASON_FUTURE: Final = (
    "member code is dated in the future — check the till's and the phone's clock, "
    "then ask the member to refresh the code"
)


def member_qr_mac(key: bytes, key_id: str, card_number: str, issued_unix: int) -> str:
    """The 20-character MAC of a version 1 member code."""
    message = f"{QR_VERSION}|{key_id}|{card_number}|{issued_unix}".encode("ascii")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:MAC_CHARS]


def make_member_qr(card_number: str, key_id: str, key: bytes, issued_unix: int) -> str:
    """The payload for the member app to draw as a QR code at ``issued_unix``.

    Checks only the syntax the payload needs; whether the number is in the program's loyalty
    range is the parser's business (it does not know the key's owner here).
    """
    if not QR_KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id {key_id!r} must be 1-32 of A-Z a-z 0-9 _ -")
    if not re.fullmatch(r"[0-9]{1,19}", card_number):
        raise ValueError("card number must be 1-19 ASCII digits")
    if not 0 <= issued_unix < 10**12:
        raise ValueError("issued_unix must be a non-negative Unix time in seconds")
    if not key:
        raise ValueError("the HMAC key must not be empty")
    mac = member_qr_mac(key, key_id, card_number, issued_unix)
    return f"{QR_VERSION}.{key_id}.{card_number}.{issued_unix}.{mac}"


def looks_like_member_qr(text: str) -> bool:
    """True for anything that starts like a member code of any version."""
    return _VERSIONED.match(text) is not None


def parse_member_qr(text: str, config: CodeConfig, now_unix: int | None) -> MemberQR | Refusal:
    """Verify a member code (``looks_like_member_qr(text)`` must hold).

    Order matters: nothing from the payload is trusted (or reported) before its MAC verifies,
    so a tampered timestamp is "not issued by this program", never "expired".
    """
    version = _VERSIONED.match(text)
    if version is None:
        return Refusal(REASON_DAMAGED)
    if version.group(1) != QR_VERSION.removeprefix("LT"):
        # "LT2." is a future format; "LT0." or "LT01." was never issued by any app.
        newer = int(version.group(1)) > int(QR_VERSION.removeprefix("LT"))
        return Refusal(REASON_NEWER_VERSION if newer else REASON_DAMAGED)
    if now_unix is None:
        return Refusal(REASON_NO_CLOCK)
    fields = _V1_FIELDS.fullmatch(text)
    if fields is None:
        return Refusal(REASON_DAMAGED)
    key_id, card, issued_text, mac = fields.group("key_id", "card", "issued", "mac")
    key = config.qr_keys.get(key_id)
    if key is None:
        return Refusal(REASON_UNKNOWN_KEY)
    issued = int(issued_text)  # at most 12 digits by the pattern
    # Both strings are ASCII by the pattern, as compare_digest requires.
    if not hmac.compare_digest(member_qr_mac(key, key_id, card, issued), mac):
        return Refusal(REASON_FORGED)
    if not config.is_loyalty_card_number(card):
        return Refusal(REASON_NOT_A_CARD)
    if now_unix - issued > config.qr_max_age_s:
        return Refusal(REASON_EXPIRED)
    if issued - now_unix > config.qr_max_skew_s:
        return Refusal(REASON_FUTURE)
    return MemberQR(card_number=card, issued_at=issued, key_id=key_id)
