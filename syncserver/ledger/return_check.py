"""Recompute the points a return moves, from the original sale, with the shared engine
(docs/design.md, invariant 5; docs/ledger.md, ``return_mismatch``).

The till's figures are what gets posted (the customer saw them on the refund slip); HQ
recomputes them from what *it* holds — the original sale, from whichever till of the chain
made it, and the returns it already reconciled against that sale — and raises
``return_mismatch`` for a difference, never a silent correction.

"Already reconciled" must mean the same thing live and in ``ledger rebuild --check``, which
replays stored entries one by one in position order:

- a later entry of the returning till does not count yet (a push stores its whole batch
  before reconciling it; the replay could not see it either);
- another till's return counts when it committed before this one: the change counter's lock
  is taken before looking (:meth:`LedgerContext.confirm_absence`), and while this transaction
  holds it nothing can commit with a smaller position, so what it cannot see comes after it
  in the replay too.

A till that refunded without the original (another till's receipt, HQ out of reach) journals
``original_unavailable`` with a placeholder entry id and moves no points; HQ finds the sale by
(terminal, seq) alone and names the points that should have moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from shared.journal import JournalEntry, Return, Sale
from shared.rules.returns import compute_return_reversal
from syncserver.ledger.context import LedgerContext
from syncserver.storage.journal import EntryHead, StoredEntry, stored_returns_of
from syncserver.storage.postings import PostingSource

__all__ = ["ReturnFigures", "check_return", "expected_return", "returns_against"]


def returns_against(conn: Connection, sale: StoredEntry) -> list[StoredEntry]:
    """The stored returns against ``sale`` (any till), by till and seq: those naming its entry
    id, and those a till made without the original (which could not know it)."""
    found = []
    for stored in stored_returns_of(conn, sale.terminal_id, sale.seq):
        payload = stored.record.get("payload") or {}
        original = payload.get("original") or {}
        if original.get("entry_id") == sale.entry_id or payload.get("original_unavailable"):
            found.append(stored)
    return found


@dataclass(frozen=True, slots=True)
class ReturnFigures:
    """What HQ makes of one return: the points it should reverse and restore, and notes."""

    points_reversed: int
    points_restored: int
    notes: tuple[str, ...]
    """Per line what came back and what it moved, and anything HQ had to cap."""

    @property
    def moved(self) -> int:
        return self.points_restored - self.points_reversed


def _returned_before(earlier: list[StoredEntry], entry: JournalEntry) -> dict[int, int]:
    """Units per line of the sale that returns HQ reconciled before ``entry`` took back."""
    units: dict[int, int] = defaultdict(int)
    for stored in earlier:
        if (stored.terminal_id, stored.seq) == (entry.terminal_id, entry.seq):
            continue
        if stored.terminal_id == entry.terminal_id and stored.seq > entry.seq:
            continue  # a later entry of the same till does not count yet
        payload = stored.record.get("payload") or {}
        for line in payload.get("lines") or ():
            units[int(line["original_line_no"])] += int(line["quantity"])
    return units


def expected_return(sale: Sale, before_units: Mapping[int, int], ret: Return) -> ReturnFigures:
    """The points ``ret`` should move, given the units per line already returned before it:
    the till's own arithmetic (terminal/till/returning.py), net amounts by units, telescoped
    by the shared engine. Units beyond what was sold are capped, and said."""
    sold = {line.line_no: line for line in sale.lines}
    capped: list[str] = []
    now_units: dict[int, int] = defaultdict(int)
    for back_line in ret.lines:
        if back_line.original_line_no not in sold:
            capped.append(f"line {back_line.original_line_no} is not in the sale")
            continue
        now_units[back_line.original_line_no] += back_line.quantity
    values_before: dict[int, int] = {}
    values_now: dict[int, int] = {}
    backs: dict[int, tuple[int, int]] = {}
    for no, line in sold.items():
        done = min(before_units.get(no, 0), line.quantity)
        wanted = now_units.get(no, 0)
        back = min(wanted, line.quantity - done)
        if back < wanted:
            capped.append(
                f"line {no}: {wanted} back but only {line.quantity - done} of "
                f"{line.quantity} were left to return"
            )
        values_before[no] = line.net_minor * done // line.quantity
        values_now[no] = line.net_minor * (done + back) // line.quantity - values_before[no]
        if back:
            backs[no] = (back, done)
    if sale.member is None or sale.earned is None:
        return ReturnFigures(0, 0, tuple(capped))
    reversal = compute_return_reversal(
        sale.earned,
        sale.basket_lines(),
        values_before,
        values_now,
        redeemed_points=sale.points_redeemed,
    )
    notes = []
    for share in reversal.lines:
        if share.line_no in backs:
            back, done = backs[share.line_no]
            note = (
                f"line {share.line_no}: {back} of {sold[share.line_no].quantity} back after "
                f"{done}, {_points(share.points_reversed)} reversed"
            )
            if share.points_restored:
                note += f", {share.points_restored} restored"
            notes.append(note)
    notes += [
        f"{item.label}: {_points(item.points_reversed)} reversed"
        for item in reversal.order_items
        if item.points_reversed
    ]
    return ReturnFigures(reversal.points_reversed, reversal.points_restored, (*notes, *capped))


def _points(amount: int) -> str:
    return f"{amount} point{'s' if abs(amount) != 1 else ''}"


def _moves(reversed_points: int, restored: int) -> str:
    text = f"reversed {_points(reversed_points)}"
    return f"{text} and restored {restored}" if restored else text


def _sale_entry(
    ctx: LedgerContext, entry: JournalEntry, ret: Return, original: EntryHead | None
) -> JournalEntry | None:
    """The original sale as HQ stores it, or None. A return made without the original names
    it by (terminal, seq) only: its entry id is a placeholder."""
    ref = ret.original
    if original is None:
        if ret.original_unavailable is None:
            return None
        if ref.terminal_id == entry.terminal_id and ref.seq > entry.seq:
            return None  # a later entry of the same till does not count yet
        original = ctx.entry_head(ref.terminal_id, ref.seq)
        if original is None and not ctx.absence_confirmed:
            ctx.confirm_absence()
            original = ctx.entry_head(ref.terminal_id, ref.seq)
        if original is None or original.kind != "sale":
            return None
    found = ctx.journal_entry(original.terminal_id, original.seq)
    if found is None:  # pragma: no cover - the head was just read
        return None
    return found if isinstance(found.payload, Sale) else None


def _sale_owner(ctx: LedgerContext, sale: JournalEntry) -> str | None:
    owners = {leg.member_id for leg in ctx.postings_of(sale.terminal_id, sale.seq)}
    owners.discard(None)
    return owners.pop() if len(owners) == 1 else None


def check_return(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    ret: Return,
    member_id: str | None,
    original: EntryHead | None,
    problem: str | None,
) -> str | None:
    """Raise ``return_mismatch`` when the return's points differ from HQ's figures.

    ``original`` and ``problem`` are what reconciliation found for ``ret.original``; the
    problem left to report as ``unknown_original`` is returned (None once the sale is found,
    also by (terminal, seq) for a return made without the original)."""
    sale_entry = _sale_entry(ctx, entry, ret, original)
    if sale_entry is None:
        return problem
    assert isinstance(sale_entry.payload, Sale)
    sale = sale_entry.payload
    ctx.confirm_absence()  # every return committed before this one, and no other
    head = StoredEntry(sale_entry.terminal_id, sale_entry.seq, sale_entry.entry_id, "sale", {})
    before = _returned_before(returns_against(ctx.conn, head), entry)
    label = (
        f"return {entry.terminal_id}#{entry.seq} of sale {sale_entry.terminal_id}#{sale_entry.seq}"
    )
    till_moved = ret.points_restored - ret.points_reversed
    who = member_id or _sale_owner(ctx, sale_entry)
    try:
        hq = expected_return(sale, before, ret)
    except (ValueError, ArithmeticError) as error:
        ctx.raise_exception(
            "return_mismatch",
            source,
            who,
            till_moved,
            f"{label} {_moves(ret.points_reversed, ret.points_restored)}; HQ could not "
            f"recompute it: {error}",
        )
        return None
    if (hq.points_reversed, hq.points_restored) == (ret.points_reversed, ret.points_restored):
        return None
    notes = f" ({'; '.join(hq.notes)})" if hq.notes else ""
    if ret.original_unavailable and not (ret.points_reversed or ret.points_restored):
        restored = f" and {hq.points_restored} not restored" if hq.points_restored else ""
        detail = (
            f"{label} was refunded at {entry.terminal_id} without the original sale: "
            f"{_points(hq.points_reversed)} not reversed{restored}; adjust the member"
            f"{' ' + who if who else ''}{notes}"
        )
    else:
        detail = (
            f"{label} {_moves(ret.points_reversed, ret.points_restored)}, HQ makes it "
            f"{hq.points_reversed}"
            + (f" and {hq.points_restored}" if hq.points_restored or ret.points_restored else "")
            + notes
        )
    ctx.raise_exception("return_mismatch", source, who, till_moved - hq.moved, detail)
    return None
