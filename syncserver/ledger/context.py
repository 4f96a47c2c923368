"""What one write transaction knows while it posts: locks held, balances, exceptions raised.

The same context drives the live ledger (a push, an import) and the replay of
``ledger rebuild``; the differences are two small strategies: where a new member's id
comes from, and what "make sure this is really absent" does (take the change counter's lock
on the live database; nothing in a replay, which is sequential by construction).

It also keeps a push from going to the database once per entry. What it remembers is only
what cannot change under it until COMMIT: balances of members whose rows it has locked, card
rows read while their member is locked (a card's owner never changes; its status changes
only under that lock) or written by this transaction, members that exist (never deleted),
local member ids (immutable), published rules versions (immutable). A lookup that finds
nothing is never remembered, so "absent" is always asked again (and confirmed under the
change counter's lock where the rules say so). Postings and balance changes are written in
bulk by :meth:`LedgerContext.flush` — before anything reads them back from the database,
and at the latest by :meth:`LedgerContext.finish`.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select

from shared.bounds import MAX_BALANCE_POINTS
from shared.journal import JournalEntry
from shared.points.lots import lot_expiry
from shared.protocol import ExceptionKind, RaisedException
from shared.rules import ProgramRules
from shared.rules.model import ExpiryRules
from syncserver.ledger.accounts import (
    EXPIRED,
    POINTS,
    Leg,
    PostingKind,
    is_stored_value,
    member_account,
    pair,
)
from syncserver.ledger.earn_check import EarnCheck
from syncserver.ledger.points import MemberPoints, day_of, lot_ref
from syncserver.storage.counter import allocate_positions, lock_counter
from syncserver.storage.database import driver_value
from syncserver.storage.exceptions import insert_exception
from syncserver.storage.journal import (
    EntryHead,
    StoredEntry,
    entry_head,
    set_positions,
    stored_entries,
    stored_entry,
)
from syncserver.storage.members import (
    CardRow,
    NewMember,
    add_to_balances,
    block_card,
    card_row,
    card_rows,
    insert_card,
    insert_member,
    lock_balances,
    member_exists,
    member_id_by_local,
    stamp_members,
)
from syncserver.storage.postings import (
    PostingSource,
    insert_posting_rows,
    posting_rows,
    postings_of_entry,
)
from syncserver.storage.rewards import add_to_reward_count, stamp_reward_counts
from syncserver.storage.rules import latest_version, parse_rules, rules_document
from syncserver.storage.schema import hq_events, postings
from syncserver.storage.stored_values import (
    StoredValueKind,
    StoredValueRow,
    add_to_stored_balances,
    insert_stored_value,
    lock_stored_value,
    stamp_stored_values,
    update_stored_value,
)
from syncserver.storage.vouchers import (
    NewVoucher,
    VoucherRow,
    existing_codes,
    insert_new_vouchers,
    insert_voucher,
    lock_voucher,
    stamp_vouchers,
)

__all__ = [
    "BalanceOutOfBoundsError",
    "LedgerContext",
    "LiveMemberIds",
    "MemberIdSource",
    "UnbalancedPostingError",
]


class UnbalancedPostingError(AssertionError):
    """A bug: an entry's legs do not sum to zero. Nothing is written (the transaction fails)."""


class BalanceOutOfBoundsError(ValueError):
    """Posting this would take a member's balance beyond ``MAX_BALANCE_POINTS`` (either sign).
    Nothing is written; a push refuses the entry (422 ``refused``), an HQ action answers 409.
    Honest tills cannot get here (an entry moves at most ``MAX_POINTS``); the bound is what
    keeps every balance, and every sum of them the ledger takes, inside 64-bit integers."""


class MemberIdSource(Protocol):
    def for_enrolment(self, terminal_id: str, seq: int, attempt: int) -> str:
        """The server id for the member that enrolment (terminal_id, seq) creates."""
        ...


class LiveMemberIds:
    """``M`` + 10 random digits: short enough to read out on the phone, not guessable in
    sequence. A collision is simply retried with another number (``attempt``)."""

    def for_enrolment(self, terminal_id: str, seq: int, attempt: int) -> str:
        return f"M{secrets.randbelow(10**10):010d}"


_POINTS_HISTORY = (
    select(
        postings.c.terminal_id,
        postings.c.seq,
        postings.c.hq_event_id,
        postings.c.kind,
        postings.c.amount,
        postings.c.occurred_at,
    )
    .where(postings.c.member_id == bindparam("h_member"), postings.c.unit == POINTS)
    .order_by(postings.c.occurred_at, postings.c.id)
)


class LedgerContext:
    def __init__(
        self,
        conn: Connection,
        now: datetime,
        *,
        member_ids: MemberIdSource,
        live: bool,
        earn_checks: Mapping[tuple[str, int], EarnCheck | None] | None = None,
    ) -> None:
        self.conn = conn
        self.now = now
        self.member_ids = member_ids
        self.live = live
        self.earn_checks: Mapping[tuple[str, int], EarnCheck | None] = earn_checks or {}
        """Rules checks of sales, by (terminal_id, seq), already computed with a published
        rules version (a pure function of the entry and that immutable version)."""
        self.raised: list[RaisedException] = []
        self._balances: dict[str, int] = {}
        self._lines: dict[PostingSource, int] = defaultdict(int)
        self._changed: dict[str, None] = {}
        self._counter_locked = False
        self._cards: dict[str, CardRow] = {}
        self._members: set[str] = set()
        self._by_local: dict[str, str] = {}
        self._rules: dict[int, ProgramRules] = {}
        self._heads: dict[tuple[str, int], EntryHead] = {}
        self._entries: dict[tuple[str, int], StoredEntry] = {}
        self._parsed: dict[tuple[str, int], JournalEntry] = {}
        self._absent_prefetched: set[tuple[str, int]] = set()
        self._absent_confirmed: set[tuple[str, int]] = set()
        """Entries looked for and not found (see :meth:`_known_absent`)."""
        self._created_at = driver_value(conn, postings.c.created_at, now)
        self._rows: list[tuple[Any, ...]] = []
        """Postings not yet written (flush)."""
        self._unflushed: dict[tuple[str, int], list[Leg]] = {}
        """The same postings by entry, for reading an entry's legs back before the flush."""
        self._flushed: set[tuple[str, int]] = set()
        """Entries some of whose legs a flush has written (the rest may still be unflushed)."""
        self._deltas: dict[str, int] = defaultdict(int)
        """Balance changes not yet written (flush); ``_balances`` already includes them."""
        self._active_at: dict[str, str] = {}
        """Latest till activity per member in this transaction (written by :meth:`finish`)."""
        self.points = MemberPoints(conn)
        """Lot books, qualifying activity and tier status of the members touched
        (syncserver.ledger.points), written with the postings by :meth:`flush`."""
        self._latest: ProgramRules | None = None
        self._latest_read = False
        self._stored: dict[str, StoredValueRow] = {}
        """Stored-value rows this transaction has locked, balances current (with unflushed
        deltas)."""
        self._money_deltas: dict[str, int] = defaultdict(int)
        self._stored_changed: dict[str, None] = {}
        self._vouchers_changed: dict[str, None] = {}
        self._rewards_changed: dict[str, None] = {}
        self._free_codes: set[str] = set()
        """Voucher codes this transaction found free (:meth:`prefetch_voucher_codes`) and has
        not issued since."""
        self._new_vouchers: list[NewVoucher] = []
        """Vouchers issued under free codes, not yet written (:meth:`flush_vouchers`)."""

    # --- locks -------------------------------------------------------------------------------

    def lock_members(self, member_ids: Iterable[str]) -> None:
        """Lock balance rows not yet held (in id order). Locks last until COMMIT."""
        todo = sorted({m for m in member_ids if m and m not in self._balances})
        if todo:
            found = lock_balances(self.conn, todo)
            self._balances.update(found)
            self._members.update(found)
            self.points.load(found)

    def adopt_new_member(self, member_id: str) -> None:
        """A member this transaction just created: its zero balance row is ours already."""
        self._balances[member_id] = 0
        self._members.add(member_id)
        self.points.new_member(member_id)

    # --- members, cards and rules, read through what this transaction already knows ---------

    def card_row(self, card_number: str) -> CardRow | None:
        """The card, current as long as its member is locked by this transaction."""
        known = self._cards.get(card_number)
        if known is not None:
            return known
        found = card_row(self.conn, card_number)
        if found is not None and found.member_id in self._balances:
            self._cards[card_number] = found
        return found

    def prefetch_cards(self, card_numbers: Iterable[str]) -> None:
        """Read many cards in one statement; remembers those whose member is locked."""
        wanted = sorted({n for n in card_numbers if n and n not in self._cards})
        for found in card_rows(self.conn, wanted):
            if found.member_id in self._balances:
                self._cards[found.card_number] = found

    def member_exists(self, member_id: str) -> bool:
        if member_id in self._members:
            return True
        if member_exists(self.conn, member_id):
            self._members.add(member_id)
            return True
        return False

    def member_id_by_local(self, local_member_id: str) -> str | None:
        known = self._by_local.get(local_member_id)
        if known is not None:
            return known
        found = member_id_by_local(self.conn, local_member_id)
        if found is not None:
            self._by_local[local_member_id] = found
        return found

    def remember_local_ids(self, found: dict[str, str]) -> None:
        """local_member_id -> member_id pairs read from the database (they never change)."""
        self._by_local.update(found)

    def insert_member(self, member: NewMember) -> bool:
        created = insert_member(self.conn, member, self.now)
        if created:
            self.adopt_new_member(member.member_id)
            if member.local_member_id is not None:
                self._by_local[member.local_member_id] = member.member_id
        return created

    def insert_card(self, card_number: str, member_id: str) -> bool:
        created = insert_card(self.conn, card_number, member_id, self.now)
        if created and member_id in self._balances:
            self._cards[card_number] = CardRow(card_number, member_id, "active", None)
        return created

    def block_card(self, card: CardRow, reason: str) -> None:
        """Block a card whose member this transaction has locked."""
        block_card(self.conn, card.card_number, reason)
        self._cards[card.card_number] = CardRow(card.card_number, card.member_id, "blocked", reason)

    def rules(self, version: int) -> ProgramRules | None:
        """A published rules version (immutable, so remembered); None when it is not published
        even under the change counter's lock."""
        known = self._rules.get(version)
        if known is not None:
            return known
        document = rules_document(self.conn, version)
        if document is None and not self.absence_confirmed:
            self.confirm_absence()
            document = rules_document(self.conn, version)
        if document is None:
            return None
        rules = self._rules[version] = parse_rules(document[1])
        return rules

    def latest_rules(self) -> ProgramRules | None:
        """The newest published rules version, read under the change counter's lock: what
        an entry or event that names no version is applied with. Without the lock a version
        published concurrently (with a smaller position than this transaction's, so replayed
        before it) could be missed live and used by the replay, and the two would differ."""
        if not self._latest_read:
            self.confirm_absence()
            found = latest_version(self.conn)
            if found is not None and found.document is not None:
                self._latest = self._rules.setdefault(found.version, parse_rules(found.document))
            self._latest_read = True
        return self._latest

    def rules_for(self, version: int | None) -> ProgramRules | None:
        """The rules version an entry names (a pure function of the entry, so the replay
        agrees); only when it names none, or one HQ has never published, the latest."""
        named = self.rules(version) if version is not None else None
        return named if named is not None else self.latest_rules()

    def entry_head(self, terminal_id: str, seq: int) -> EntryHead | None:
        """A stored journal entry (immutable once stored, so remembered when found)."""
        key = (terminal_id, seq)
        known = self._heads.get(key)
        if known is not None or self._known_absent(key):
            return known
        found = entry_head(self.conn, terminal_id, seq)
        if found is not None:
            self._heads[key] = found
        self._note_absence(key, found)
        return found

    def stored_entry(self, terminal_id: str, seq: int) -> StoredEntry | None:
        """A stored journal entry, whole (immutable once stored, so remembered when found)."""
        key = (terminal_id, seq)
        known = self._entries.get(key)
        if known is not None or self._known_absent(key):
            return known
        found = stored_entry(self.conn, terminal_id, seq)
        if found is not None:
            self._entries[key] = found
        self._note_absence(key, found)
        return found

    def _known_absent(self, key: tuple[str, int]) -> bool:
        """Whether a look-up of entry ``key`` would find nothing, without asking: before
        :meth:`confirm_absence`, when this transaction's prefetch did not find it (the caller
        confirms before it acts on that); after it, when a look-up since did not (nothing
        can appear that the replay would see before this transaction)."""
        if self._counter_locked:
            return key in self._absent_confirmed
        return key in self._absent_prefetched

    def _note_absence(self, key: tuple[str, int], found: object) -> None:
        if found is None and self._counter_locked:
            self._absent_confirmed.add(key)

    def journal_entry(self, terminal_id: str, seq: int) -> JournalEntry | None:
        """:meth:`stored_entry` validated as a journal entry (once per transaction: returns,
        voids and their checks all ask for the sale they refer to)."""
        key = (terminal_id, seq)
        known = self._parsed.get(key)
        if known is not None:
            return known
        stored = self.stored_entry(terminal_id, seq)
        if stored is None:
            return None
        parsed = self._parsed[key] = stored.entry()
        return parsed

    def remember_entries(self, items: Iterable[tuple[Mapping[str, Any], JournalEntry]]) -> None:
        """Entries this transaction has just stored (the record as received, parsed): what
        :meth:`stored_entry` and :meth:`journal_entry` give for them, without reading and
        parsing them back (a return in the same push as its sale)."""
        for record, entry in items:
            key = (entry.terminal_id, entry.seq)
            self._entries[key] = StoredEntry(
                entry.terminal_id, entry.seq, entry.entry_id, entry.kind, dict(record)
            )
            self._heads[key] = EntryHead(entry.terminal_id, entry.seq, entry.entry_id, entry.kind)
            self._parsed[key] = entry

    def prefetch_entries(self, keys: Iterable[tuple[str, int]]) -> None:
        """Read many stored entries (and so their heads) in one statement."""
        wanted = sorted({key for key in keys if key not in self._entries})
        for found in stored_entries(self.conn, wanted):
            key = (found.terminal_id, found.seq)
            self._entries[key] = found
            self._heads[key] = EntryHead(found.terminal_id, found.seq, found.entry_id, found.kind)
        self._absent_prefetched.update(key for key in wanted if key not in self._entries)

    def postings_of(self, terminal_id: str, seq: int) -> list[Leg]:
        """The legs entry (terminal_id, seq) posted, in line order, flushed or not — also when
        a flush came between its legs (an overdraft check flushes after a sale's points and
        before its campaign voucher): then the written ones, then the rest."""
        key = (terminal_id, seq)
        unflushed = self._unflushed.get(key)
        if unflushed is not None and key not in self._flushed:
            return list(unflushed)
        return postings_of_entry(self.conn, terminal_id, seq) + list(unflushed or ())

    def points_history(
        self, member_id: str
    ) -> list[tuple[str | None, int | None, int | None, str, int, str]]:
        """The member's points postings as (terminal_id, seq, hq_event_id, kind, amount,
        occurred_at), by occurred_at and then posting id: the stored ones, then this
        transaction's unwritten ones in the order posted (the ids they will get). Read
        without a flush, which would split this transaction's bulk writes."""
        stored = [
            (row[0], None if row[1] is None else int(row[1]), row[2], row[3], int(row[4]), row[5])
            for row in self.conn.execute(_POINTS_HISTORY, {"h_member": member_id})
        ]
        unwritten = [
            (row[0], row[1], row[2], row[8], row[7], row[9])
            for row in self._rows
            if row[5] == member_id and row[6] == POINTS
        ]
        # A stable sort by time alone keeps the (time, id) order within each part, and every
        # unwritten posting's id will be above every stored one's.
        return sorted(stored + unwritten, key=lambda row: row[5])

    def confirm_absence(self) -> None:
        """Before acting on "not found": hold the change counter, so nothing committed with a
        smaller position can still appear (see syncserver.storage.counter)."""
        if self.live and not self._counter_locked:
            lock_counter(self.conn)
        self._counter_locked = True

    @property
    def absence_confirmed(self) -> bool:
        return self._counter_locked

    # --- stored value (money accounts) and vouchers -------------------------------------------

    def stored_value(self, account: str) -> StoredValueRow | None:
        """The stored-value row, locked until COMMIT (balance and status change only under
        its lock); None when absent (confirm with :meth:`confirm_absence` before acting)."""
        known = self._stored.get(account)
        if known is not None:
            return known
        found = lock_stored_value(self.conn, account)
        if found is not None:
            self._stored[account] = found
        return found

    def open_stored_value(
        self,
        account: str,
        kind: StoredValueKind,
        currency: str,
        *,
        card_number: str | None = None,
        member_id: str | None = None,
        activated_at: str | None = None,
    ) -> StoredValueRow:
        """The row, created (balance 0) when it does not exist yet; locked."""
        found = self.stored_value(account)
        if found is None:
            insert_stored_value(
                self.conn,
                account=account,
                kind=kind,
                currency=currency,
                card_number=card_number,
                member_id=member_id,
                activated_at=activated_at,
            )
            found = self.stored_value(account)
            assert found is not None
            self.changed_stored_value(account)
        return found

    def set_stored_value(self, account: str, **values: Any) -> StoredValueRow:
        """Change a locked row's columns (not its balance: postings move that)."""
        row = self.stored_value(account)
        assert row is not None, account
        update_stored_value(self.conn, account, **values)
        row = self._stored[account] = replace(row, **values)
        self.changed_stored_value(account)
        return row

    def changed_stored_value(self, account: str) -> None:
        """Tills should pull this account again (a gift card; a member for store credit)."""
        self._stored_changed[account] = None
        row = self._stored.get(account)
        if row is not None and row.member_id is not None and row.kind == "credit":
            self.changed(row.member_id)

    def changed_voucher(self, code: str) -> None:
        self._vouchers_changed[code] = None

    def prefetch_voucher_codes(self, codes: Iterable[str]) -> None:
        """Find out in one query which of the codes a batch is about to issue are free, so
        :meth:`insert_voucher` can write them together instead of one INSERT each."""
        wanted = set(codes) - self._free_codes
        if wanted:
            self.flush_vouchers()
            self._free_codes |= wanted - existing_codes(self.conn, wanted)

    def insert_voucher(self, voucher: NewVoucher) -> bool:
        """Create the voucher; False when its code exists already. A code found free by
        :meth:`prefetch_voucher_codes` is written with the others at the next flush (every
        read of vouchers through this context flushes first). A code another transaction
        takes in between fails the flush and with it the transaction: a push then retries
        entry by entry (syncserver.sync.push), and finds the code taken."""
        if voucher.code in self._free_codes:
            self._free_codes.discard(voucher.code)
            self._new_vouchers.append(voucher)
            return True
        self.flush_vouchers()
        return insert_voucher(self.conn, voucher)

    def flush_vouchers(self) -> None:
        if self._new_vouchers:
            insert_new_vouchers(self.conn, self._new_vouchers)
            self._new_vouchers = []

    def lock_voucher(self, code: str) -> VoucherRow | None:
        """The voucher, locked until COMMIT (vouchers issued so far in this transaction
        included)."""
        self.flush_vouchers()
        return lock_voucher(self.conn, code)

    def count_reward(self, reward_id: str, delta: int) -> int:
        """Move a reward's purchase count (under its row lock, until COMMIT); the new count.
        Tills pull it again."""
        count = add_to_reward_count(self.conn, reward_id, delta)
        self._rewards_changed[reward_id] = None
        return count

    # --- balances and postings -------------------------------------------------------------

    def balance(self, member_id: str) -> int:
        self.lock_members([member_id])
        return self._balances[member_id]

    def post(
        self,
        source: PostingSource,
        legs: Sequence[Leg],
        occurred_at: str,
        *,
        rules: ProgramRules | None = None,
        rules_named: bool = False,
    ) -> None:
        """Write legs that sum to zero per unit, and move the cached member balances with them
        (in this transaction, under the members' locks).

        Every points leg on a member account moves the member's lot book
        (syncserver.ledger.points): a credit opens a lot (expiring by ``rules``), a debit
        consumes the oldest lots alive on the entry's day; where that takes back points an
        expiry run had already expired, an ``unexpire`` pair is posted just before the
        debit. ``rules``: the version the entry names; with ``rules_named`` False (an HQ
        event of an older kind) the latest published version is used instead."""
        if not legs:
            return
        self._check_sums(source, legs)
        self.lock_members({leg.member_id for leg in legs if leg.member_id is not None})
        if any(leg.member_id is not None and leg.unit == POINTS for leg in legs):
            if not rules_named and rules is None:
                rules = self.latest_rules()
            legs = self._move_lots(source, legs, occurred_at, rules)
        self.post_raw(source, legs, occurred_at)

    def _move_lots(
        self,
        source: PostingSource,
        legs: Sequence[Leg],
        occurred_at: str,
        rules: ProgramRules | None,
    ) -> list[Leg]:
        expiry = rules.expiry if rules is not None else ExpiryRules()
        day = day_of(occurred_at)
        ref = lot_ref(source)
        out: list[Leg] = []
        for leg in legs:
            member_id = leg.member_id
            if member_id is None or leg.unit != POINTS or leg.amount == 0:
                out.append(leg)
                continue
            book = self.points.book(member_id, day, expiry)
            if leg.amount > 0:
                book = book.credit(day, leg.amount, lot_expiry(expiry, day), ref)
            else:
                book, used = book.debit(day, -leg.amount)
                if used.unexpired:
                    out += pair(leg.account, EXPIRED, used.unexpired, PostingKind.UNEXPIRE)
            self.points.set_book(member_id, book, expiry)
            out.append(leg)
        return out

    def visit_lots(
        self,
        source: PostingSource,
        member_id: str,
        occurred_at: str,
        rules: ProgramRules | None,
    ) -> None:
        """A visit (a member sale): in ``inactivity`` expiry mode it extends every lot, and
        takes back (``unexpire``) what a run expired that this visit would have saved."""
        if rules is None or rules.expiry.mode != "inactivity":
            return
        self.lock_members([member_id])
        day = day_of(occurred_at)
        book = self.points.book(member_id, day, rules.expiry)
        book, unexpired = book.visit(day, rules.expiry)
        self.points.set_book(member_id, book, rules.expiry)
        if unexpired:
            legs = pair(member_account(member_id), EXPIRED, unexpired, PostingKind.UNEXPIRE)
            self.post_raw(source, legs, occurred_at)

    def _check_sums(self, source: PostingSource, legs: Sequence[Leg]) -> None:
        totals: dict[str, int] = defaultdict(int)
        for leg in legs:
            totals[leg.unit] += leg.amount
        if any(totals.values()):
            raise UnbalancedPostingError(f"{source.label()}: legs do not sum to zero: {legs}")

    def post_raw(self, source: PostingSource, legs: Sequence[Leg], occurred_at: str) -> None:
        """:meth:`post` without moving lot books: for legs whose lots the caller has already
        moved (an expiry run, an un-expiry)."""
        if not legs:
            return
        self._check_sums(source, legs)
        deltas: dict[str, int] = defaultdict(int)
        for leg in legs:
            if leg.member_id is not None:
                deltas[leg.member_id] += leg.amount
        self._move_money(source, legs)
        self.lock_members(deltas)
        for member_id, delta in deltas.items():
            after = self._balances[member_id] + delta
            if abs(after) > MAX_BALANCE_POINTS:
                raise BalanceOutOfBoundsError(
                    f"{source.label()}: member {member_id}'s balance would become {after:,} "
                    f"points, beyond the ledger's bound of ±{MAX_BALANCE_POINTS:,}"
                )
        self._rows += posting_rows(
            source, legs, self._lines[source] + 1, occurred_at, self._created_at
        )
        if source.terminal_id is not None and source.seq is not None:
            self._unflushed.setdefault((source.terminal_id, source.seq), []).extend(legs)
        self._lines[source] += len(legs)
        for member_id, delta in sorted(deltas.items()):
            if source.terminal_id is not None and occurred_at > self._active_at.get(member_id, ""):
                self._active_at[member_id] = occurred_at
            if delta:
                self._deltas[member_id] += delta
                self._balances[member_id] += delta
            self.changed(member_id)

    def _move_money(self, source: PostingSource, legs: Sequence[Leg]) -> None:
        """Stored-value balances move with their postings (rows locked by the caller)."""
        for leg in legs:
            if leg.unit == POINTS or not is_stored_value(leg.account) or not leg.amount:
                continue
            row = self._stored.get(leg.account)
            if row is None:
                raise AssertionError(f"{source.label()}: {leg.account} posted without its row")
            self._stored[leg.account] = replace(row, balance_minor=row.balance_minor + leg.amount)
            self._money_deltas[leg.account] += leg.amount
            self.changed_stored_value(leg.account)

    def money_balance(self, account: str) -> int:
        """A stored-value account's balance, this transaction's postings included."""
        row = self.stored_value(account)
        return row.balance_minor if row is not None else 0

    def flush(self) -> None:
        """Write the postings, balance changes and vouchers made so far (a few bulk
        statements)."""
        self.flush_vouchers()
        if self._rows:
            insert_posting_rows(self.conn, self._rows)
            self._rows = []
            self._flushed.update(self._unflushed)
            self._unflushed.clear()
        deltas = {m: d for m, d in self._deltas.items() if d}
        if deltas:
            add_to_balances(self.conn, deltas)
        self._deltas.clear()
        if self._money_deltas:
            add_to_stored_balances(self.conn, self._money_deltas)
            self._money_deltas.clear()
        self.points.flush()

    def changed(self, member_id: str) -> None:
        """The member's state (balance, cards, profile) changed: tills should pull it."""
        self._changed[member_id] = None

    def visited(self, member_id: str, occurred_at: str) -> None:
        """A till entry named the member — a sale (with or without points), a return, an
        enrolment, a card: they were in a store then (``members.last_active_at``, stamped by
        :meth:`finish`, never moved backwards)."""
        if occurred_at > self._active_at.get(member_id, ""):
            self._active_at[member_id] = occurred_at
        self.changed(member_id)

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
        self.flush()
        entry_count = entries[2] - entries[1] + 1 if entries else 0
        changed = list(self._changed)
        stored, codes = list(self._stored_changed), list(self._vouchers_changed)
        rewards = list(self._rewards_changed)
        count = (
            entry_count
            + len(hq_event_ids)
            + len(changed)
            + len(stored)
            + len(codes)
            + len(rewards)
            + extra
        )
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
        stamp_members(self.conn, changed, position, self._active_at)
        position += len(changed)
        stamp_stored_values(self.conn, stored, position)
        position += len(stored)
        stamp_vouchers(self.conn, codes, position)
        position += len(codes)
        stamp_reward_counts(self.conn, rewards, position)
        position += len(rewards)
        if stamp is not None:
            stamp(position)
