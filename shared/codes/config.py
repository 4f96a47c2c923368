"""Which number ranges belong to this program, and how long a member QR code stays valid."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from shared.codes.checks import luhn_valid

__all__ = ["MAX_CARD_LENGTH", "MIN_QR_KEY_BYTES", "QR_KEY_ID", "CodeConfig"]

MAX_CARD_LENGTH: Final = 19
"""ISO/IEC 7812 card numbers have at most 19 digits (track 2 has room for no more)."""
MIN_QR_KEY_BYTES: Final = 16
"""A shorter HMAC key could be brute-forced offline from one screenshot of a member QR."""
QR_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""Key ids appear inside the QR payload, so they must not contain its '.' separator."""
_DIGITS: Final = re.compile(r"[0-9]+")


def _empty_keys() -> Mapping[str, bytes]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CodeConfig:
    """The program's code settings; invalid combinations fail here, at start-up, not mid-sale.

    ``qr_keys`` is copied into a read-only mapping, is left out of ``repr`` (keys are secrets)
    and out of the hash (a mapping is not hashable); it still takes part in ``==``.
    """

    card_prefix: str = "9826"
    card_length: int = 16
    gift_prefix: str = "6039"
    gift_length: int = 19
    qr_keys: Mapping[str, bytes] = field(default_factory=_empty_keys, repr=False, hash=False)
    qr_max_age_s: int = 300
    qr_max_skew_s: int = 60

    def __post_init__(self) -> None:
        for name, prefix, length in (
            ("card", self.card_prefix, self.card_length),
            ("gift", self.gift_prefix, self.gift_length),
        ):
            if not _DIGITS.fullmatch(prefix):
                raise ValueError(f"{name}_prefix must be ASCII digits, got {prefix!r}")
            if not len(prefix) + 1 < length <= MAX_CARD_LENGTH:
                raise ValueError(
                    f"{name}_length must leave room for the prefix, at least one digit and "
                    f"the check digit, and be at most {MAX_CARD_LENGTH}; got {length}"
                )
        if self.card_length == self.gift_length and (
            self.card_prefix.startswith(self.gift_prefix)
            or self.gift_prefix.startswith(self.card_prefix)
        ):
            raise ValueError("loyalty and gift card number ranges overlap")
        if self.qr_max_age_s < 0 or self.qr_max_skew_s < 0:
            raise ValueError("qr_max_age_s and qr_max_skew_s must not be negative")
        keys = dict(self.qr_keys)
        for key_id, key in keys.items():
            if not isinstance(key_id, str) or not QR_KEY_ID.fullmatch(key_id):
                raise ValueError(f"QR key id {key_id!r} must be 1-32 of A-Z a-z 0-9 _ -")
            if not isinstance(key, bytes) or len(key) < MIN_QR_KEY_BYTES:
                raise ValueError(
                    f"QR key {key_id!r} must be bytes of length {MIN_QR_KEY_BYTES} or more"
                )
        # Frozen: bypass __setattr__ once, so a caller's later changes to its dict are not seen.
        object.__setattr__(self, "qr_keys", MappingProxyType(keys))

    def is_loyalty_card_number(self, number: str) -> bool:
        """Digits in the loyalty range with a valid Luhn check digit."""
        return _in_range(number, self.card_prefix, self.card_length)

    def is_gift_card_number(self, number: str) -> bool:
        """Digits in the gift card range with a valid Luhn check digit."""
        return _in_range(number, self.gift_prefix, self.gift_length)


def _in_range(number: str, prefix: str, length: int) -> bool:
    return len(number) == length and number.startswith(prefix) and luhn_valid(number)
