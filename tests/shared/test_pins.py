"""Cashier PINs (shared/pins.py): what a PIN is, and the salted scrypt hash HQ stores and
tills check offline."""

from __future__ import annotations

import hashlib

import pytest

from shared.pins import PIN_SCHEME, new_pin_hash, pin_matches, valid_pin


def test_a_pin_is_four_to_eight_ascii_digits() -> None:
    for pin in ("0000", "4711", "12345678"):
        assert valid_pin(pin)
    for pin in ("", "123", "123456789", "12a4", " 1234", "1234\n", "١٢٣٤", "²²²²", "12.4"):
        assert not valid_pin(pin), pin
    with pytest.raises(ValueError, match="a PIN is 4 to 8 digits"):
        new_pin_hash("123")


def test_the_hash_is_scrypt_with_a_fresh_salt_each_time() -> None:
    salt, digest = new_pin_hash("4711")
    again_salt, again_digest = new_pin_hash("4711")
    assert salt != again_salt
    assert digest != again_digest  # the same PIN twice: nothing in common
    assert len(bytes.fromhex(salt)) == 16
    expected = hashlib.scrypt(b"4711", salt=bytes.fromhex(salt), n=2**14, r=8, p=1, dklen=32)
    assert digest == expected.hex()  # what the scheme's name says, so tills and HQ agree
    assert PIN_SCHEME == "scrypt:16384:8:1"
    assert pin_matches("4711", PIN_SCHEME, salt, digest)
    assert not pin_matches("4712", PIN_SCHEME, salt, digest)
    assert not pin_matches("4711", PIN_SCHEME, again_salt, digest)


def test_an_unknown_scheme_or_damaged_hash_matches_nothing() -> None:
    salt, digest = new_pin_hash("4711")
    assert not pin_matches("4711", "scrypt:1024:1:1", salt, digest)
    assert not pin_matches("4711", "plain", salt, "4711")
    assert not pin_matches("4711", PIN_SCHEME, "not hex", digest)
    assert not pin_matches("4711", PIN_SCHEME, salt, "zz")
    assert not pin_matches("4711", PIN_SCHEME, "", digest)
