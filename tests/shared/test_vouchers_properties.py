"""Voucher codes as every layer sees them (docs/codes.md, docs/vouchers.md): what the generator
makes, the scan parser, the journal's ``VoucherCode`` type and HQ's ``canonical_code`` all
accept and agree on; and no single substitution or adjacent transposition of a valid code is
ever taken for a *different* code by any of them.

tests/shared/test_codes.py already proves the parser refuses substitutions and transpositions
of the code's symbols; this file adds the journal type (what a till journals and HQ stores)
and the whole printed string — the ``V``, the dashes, any character at all in place of one.
"""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.codes import VOUCHER_ALPHABET, CodeConfig, Voucher, generate_voucher_code, parse_scan
from shared.journal import VoucherUse
from shared.journal.types import VoucherCode
from syncserver.hq.vouchers import canonical_code

CONFIG = CodeConfig()
NOW = 1_700_000_000
VOUCHER_CODE: TypeAdapter[str] = TypeAdapter(VoucherCode)

seeds = st.integers(min_value=0, max_value=2**64)
# What a cashier or a scanner may put in place of one character: the alphabet in both cases,
# the look-alikes the alphabet leaves out, separators, punctuation, and any other character.
replacements = st.one_of(
    st.sampled_from(VOUCHER_ALPHABET + VOUCHER_ALPHABET.lower() + "01ILOilo -_#V"),
    st.sampled_from(string.printable),
    st.characters(codec="utf-8"),  # any character but a lone surrogate
)


def code_of(seed: int) -> str:
    return generate_voucher_code(random.Random(seed))


def journal_accepts(text: str) -> bool:
    try:
        VOUCHER_CODE.validate_python(text)
    except ValidationError:
        return False
    return True


def scanned(text: str) -> str | None:
    """The code the till reads from ``text``, or None when it refuses it."""
    result = parse_scan(text, CONFIG, now_unix=NOW)
    return result.code if isinstance(result, Voucher) else None


@given(seeds)
def test_every_generated_code_is_accepted_everywhere_as_itself(seed: int) -> None:
    code = code_of(seed)
    assert journal_accepts(code)
    assert VoucherUse(code=code, discount_minor=500).code == code
    assert scanned(code) == code
    assert canonical_code(code) == code
    # As a cashier keys it: lower case, without dashes, with spaces; HQ's search likewise.
    keyed = code.lower().replace("-", " ")
    assert scanned(keyed) == code
    assert scanned(code.replace("-", "")) == code
    assert canonical_code(keyed) == code
    assert canonical_code(code[2:].replace("-", "")) == code


@given(seeds, st.integers(min_value=0, max_value=15), replacements)
def test_a_single_substitution_is_never_taken_for_another_code(
    seed: int, position: int, other: str
) -> None:
    """The journal type takes the canonical string only: any change to it is refused. The
    scanner normalises case and separators, so a change there may read as the same code —
    never as another one."""
    code = code_of(seed)
    wrong = code[:position] + other + code[position + 1 :]
    if wrong == code:
        return
    assert not journal_accepts(wrong), (code, wrong)
    assert scanned(wrong) in (None, code), (code, wrong)
    if position >= 2 and code[position] != "-" and other.upper() != code[position]:
        assert scanned(wrong) is None, (code, wrong)  # a symbol really changed: refused


@given(seeds)
def test_every_symbol_substitution_is_refused_by_the_journal_type(seed: int) -> None:
    """Exhaustively, per code: every symbol position, every other symbol of the alphabet."""
    code = code_of(seed)
    for position, symbol in enumerate(code):
        if position < 2 or symbol == "-":
            continue
        for other in VOUCHER_ALPHABET:
            if other != symbol:
                wrong = code[:position] + other + code[position + 1 :]
                assert not journal_accepts(wrong), (code, wrong)
                assert scanned(wrong) is None, (code, wrong)


@given(seeds)
def test_every_adjacent_transposition_is_refused_or_reads_as_the_same_code(seed: int) -> None:
    """Swapping two neighbours of the printed string: the journal type refuses every one that
    changes the string; the scanner refuses every one that swaps two different symbols (and
    reads a moved dash as the same code)."""
    code = code_of(seed)
    symbols = code.replace("-", "")[1:]
    for i in range(len(code) - 1):
        if code[i] == code[i + 1]:
            continue
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        assert not journal_accepts(swapped), (code, swapped)
        assert scanned(swapped) in (None, code), (code, swapped)
    for i in range(len(symbols) - 1):
        if symbols[i] == symbols[i + 1]:
            continue
        moved = symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :]
        canonical = "V-" + "-".join(moved[k : k + 4] for k in range(0, 12, 4))
        assert not journal_accepts(canonical), (code, canonical)
        assert scanned(canonical) is None, (code, canonical)


@pytest.mark.parametrize("bad", ["", "V-", "V-AAAA-AAAA-AAAA", "v-2345-6789-abcd", "X" * 16])
def test_the_journal_type_refuses_what_is_not_a_canonical_code(bad: str) -> None:
    assert not journal_accepts(bad)
    with pytest.raises(ValidationError):
        VoucherUse(code=bad, discount_minor=100)
