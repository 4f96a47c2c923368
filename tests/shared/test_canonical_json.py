"""The fast canonical JSON (orjson) writes exactly the bytes of the reference (the json module):
every journal hash ever computed depends on it, on the tills and at HQ."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.journal.canonical import (
    CanonicalJSONError,
    canonical_json,
    reference_canonical_json,
)

# Every code point, lone surrogates and controls included; integers of any size.
_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**64) - 2, max_value=2**64 + 2),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(_text, inner, max_size=6)),
    max_leaves=40,
)


def _outcome(encode: Any, value: Any) -> bytes | str:
    try:
        return bytes(encode(value))
    except CanonicalJSONError as error:
        return f"refused: {error}"


@given(_values)
def test_the_fast_path_writes_the_reference_bytes_or_refuses_alike(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(reference_canonical_json, value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, False, None], "é": "ü", "A": {"z": "", "y": -0}},
        {"controls": "".join(chr(c) for c in range(0x20)) + '"\\\x7f\u2028\u2029'},
        {"astral": "🧾 receipt 𝄞", "keys": {"😀": 1, "~": 2, "\x00": 3, "ß": 4}},
        {"bounds": [2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**40]},
        {"surrogate": "\ud800"},
    ],
)
def test_known_awkward_values(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(reference_canonical_json, value)


def test_floats_stay_refused_on_the_fast_path() -> None:
    with pytest.raises(CanonicalJSONError, match="floats are not allowed"):
        canonical_json({"amount": 1.5})
