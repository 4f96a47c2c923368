"""What one write transaction knows while it posts: locks held, balances, exceptions raised.

The same context drives the live ledger (a push, an import) and the replay of
``ledger rebuild``; the differences are two small strategies: where a new member's id
comes from, and what "make sure this is really absent" does (take the change counter's lock
on the live database; nothing in a replay, which is sequential by construction).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from shared.protocol import ExceptionKind, RaisedException
from syncserver.ledger.accounts import Leg
from syncserver.storage.counter import allocate_positions, lock_counter
from syncserver.storage.exceptions import insert_exception
from syncserver.storage.journal import set_positions
from syncserver.storage.members import add_to_balance, lock_balances, stamp_members
from syncserver.storage.postings import PostingSource, insert_postings
from syncserver.storage.schema import hq_events

__all__ = ["LedgerContext", "LiveMemberIds", "MemberIdSource", "UnbalancedPostingError"]


class UnbalancedPostingError(AssertionError):
    """A bug: an entry's legs do not sum to zero. Nothing is written (the transaction fails)."""


class MemberIdSource(Protocol):
    def for_enrolment(self, terminal_id: str, seq: int, attempt: int) -> str:
        """The server id for the member that enrolment (terminal_id, seq) creates."""
        ...


class LiveMemberIds:
    """``M`` + 10 random digits: short enough to read out on the phone, not guessable in
    sequence. A collision is simply retried with another number (``attempt``)."""

    def for_enrolment(self, terminal_id: str, seq: int, attempt: int) -> str:
        return f"M{secrets.randbelow(10**10):010d}"


class LedgerContext:
    def __init__(
        self,
        conn: Connection,
        now: datetime,
        *,
        member_ids: MemberIdSource,
        live: bool,
    ) -> None:
        self.conn = conn
        self.now = now
        self.member_ids = member_ids
        self.live = live
        self.raised: list[RaisedException] = []
        self._balances: dict[str, int] = {}
        self._lines: dict[PostingSource, int] = defaultdict(int)
        self._changed: dict[str, None] = {}
        self._counter_locked = False

    # --- locks -------------------------------------------------------------------------------

    def lock_members(self, member_ids: Iterable[str]) -> None:
        """Lock balance rows not yet held (in id order). Locks last until COMMIT."""
        todo = sorted({m for m in member_ids if m and m not in self._balances})
        if todo:
            self._balances.update(lock_balances(self.conn, todo))

    def adopt_new_member(self, member_id: str) -> None:
        """A member this transaction just created: its zero balance row is ours already."""
        self._balances[member_id] = 0

    def confirm_absence(self) -> None:
        """Before acting on "not found": hold the change counter, so nothing committed with a
        smaller position can still appear (see syncserver.storage.counter)."""
        if self.live and not self._counter_locked:
            lock_counter(self.conn)
        self._counter_locked = True

    @property
    def absence_confirmed(self) -> bool:
        return self._counter_locked

    # --- balances and postings -------------------------------------------------------------

    def balance(self, member_id: str) -> int:
        self.lock_members([member_id])
        return self._balances[member_id]

    def post(self, source: PostingSource, legs: Sequence[Leg], occurred_at: str) -> None:
        """Write legs that sum to zero per unit, and move the cached member balances with them
        (in this transaction, under the members' locks)."""
        if not legs:
            return
        totals: dict[str, int] = defaultdict(int)
        for leg in legs:
            totals[leg.unit] += leg.amount
        if any(totals.values()):
            raise UnbalancedPostingError(f"{source.label()}: legs do not sum to zero: {legs}")
        deltas: dict[str, int] = defaultdict(int)
        for leg in legs:
            if leg.member_id is not None:
                deltas[leg.member_id] += leg.amount
        self.lock_members(deltas)
        insert_postings(self.conn, source, legs, self._lines[source] + 1, occurred_at, self.now)
        self._lines[source] += len(legs)
        for member_id, delta in sorted(deltas.items()):
            if delta:
                add_to_balance(self.conn, member_id, delta)
                self._balances[member_id] += delta
            self.changed(member_id)

    def changed(self, member_id: str) -> None:
        """The member's state (balance, cards, profile) changed: tills should pull it."""
        self._changed[member_id] = None

    # --- exceptions ------------------------------------------------------------------------------

    def raise_exception(
        self,
        kind: ExceptionKind,
        source: PostingSource,
        member_id: str | None,
        amount: int,
        detail: str,
    ) -> None:
        raised = RaisedException(
            kind=kind,
            terminal_id=source.terminal_id or "HQ",
            seq=source.seq or 0,
            member_id=member_id,
            amount=amount,
            detail=detail,
        )
        insert_exception(self.conn, raised, self.now)
        self.raised.append(raised)

    # --- the end of the transaction -----------------------------------------------------------

    def finish(
        self,
        *,
        entries: tuple[str, int, int] | None = None,
        hq_event_ids: Sequence[int] = (),
        extra: int = 0,
        stamp: Callable[[int], None] | None = None,
    ) -> None:
        """Take positions, last: for the stored entries (terminal, first seq, last seq) or HQ
        events in the order they were applied, then one per changed member, then ``extra``
        more handed to ``stamp`` (rules, products, offers)."""
        entry_count = entries[2] - entries[1] + 1 if entries else 0
        changed = list(self._changed)
        count = entry_count + len(hq_event_ids) + len(changed) + extra
        if count == 0:
            return
        position = allocate_positions(self.conn, count)
        if entries:
            set_positions(self.conn, entries[0], entries[1], entries[2], position)
            position += entry_count
        for event_id in hq_event_ids:
            self.conn.execute(
                hq_events.update().where(hq_events.c.id == event_id).values(position=position)
            )
            position += 1
        stamp_members(self.conn, changed, position)
        position += len(changed)
        if stamp is not None:
            stamp(position)
