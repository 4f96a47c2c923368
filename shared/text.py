"""Which characters a stored text may hold: printable ones only.

Control characters (C0, DEL, C1) and lone UTF-16 surrogates are refused in every name,
description and reason a till journals or HQ stores: PostgreSQL cannot store a NUL in text, a
surrogate has no UTF-8 form (so no hash), and the rest have no business on a receipt.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["check_safe_text", "fold", "search_words", "unsafe_character"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def unsafe_character(text: str) -> tuple[int, str] | None:
    """(1-based position, character) of the first character a text may not hold, if any."""
    found = _UNSAFE.search(text)
    return None if found is None else (found.start() + 1, found.group())


def check_safe_text(text: str) -> str:
    """``text`` unchanged, or a ValueError naming the first unsafe character and where it is."""
    if text.isprintable():  # every unsafe character is unprintable: the common case, in C
        return text
    found = unsafe_character(text)
    if found is not None:
        position, character = found
        raise ValueError(
            f"contains the control character U+{ord(character):04X} at position {position}; "
            "remove it (names and texts hold printable characters only)"
        )
    return text


# Letters that Unicode does not decompose into a base letter plus a mark, spelled the way a
# cashier would type them on a plain keyboard.
_FOLD_SPECIAL = str.maketrans(
    {
        "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d",
        "þ": "th", "Þ": "th", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss",
        "ı": "i", "ħ": "h", "Ħ": "h", "ŧ": "t", "Ŧ": "t", "ŋ": "n", "Ŋ": "n",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """``text`` as a search key: case and diacritics dropped, so "lucja" finds "Łucja" and
    "MULLER" finds "Müller". (Not for display: folding loses information.)"""
    if text.isascii():  # nothing to decompose or translate: the common case, 10x faster
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_SPECIAL))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


def search_words(text: str) -> list[str]:
    """The folded words of a name, in order, each once: what a search by any word matches."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(fold(text)):
        seen.setdefault(word, None)
    return list(seen)
