"""One event for every scan, whichever scanner read it (docs/design.md, Hardware).

Keyboard-wedge, serial, evdev and simulated scanners all end in :func:`classify`, so the till
handles a single :class:`Scan` type; a scan the hardware layer had to drop (garbled, cut off,
too long) becomes a :class:`RejectedScan` instead. Pure: the caller passes the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from shared.codes import (
    CodeConfig,
    GiftCard,
    LoyaltyCard,
    MemberQR,
    ParsedCode,
    Product,
    ReceiptRef,
    Unrecognised,
    Voucher,
    parse_scan,
)

__all__ = [
    "JsonValue",
    "RejectedScan",
    "Scan",
    "ScanSource",
    "SourceKind",
    "classify",
    "code_value",
]

JsonValue = str | int | dict[str, "JsonValue"] | None


class SourceKind(StrEnum):
    WEDGE = "wedge"
    SERIAL = "serial"
    EVDEV = "evdev"
    SIMULATED = "simulated"


@dataclass(frozen=True, slots=True)
class ScanSource:
    kind: SourceKind
    name: str
    """Which scanner: a serial URL, an input device path, or a label such as "keyboard"."""

    def to_json_dict(self) -> dict[str, JsonValue]:
        return {"kind": str(self.kind), "name": self.name}


@dataclass(frozen=True, slots=True)
class Scan:
    data: str
    """The text as the scanner sent it, after framing (terminator, prefix, AIM id removed)."""
    source: ScanSource
    code: ParsedCode

    @property
    def recognised(self) -> bool:
        return not isinstance(self.code, Unrecognised)

    def to_json_dict(self) -> dict[str, JsonValue]:
        """``{source, raw, kind, value}``, or ``{source, raw, kind, reason}`` if unrecognised.

        ``raw`` is the data itself only for a recognised code; otherwise it is the parser's
        safe preview (long digit runs masked), since an unrecognised scan may be a bank card.
        """
        if isinstance(self.code, Unrecognised):
            return {
                "source": self.source.to_json_dict(),
                "raw": self.code.preview,
                "kind": self.code.kind,
                "reason": self.code.reason,
            }
        return {
            "source": self.source.to_json_dict(),
            "raw": self.data,
            "kind": self.code.kind,
            "value": code_value(self.code),
        }


@dataclass(frozen=True, slots=True)
class RejectedScan:
    """Input a scanner driver dropped before it became a scan: nothing reached the parser."""

    source: ScanSource
    code: str
    """A short, stable slug for counting ("incomplete", "not_text", ...)."""
    reason: str
    """A sentence for the cashier: what happened and what to do."""
    preview: str
    """The dropped input made safe to show and log."""

    kind: ClassVar[str] = "rejected"

    def to_json_dict(self) -> dict[str, JsonValue]:
        return {
            "source": self.source.to_json_dict(),
            "raw": self.preview,
            "kind": self.kind,
            "reason": self.reason,
        }


def code_value(code: ParsedCode) -> JsonValue:
    """The one thing a person checking a scanner wants to see for each kind of code."""
    match code:
        case LoyaltyCard(number=number) | GiftCard(number=number):
            return number
        case Product(gtin=gtin):
            return gtin
        case MemberQR(card_number=card_number):
            return card_number
        case Voucher(code=voucher):
            return voucher
        case ReceiptRef(terminal=terminal, seq=seq):
            return {"terminal": terminal, "seq": seq}
        case Unrecognised():
            return None


def classify(data: str, source: ScanSource, config: CodeConfig, now_unix: int | None) -> Scan:
    """Parse ``data`` into a :class:`Scan`; never raises (``parse_scan`` does not)."""
    return Scan(data=data, source=source, code=parse_scan(data, config, now_unix=now_unix))
