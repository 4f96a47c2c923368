"""Lay a receipt out for a paper width: a list of print operations, no printer involved.

The width is in characters of the printer's standard font: 42 or 48 for 80 mm paper, 32 for
58 mm. Every text line this module emits fits that width (double-size lines fit half of it),
which a property test checks for random receipts: a line one character too long wraps on the
printer and pushes an amount under the wrong label.

Text is cleaned on the way in: NFC-normalised (so "e" + combining accent is one character
and one column) and stripped of control characters, so a product name can never smuggle an
ESC/POS command (a drawer kick, a cut) onto the paper.

A return receipt says so at the top (RETURN, and the receipt it refunds), lists the items
that came back with negative amounts, and its loyalty part says "Points returned" and
"Points taken back" — never "earned". A balance the till could not confirm with HQ prints
as "New balance (provisional)" with "confirmed when the till syncs" under it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, TypeAlias

from shared.money import Money, format_points
from shared.receipt import Receipt, TaxRow, TierStanding

__all__ = [
    "MIN_COLUMNS",
    "PROVISIONAL_NOTE",
    "Align",
    "Barcode",
    "Cut",
    "Feed",
    "KickDrawer",
    "PrintOp",
    "Rule",
    "TextLine",
    "cells",
    "layout_lines",
    "layout_receipt",
    "two_column",
    "wrap",
]

MIN_COLUMNS: Final = 24
"""Narrower than any receipt printer; below this the layout cannot keep its promises."""
PROVISIONAL_NOTE: Final = "confirmed when the till syncs"
"""Under a balance marked "(provisional)": the till computed it without HQ, which may still
correct it (another till's sale, an HQ adjustment)."""
_INDENT: Final = 2
_MIN_LEFT: Final = 10
"""Narrowest left column worth wrapping beside an amount; below it the amount moves down."""


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line. ``double`` is double width and height: half as many columns fit."""

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A separator across the whole width."""

    width: int
    char: str = "-"

    @property
    def text(self) -> str:
        return self.char * self.width


@dataclass(frozen=True, slots=True)
class Barcode:
    """A scannable code, centred, with its text printed below it."""

    data: str
    symbology: Literal["CODE128"] = "CODE128"


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank paper, in lines."""

    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    """End of the receipt: cut if the printer has a cutter, else feed to the tear bar."""


@dataclass(frozen=True, slots=True)
class KickDrawer:
    """Pulse the cash drawer connector (pin 2)."""


PrintOp: TypeAlias = TextLine | Rule | Barcode | Feed | Cut | KickDrawer


def clean(text: str) -> str:
    """NFC text without control characters (tabs and newlines become spaces)."""
    text = unicodedata.normalize("NFC", text)
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf")
    )


def _char_cells(ch: str) -> int:
    # East Asian wide characters take two columns on a receipt printer as on a terminal.
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """Printed width of ``text`` in columns."""
    return sum(_char_cells(ch) for ch in text)


def _split_at(word: str, limit: int) -> tuple[str, str]:
    """The longest prefix of ``word`` within ``limit`` columns (at least one character)."""
    used = 0
    for index, ch in enumerate(word):
        used += _char_cells(ch)
        if used > limit:
            return word[: max(index, 1)], word[max(index, 1) :]
    return word, ""


def wrap(text: str, first: int, rest: int | None = None) -> list[str]:
    """Greedy word wrap: ``first`` columns on the first line, ``rest`` after; long words split.

    Always returns at least one (possibly empty) line.
    """
    rest = first if rest is None else rest
    lines: list[str] = []
    current = ""
    for word in text.split():
        limit = rest if lines else first
        candidate = f"{current} {word}" if current else word
        if cells(candidate) <= limit:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        while cells(word) > (rest if lines else first):
            head, word = _split_at(word, rest if lines else first)
            lines.append(head)
        current = word
    if current or not lines:
        lines.append(current)
    return lines


def _truncate(text: str, width: int) -> str:
    return text if cells(text) <= width else _split_at(text, width)[0]


def _pad(left: str, right: str, width: int) -> str:
    return left + " " * max(width - cells(left) - cells(right), 1 if left and right else 0) + right


def two_column(left: str, right: str, width: int, indent: int = _INDENT) -> list[str]:
    """``left`` flush left and ``right`` flush right, wrapping ``left`` if they do not fit.

    The right text stays on the first line; continuation lines are indented. When the right
    text leaves too little room, the left text gets whole lines and the right its own line.
    """
    right = _truncate(right, width)
    room = width - cells(right) - (1 if right else 0)
    if cells(left) <= room:
        return [_pad(left, right, width)]
    if room >= _MIN_LEFT:
        first, *more = wrap(left, room, width - indent)
        return [_pad(first, right, width), *(" " * indent + line for line in more)]
    return [*wrap(left, width), " " * (width - cells(right)) + right]


class _Page:
    """Collects operations for one width, wrapping text as it goes."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.ops: list[PrintOp] = []

    def _columns(self, double: bool) -> int:
        return self.width // 2 if double else self.width

    def text(
        self,
        text: str,
        *,
        align: Align = Align.LEFT,
        bold: bool = False,
        double: bool = False,
        indent: int = 0,
    ) -> None:
        for line in wrap(clean(text), self._columns(double) - indent):
            self.ops.append(TextLine(" " * indent + line, align, bold, double))

    def line(self, text: str) -> None:
        """A pre-formatted line (a table row) that must keep its spacing."""
        self.ops.append(TextLine(_truncate(text, self.width)))

    def pair(self, left: str, right: str, *, bold: bool = False, double: bool = False) -> None:
        for line in two_column(clean(left), clean(right), self._columns(double)):
            self.ops.append(TextLine(line, Align.LEFT, bold, double))

    def pair_or_stack(self, one_line: tuple[str, str], stacked: Sequence[tuple[str, str]]) -> None:
        """``one_line`` if it fits on one line ("Receipt 42 ... 2026-03-14"), else ``stacked``."""
        lines = two_column(clean(one_line[0]), clean(one_line[1]), self.width)
        if len(lines) == 1:
            self.ops.append(TextLine(lines[0]))
            return
        for left, right in stacked:
            self.pair(left, right)

    def rule(self) -> None:
        self.ops.append(Rule(self.width))


def _minus(amount: Money) -> str:
    return (-amount).amount_text()


def layout_receipt(receipt: Receipt, columns: int) -> list[PrintOp]:
    """The print operations for ``receipt`` on paper ``columns`` characters wide."""
    if columns < MIN_COLUMNS:
        raise ValueError(f"a receipt needs at least {MIN_COLUMNS} columns, not {columns}")
    page = _Page(columns)
    if receipt.open_drawer:
        # First, so the drawer opens while the receipt prints and the cashier can count change.
        page.ops.append(KickDrawer())
    _header(page, receipt)
    _items(page, receipt)
    _totals(page, receipt)
    if receipt.tax_rows:
        page.rule()
        _tax_table(page, receipt.tax_rows)
    if receipt.stored_value:
        page.rule()
        _stored_value(page, receipt)
    if receipt.member is not None or receipt.points is not None:
        page.rule()
        _loyalty(page, receipt)
    for voucher in receipt.vouchers:
        page.rule()
        page.text("Your voucher", align=Align.CENTER, bold=True)
        page.text(voucher.description, align=Align.CENTER)
        page.ops.append(Barcode(clean(voucher.code)))
    page.rule()
    if receipt.receipt_barcode:
        page.ops.append(Barcode(clean(receipt.receipt_barcode)))
    for line in receipt.footer_lines:
        page.text(line, align=Align.CENTER)
    page.ops.append(Cut())
    return page.ops


def _header(page: _Page, receipt: Receipt) -> None:
    if receipt.reprint:
        page.text("REPRINT", align=Align.CENTER, bold=True, double=True)
        page.text("Copy of an earlier receipt", align=Align.CENTER)
        page.ops.append(Feed(1))
    store = receipt.store
    page.text(store.name, align=Align.CENTER, bold=True, double=True)
    for line in store.address_lines:
        page.text(line, align=Align.CENTER)
    if store.tax_id:
        page.text(store.tax_id, align=Align.CENTER)
    page.rule()
    number, time = receipt.receipt_no, receipt.local_time_text
    page.pair_or_stack((f"Receipt {number}", time), [("Receipt", number), ("Date", time)])
    till, cashier = receipt.terminal, receipt.cashier
    page.pair_or_stack(
        (f"Till {till}", f"Cashier {cashier}"), [("Till", till), ("Cashier", cashier)]
    )
    page.rule()
    if receipt.refund_of is not None:
        page.text("RETURN", align=Align.CENTER, bold=True, double=True)
        page.pair("Refund for receipt", receipt.refund_of.receipt_no)
        if receipt.refund_of.local_time_text:
            page.pair("Sold", receipt.refund_of.local_time_text)
        page.rule()


def _items(page: _Page, receipt: Receipt) -> None:
    for line in receipt.lines:
        page.pair(line.description, f"{line.amount.amount_text()} {line.tax_letter}".rstrip())
        if abs(line.quantity) != 1:  # -1: one item returned
            page.text(f"{line.quantity} x {line.unit_price.amount_text()}", indent=_INDENT)
        if line.note:
            page.text(line.note, indent=_INDENT)
    page.rule()


def _totals(page: _Page, receipt: Receipt) -> None:
    if receipt.discounts:
        page.pair("Subtotal", receipt.subtotal.amount_text())
        for discount in receipt.discounts:
            page.pair(discount.label, _minus(discount.amount))
    page.pair("TOTAL", receipt.total.format(), bold=True, double=True)
    for tender in receipt.tenders:
        page.pair(tender.label, tender.amount.format())
    if receipt.change is not None:
        page.pair("Change", receipt.change.format())


def _stored_value(page: _Page, receipt: Receipt) -> None:
    """Gift cards, credit slips and store credit: what moved and the balance left; a credit
    slip's number as a barcode (the slip is the card)."""
    for moved in receipt.stored_value:
        page.pair(moved.text, moved.amount.format(), bold=moved.barcode is not None)
        if moved.balance is not None:
            page.pair(" " * _INDENT + "Balance", moved.balance.format())
        if moved.barcode:
            page.ops.append(Barcode(clean(moved.barcode)))


def _tax_table(page: _Page, rows: tuple[TaxRow, ...]) -> None:
    """Rate | Net | Tax | Gross in fixed columns; a row that would not fit is stacked."""
    number_width = min(10, (page.width - 8) // 3)
    label_width = page.width - 3 * number_width
    headings = ("Net", "Tax", "Gross")
    page.line("Rate".ljust(label_width) + "".join(h.rjust(number_width) for h in headings))
    for row in rows:
        label = clean(f"{row.letter} {row.rate_text}")
        numbers = [row.net.amount_text(), row.tax.amount_text(), row.gross.amount_text()]
        if cells(label) < label_width and all(len(n) < number_width for n in numbers):
            padded = label + " " * (label_width - cells(label))
            page.line(padded + "".join(n.rjust(number_width) for n in numbers))
        else:
            page.text(label)
            for heading, number in zip(headings, numbers, strict=True):
                page.pair(" " * _INDENT + heading, number)


def _loyalty(page: _Page, receipt: Receipt) -> None:
    page.text("Loyalty", align=Align.CENTER, bold=True)
    member, points = receipt.member, receipt.points
    if member is not None:
        page.pair("Member", member.masked_card)
    if points is not None:
        if receipt.is_return:
            # What the return did to the points: never "earned" (issue 11).
            if points.returned or not points.taken_back:
                page.pair("Points returned", f"+{format_points(points.returned)}")
            if points.taken_back:
                page.pair("Points taken back", format_points(-points.taken_back))
        else:
            page.pair("Points earned", f"+{format_points(points.earned)}")
        for item in points.breakdown:
            page.pair(" " * _INDENT + item.label, format_points(item.points))
        if points.redeemed:
            page.pair("Points redeemed", format_points(-points.redeemed))
        if points.rewards:
            page.pair("Points for rewards", format_points(-points.rewards))
        if points.provisional:
            page.pair("New balance (provisional)", format_points(points.new_balance), bold=True)
            page.text(PROVISIONAL_NOTE, indent=_INDENT)
        else:
            page.pair("New balance", format_points(points.new_balance), bold=True)
    standing = points.standing if points is not None else None
    if standing is not None:
        _standing(page, standing)
        return
    tier_before = member.tier if member is not None else None
    tier_now = (points.tier if points is not None else None) or tier_before
    if tier_now:
        upgraded = tier_before is not None and tier_now != tier_before
        page.pair("New tier" if upgraded else "Tier", tier_now)


def _standing(page: _Page, standing: TierStanding) -> None:
    """The tier by name ("You are now Silver" on the sale that reached it), its perks, then
    what comes next: grace, progress to the next tier, the next points to expire."""
    if standing.upgraded:
        page.text(f"You are now {standing.name}", align=Align.CENTER, bold=True)
    else:
        page.pair("Tier", standing.name)
    for perk in standing.perks:
        page.text(f"- {perk}", indent=_INDENT)
    for line in (standing.grace, standing.progress, standing.expiring):
        if line:
            page.text(line)


def layout_lines(title: str, lines: Sequence[str], columns: int) -> list[PrintOp]:
    """A plain document (a Z report): a title, then ``lines`` wrapped, leading spaces kept."""
    if columns < MIN_COLUMNS:
        raise ValueError(f"a document needs at least {MIN_COLUMNS} columns, not {columns}")
    page = _Page(columns)
    page.text(title, align=Align.CENTER, bold=True, double=True)
    page.rule()
    for line in lines:
        text = clean(line)
        indent = min(len(text) - len(text.lstrip(" ")), columns // 2)
        page.text(text, indent=indent)
    page.rule()
    page.ops.append(Cut())
    return page.ops
