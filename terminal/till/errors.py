"""What can go wrong at the till, each with a message for the cashier and a next step.

    TillError
    ├── NotSignedInError
    ├── SignInFailedError
    ├── ScanNotUnderstoodError      (garbled or unknown code)
    ├── UnknownProductError
    ├── UnknownCardError
    ├── CardBlockedError
    ├── RedemptionRefusedError      (limits, balance, offline cap)
    ├── PaymentIncompleteError
    │   └── StoredValueRefusedError (a gift card, credit slip or store credit that cannot
    │                                pay: unknown, blocked, balance, offline cap)
    ├── VoucherRefusedError         (unknown, used, expired, another member's, min spend, cap)
    ├── ReturnRefusedError          (more than was sold, unknown receipt, voided sale)
    ├── EnrolmentRefusedError       (missing contact, card already in use, bad card number)
    ├── BasketLimitError            (a quantity, price, line count or total beyond bounds)
    └── JournalRefusedError         (an entry HQ could not store: a control character, an
        │                            amount out of bounds, an entry too large)
        └── ClockRefusedError       (the till's clock is outside 2000–2099)

Nothing that raises one of these has changed the journal or any balance.
"""

from __future__ import annotations

import re

__all__ = [
    "BasketLimitError",
    "CardBlockedError",
    "ClockRefusedError",
    "EnrolmentRefusedError",
    "JournalRefusedError",
    "NotSignedInError",
    "PaymentIncompleteError",
    "RedemptionRefusedError",
    "ReturnRefusedError",
    "RewardRefusedError",
    "ScanNotUnderstoodError",
    "SignInFailedError",
    "StoredValueRefusedError",
    "TillError",
    "UnknownCardError",
    "UnknownProductError",
    "VoucherRefusedError",
    "command_line_words",
]


class TillError(Exception):
    """A refusal the cashier can act on.

    ``message`` and ``next_step`` are the till screen's words (they may name its keys, "(F4)");
    ``str()`` is the whole message worded for the command line, where those keys mean
    nothing: see :func:`command_line_words`.
    """

    def __init__(self, message: str, next_step: str = "") -> None:
        self.message = message
        self.next_step = next_step
        text = f"{message} — {next_step}" if next_step else message
        super().__init__(command_line_words(text))


# A till key named in a message, "(F4)", and what a command line says instead ("" = nothing).
_KEY_HINT = re.compile(r"\s*\((F\d{1,2}|Ctrl\+[A-Z]|Esc|Del|Enter)\)")
_COMMAND_LINE_FOR_KEY = {
    "F4": " (leave out --card)",
    "F5": " (--redeem)",
    "F6": " (`till enrol`)",
}


# "…, or Esc" as the last way out: on a command line there is nothing to go back from.
_OR_KEY = re.compile(r",?\s+or (?:Esc|Del)\b")


def command_line_words(text: str) -> str:
    """``text`` with the till's key hints replaced by the command line's equivalents."""
    text = _KEY_HINT.sub(lambda match: _COMMAND_LINE_FOR_KEY.get(match.group(1), ""), text)
    return _OR_KEY.sub("", text)


class NotSignedInError(TillError):
    pass


class SignInFailedError(TillError):
    pass


class ScanNotUnderstoodError(TillError):
    pass


class UnknownProductError(TillError):
    pass


class UnknownCardError(TillError):
    pass


class CardBlockedError(TillError):
    pass


class RedemptionRefusedError(TillError):
    pass


class PaymentIncompleteError(TillError):
    pass


class StoredValueRefusedError(PaymentIncompleteError):
    pass


class VoucherRefusedError(TillError):
    pass


class RewardRefusedError(TillError):
    pass


class ReturnRefusedError(TillError):
    pass


class EnrolmentRefusedError(TillError):
    pass


class BasketLimitError(TillError):
    pass


class JournalRefusedError(TillError):
    """The till will not journal an entry HQ could not store (docs/design.md, invariant 9)."""


class ClockRefusedError(JournalRefusedError):
    pass
