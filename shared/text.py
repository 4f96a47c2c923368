"""Which characters a stored text may hold: printable ones only.

Control characters (C0, DEL, C1) and lone UTF-16 surrogates are refused in every name,
description and reason a till journals or HQ stores: PostgreSQL cannot store a NUL in text, a
surrogate has no UTF-8 form (so no hash), and the rest have no business on a receipt.
"""

from __future__ import annotations

import re

__all__ = ["check_safe_text", "unsafe_character"]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def unsafe_character(text: str) -> tuple[int, str] | None:
    """(1-based position, character) of the first character a text may not hold, if any."""
    found = _UNSAFE.search(text)
    return None if found is None else (found.start() + 1, found.group())


def check_safe_text(text: str) -> str:
    """``text`` unchanged, or a ValueError naming the first unsafe character and where it is."""
    found = unsafe_character(text)
    if found is not None:
        position, character = found
        raise ValueError(
            f"contains the control character U+{ord(character):04X} at position {position}; "
            "remove it (names and texts hold printable characters only)"
        )
    return text
