"""E-mail addresses at enrolment: a syntax check a real person's address passes, and one
normal form (the domain in lower case; the part before the @ is the mailbox owner's and kept
as typed).

No DNS look-up (tills work offline). What is accepted is the address people actually have:
``local@domain.tld`` where the local part is dot-separated atoms (RFC 5322's dot-atom, any
script's letters too, as SMTPUTF8 allows) and the domain is at least two labels of letters,
digits and hyphens ending in a top-level domain of two or more letters (or an ``xn--`` one).
Quoted local parts and IP-address domains are legal but no shopper has one: refused.
"""

from __future__ import annotations

import re

__all__ = ["EXAMPLE_EMAIL", "validate_email"]

EXAMPLE_EMAIL = "anna.nowak@example.com"

_MAX_LENGTH = 254
"""RFC 5321's forward-path limit (shared.bounds.MAX_EMAIL)."""
_MAX_LOCAL = 64
_MAX_LABEL = 63

# An atom: letters and digits of any script, and the specials RFC 5322 allows unquoted.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
# A label: letters/digits (any script: internationalised domains), hyphens inside only.
_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?")
_TLD = re.compile(r"(?:[^\W\d_]{2,}|xn--[a-z0-9-]+)", re.IGNORECASE)


def _refuse(text: str, problem: str) -> ValueError:
    return ValueError(f"The email {text} {problem}, e.g. {EXAMPLE_EMAIL}")


def validate_email(raw: str) -> str:
    """``raw`` with surrounding space removed and the domain lower-cased, or a ValueError
    naming what is wrong and showing an example."""
    text = raw.strip()
    if not text:
        raise ValueError(f"The email is empty; type the whole address, e.g. {EXAMPLE_EMAIL}")
    if any(ch.isspace() for ch in text):
        raise _refuse(text, "has a space in it")
    if len(text) > _MAX_LENGTH:
        raise _refuse(text, f"is longer than {_MAX_LENGTH} characters")
    if text.count("@") != 1:
        problem = "has no @" if "@" not in text else "has more than one @"
        raise _refuse(text, problem)
    local, domain = text.split("@")
    if not local:
        raise _refuse(text, "has nothing before the @")
    if len(local) > _MAX_LOCAL:
        raise _refuse(text, f"has more than {_MAX_LOCAL} characters before the @")
    if not _LOCAL.fullmatch(local):
        if local.startswith(".") or local.endswith(".") or ".." in local:
            raise _refuse(text, "has a dot at the start or end of the name, or two in a row")
        odd = next((ch for ch in local if not re.fullmatch(_ATOM, ch) and ch != "."), "?")
        raise _refuse(text, f"holds {odd!r} before the @")
    if not domain:
        raise _refuse(text, "has nothing after the @")
    labels = domain.split(".")
    if len(labels) < 2:
        raise _refuse(text, "has no domain ending after the @ (like .com)")
    if any(not label for label in labels):
        raise _refuse(text, "has a dot at the start or end of the domain, or two in a row")
    for label in labels:
        if label.startswith("-") or label.endswith("-"):
            raise _refuse(text, f"has {label!r} in its domain (a - only between letters)")
        if len(label) > _MAX_LABEL or not _LABEL.fullmatch(label):
            raise _refuse(text, f"has {label!r} in its domain (letters, digits and - only)")
    if not _TLD.fullmatch(labels[-1]):
        raise _refuse(text, f"ends in .{labels[-1]}, which is no domain ending")
    return f"{local}@{domain.lower()}"
