"""One sync round: compare journals with HQ, push unsent entries in order, then pull what
changed at HQ.

Each round starts by asking HQ what it holds of this till's journal (its acknowledged seq and
that entry's hash) and checking the till holds the same entry (docs/design.md, invariant 10); a
till behind HQ or diverged from it pushes nothing and alarms. Pushes resume from HQ's
acknowledged seq, so any cut connection, retry or duplicate ends with every entry at HQ
exactly once (invariant 3), and each reply's acknowledged hash is checked again. A push HQ
refuses (422 ``refused``, any other 4xx) is a refusal naming the entry, recorded and shown as
such, not "offline" (invariant 9). Pulled pages are applied in one local transaction each,
with the ``applied_through_seq`` that page's balances include.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn

import sqlite_utils

from shared.bounds import MAX_PUSH_BYTES
from shared.journal import canonical_json
from shared.protocol import (
    MAX_PUSH_BATCH,
    MemberState,
    PullResponse,
    RaisedException,
    SyncStatus,
)
from shared.rules import ProgramRules
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.store.cashiers import apply_hq_cashier
from terminal.store.catalog import save_rules
from terminal.store.journal import MalformedRecordError, hash_at, iter_records, journal_tip
from terminal.store.members import write_pulled_members
from terminal.store.migrations import drop_deferrable_indexes, ensure_indexes
from terminal.store.rewards import apply_rewards_issued
from terminal.store.settings import get_setting, set_setting
from terminal.store.stored_value import apply_gift_card, apply_voucher, confirm_voucher_uses
from terminal.sync.client import SyncClient, encode_push, push_overhead
from terminal.sync.errors import (
    SyncError,
    SyncGapError,
    SyncJournalAlarmError,
    SyncRejectedError,
)

__all__ = ["Progress", "SyncEngine", "SyncReport"]

Progress = Callable[[str, int, int], None]
"""(what, done, total) — e.g. ("push", 1500, 10000) during a catch-up."""

log = logging.getLogger(__name__)

MAX_GAP_RETRIES = 3
_MAX_PUSHES = 10_000_000
"""Bounds the push loop (each turn sends at least one entry or gives up)."""
PULL_LIMIT = 1000
"""Changes per pull page: the most the server hands out (``limit`` is 1–1000)."""


@dataclass
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    acked_seq: int = 0
    members_pulled: int = 0
    rules_pulled: int = 0
    exceptions: list[RaisedException] = field(default_factory=list)


class SyncEngine:
    def __init__(
        self,
        config: TillConfig,
        database: TillDatabase,
        client: SyncClient,
        *,
        push_batch: int = MAX_PUSH_BATCH,
        pull_limit: int = PULL_LIMIT,
        push_bytes: int = MAX_PUSH_BYTES,
    ) -> None:
        """``push_batch`` entries and ``push_bytes`` of body per push, ``pull_limit`` changes
        per pull page: smaller requests for a slow link (and for tests that cut a round
        between requests)."""
        if not (1 <= push_batch <= MAX_PUSH_BATCH and 1 <= pull_limit <= PULL_LIMIT):
            raise ValueError(f"push_batch 1–{MAX_PUSH_BATCH}, pull_limit 1–{PULL_LIMIT}")
        if not 1 <= push_bytes <= MAX_PUSH_BYTES:
            raise ValueError(f"push_bytes 1–{MAX_PUSH_BYTES}")
        self.config = config
        self.database = database
        self.client = client
        self.push_batch = push_batch
        self.pull_limit = pull_limit
        self.push_bytes = push_bytes

    # --- state ------------------------------------------------------------------------------

    def acked_seq(self) -> int:
        with self.database.read() as db:
            return int(get_setting(db, "acked_seq") or 0)

    def unsent(self) -> int:
        """Entries this till holds that HQ has not acknowledged (never negative: after a
        journal alarm the remembered ack may be ahead of a truncated journal)."""
        with self.database.read() as db:
            return max(0, journal_tip(db)[0] - int(get_setting(db, "acked_seq") or 0))

    def _record(self, **settings: str | None) -> None:
        with self.database.write() as db:
            for key, value in settings.items():
                set_setting(db, key, value)

    # --- a round -----------------------------------------------------------------------------

    def sync_once(self, progress: Progress | None = None) -> SyncReport:
        report = SyncReport()
        try:
            self.compare_with_hq(report)
            self.push_all(report, progress)
            self.pull_all(report, progress)
        except SyncError as error:
            refused = error.seq if isinstance(error, SyncRejectedError) else None
            self._record(
                sync_state=error.state,
                sync_error=error.message,
                refused_seq=str(refused) if refused is not None else None,
            )
            raise
        now = datetime.now(UTC).isoformat()
        self._record(
            sync_state="online",
            sync_error=None,
            refused_seq=None,
            last_sync_at=now,
            last_contact_at=now,
        )
        return report

    def compare_with_hq(self, report: SyncReport | None = None) -> int:
        """Compare this till's journal with what HQ acknowledged (docs/design.md, invariant 10)
        and adopt HQ's acknowledged seq; return it.

        HQ can never hold more of a till's journal than the till: if it does, the journal was
        truncated or restored from an older copy, and the till's next entries would reuse
        seqs HQ already has — the silent loss of issue 10. Nothing is pushed then; the till
        raises :class:`SyncJournalAlarmError` and reports its evidence so HQ raises
        ``journal_behind`` on its side. Otherwise HQ's figure replaces whatever the till
        remembered, which may be stale (a lost reply) or ahead (HQ restored): HQ's word is
        what the next push builds on.

        The routine question carries no tip. A tip is evidence HQ acts on, and a request can
        reach HQ late (held by the network after the till gave up on it, then delivered): a
        stale "my journal ends at 10" arriving after the till pushed up to 15 would be a false
        alarm at HQ. So the till decides, and only a till that found the disagreement tells
        HQ what it holds (:meth:`_report_to_hq`) — late or not, that report is true.
        """
        try:
            status = self.client.status()
        except SyncRejectedError as error:
            if error.status_code != 404:
                raise
            raise SyncRejectedError(
                "HQ does not offer the journal comparison every sync starts with (GET "
                "/api/v1/sync/status answered 404): HQ must be upgraded before this till sends "
                "anything. Sales continue and stay on this till; tell HQ support",
                status_code=404,
            ) from None
        # The tip is read after HQ answered: the journal only grows, so an honest till's tip
        # is then at least what HQ acknowledged, even if another process on this till (the
        # TUI's worker and a scripted `till sync`) pushed newer entries meanwhile.
        with self.database.read() as db:
            tip = journal_tip(db)[0]
        if status.terminal_id != self.config.terminal_id:
            raise SyncJournalAlarmError(
                f"HQ answered for till {status.terminal_id}, but this is till "
                f"{self.config.terminal_id}: its token belongs to another till. Nothing is "
                "sent; call HQ support"
            )
        remembered = self.acked_seq()
        if status.acked_seq < remembered:
            status = self._hq_went_back(status, remembered)
        self._check_hq_holds(status.acked_seq, status.acked_hash, tip)
        self._record(acked_seq=str(status.acked_seq))
        if report is not None:
            report.acked_seq = status.acked_seq
        return status.acked_seq

    def _hq_went_back(self, status: SyncStatus, remembered: int) -> SyncStatus:
        """HQ acknowledges less of this journal than it did before: HQ was restored from a
        backup (docs/protocol.md, "HQ restored from a backup"). Not an alarm — the entries
        are still here: the push re-sends them from HQ's acknowledged seq, and the pull starts
        from scratch, since what the till pulled after the backup is gone from HQ and HQ will
        hand out those positions again. Asked once more first: a reply that crossed a push by
        another process on this till (the TUI's worker and a scripted `till sync`) is not a
        restore."""
        again = self.client.status()
        if again.acked_seq >= remembered:
            return again
        log.warning(
            "HQ acknowledges this till's journal up to seq %d, but acknowledged up to %d "
            "before: HQ was restored from a backup. Re-sending from seq %d and pulling "
            "everything afresh",
            again.acked_seq,
            remembered,
            again.acked_seq + 1,
        )
        self._record(pull_cursor=None, hq_restore_seen_at=datetime.now(UTC).isoformat())
        return again

    def _check_hq_holds(self, acked: int, acked_hash: str | None, tip: int) -> None:
        """Alarm unless HQ's acknowledged entry is one this till holds, with the same hash."""
        if acked > tip:
            with self.database.read() as db:
                tip, tip_hash = journal_tip(db)
            self._alarm(
                acked,
                tip,
                f"HQ holds this till's entries up to seq {acked:,}, but the till's journal "
                f"ends at seq {tip:,}: the journal was truncated or restored from an older "
                "copy. Nothing more is sent to HQ (new sales stay on this till); call HQ "
                "support now",
                evidence=(tip, tip_hash),
            )
        if acked_hash is None:
            return  # an HQ that does not report the hash: the seq check is all there is
        with self.database.read() as db:
            mine = hash_at(db, acked)
        if mine != acked_hash:
            self._alarm(
                acked,
                tip,
                f"journal diverged at seq {acked:,}: HQ acknowledged a different entry under "
                "that seq than the one this till holds (the journal was replaced or restored "
                "from another copy). Nothing more is sent to HQ (new sales stay on this "
                "till); call HQ support now",
                # "My entry at HQ's acknowledged seq has this hash": HQ compares it with its own.
                evidence=(acked, mine) if mine is not None else None,
            )

    def _alarm(
        self, hq_acked: int, tip: int, message: str, evidence: tuple[int, str] | None
    ) -> NoReturn:
        # Count as unsent only what the till can still vouch for: entries after the last seq
        # both sides may share (so "unsent" stays meaningful and never goes negative).
        with self.database.write() as db:
            remembered = int(get_setting(db, "acked_seq") or 0)
            set_setting(db, "acked_seq", str(max(0, min(remembered, hq_acked, tip))))
        log.error("journal alarm: %s", message)
        if evidence is not None:
            self._report_to_hq(*evidence)
        raise SyncJournalAlarmError(message, acked_seq=hq_acked)

    def _report_to_hq(self, seq: int, entry_hash: str) -> None:
        """Tell HQ what this till holds at ``seq`` so it raises its side of the alarm. Best
        effort: the till's own alarm stands whether or not HQ hears it now (the next round
        reports again)."""
        try:
            self.client.status(seq, entry_hash)
        except SyncError as error:
            log.warning("could not report the journal alarm to HQ: %s", error.message)

    def push_all(self, report: SyncReport, progress: Progress | None = None) -> None:
        """Push every unsent entry, in batches of at most ``push_batch`` entries and
        ``MAX_PUSH_BYTES`` of request body, checking each reply against the journal."""
        acked = self.acked_seq()
        with self.database.read() as db:
            total = max(0, journal_tip(db)[0] - acked)
        gaps = 0
        done = 0
        limit = self.push_batch
        for _ in range(_MAX_PUSHES):
            batch = self._next_batch(acked, limit)
            if batch is None:
                break
            first, body, count = batch
            try:
                reply = self.client.push_encoded(body)
            except SyncGapError as error:
                # The server acknowledged a different seq than we remembered (our ack was
                # lost in a cut reply): resend from where it is.
                gaps += 1
                if error.acked_seq is None or gaps > MAX_GAP_RETRIES:
                    raise
                with self.database.read() as db:
                    tip = journal_tip(db)[0]
                self._check_hq_holds(error.acked_seq, None, tip)
                acked = error.acked_seq
                self._record(acked_seq=str(acked))
                continue
            except SyncRejectedError as error:
                if error.status_code == 413 and count > 1:
                    # HQ takes less per request than the protocol promises: smaller batches.
                    limit = max(1, count // 2)
                    continue
                self._refused(error, first, count)
            with self.database.read() as db:
                tip = journal_tip(db)[0]
            self._check_hq_holds(reply.acked_seq, reply.acked_hash, tip)
            acked = reply.acked_seq
            done += reply.stored + reply.duplicates
            report.pushed += reply.stored
            report.duplicates += reply.duplicates
            report.exceptions.extend(reply.exceptions)
            self._record(acked_seq=str(acked))
            if progress:
                progress("push", done, total)
        report.acked_seq = acked

    def _refused(self, error: SyncRejectedError, first: int, count: int) -> NoReturn:
        """HQ refused this batch: keep what it says it stored, name the entry, stop."""
        with self.database.read() as db:
            tip = journal_tip(db)[0]
        if error.acked_seq is not None and 0 <= error.acked_seq <= tip:
            # Entries before the refused one may have been stored by this very push.
            self._record(acked_seq=str(error.acked_seq))
        if error.seq is None and count == 1:
            error.seq = first  # a one-entry push HQ would not take: that entry is the one
        raise error

    def _next_batch(self, acked: int, limit: int) -> tuple[int, bytes, int] | None:
        """(first seq, body, entries) of the next push after ``acked``; None when all is sent.

        Entries are added while the body stays within ``push_bytes`` (``MAX_PUSH_BYTES``);
        an entry that could not fit even alone is refused here, by seq, rather than sent to be
        refused by size.
        """
        terminal_id = self.config.terminal_id
        room = self.push_bytes - push_overhead(terminal_id)
        encoded: list[bytes] = []
        size = 0
        first = acked + 1
        with self.database.read() as db:
            try:
                for record in itertools.islice(iter_records(db, since_seq=acked), limit):
                    seq = record.get("seq")
                    try:
                        text = canonical_json(record)
                    except (ValueError, RecursionError) as error:
                        raise MalformedRecordError(
                            seq if type(seq) is int else first + len(encoded),
                            f"it cannot be written as canonical JSON ({error})",
                        ) from None
                    extra = len(text) + (1 if encoded else 0)
                    if size + extra > room:
                        if encoded:
                            break
                        raise SyncRejectedError(
                            f"entry seq {seq} is {len(text):,} bytes, more than one push may "
                            f"carry ({room:,}), so it cannot be sent. Sales continue and stay "
                            "on this till; call HQ support",
                            seq=seq if type(seq) is int else first,
                        )
                    encoded.append(text)
                    size += extra
            except MalformedRecordError as error:
                # What comes before it is sent; the next batch starts at it and stops here.
                if not encoded:
                    raise SyncJournalAlarmError(
                        f"{error}: it and every entry after it cannot be sent. Run `till "
                        "journal verify` and call HQ support"
                    ) from None
        if not encoded:
            return None
        return first, encode_push(terminal_id, encoded), len(encoded)

    def pull_all(self, report: SyncReport, progress: Progress | None = None) -> None:
        """Pull every waiting page. Each pull also reports this till's journal tip, so HQ's
        terminals page can show what the till still holds unsent."""
        with self.database.read() as db:
            cursor = get_setting(db, "pull_cursor") or "0"
            tip = journal_tip(db)[0]
            first = cursor == "0" and db.execute("SELECT 1 FROM members LIMIT 1").fetchone() is None
        if not first:
            self._pull_pages(cursor, tip, report, progress, pages_per_commit=1)
            return
        # A first download into an empty cache: the search indexes are built once at the end
        # instead of kept up row by row. They come back however the download ends, and when
        # the database is next opened should the till die meanwhile (open_database).
        with self.database.write() as db:
            drop_deferrable_indexes(db)
        try:
            self._pull_pages(
                cursor, tip, report, progress, pages_per_commit=FIRST_DOWNLOAD_PAGES_PER_COMMIT
            )
        finally:
            with self.database.write() as db:
                ensure_indexes(db)

    def _pull_pages(
        self,
        cursor: str,
        tip: int,
        report: SyncReport,
        progress: Progress | None,
        *,
        pages_per_commit: int,
    ) -> None:
        state = _Download(cursor)
        # The next page is asked for while this one is applied, so HQ's work and the till's
        # overlap. The cursor moves only with pages applied and committed, in order: an error
        # (or a cut connection) leaves the till exactly where the last commit left it. A
        # transaction never waits for HQ: it takes only pages that have already arrived.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull") as fetcher:

            def arrived(fetching: Future[PullResponse]) -> PullResponse:
                page = fetching.result()
                if page.more:
                    state.fetching = fetcher.submit(
                        self.client.pull, page.cursor, self.pull_limit, tip=tip
                    )
                return page

            state.fetching = fetcher.submit(self.client.pull, cursor, self.pull_limit, tip=tip)
            for _ in range(100_000):  # bounded: ten million changes at 1,000 a page
                page = arrived(state.fetching)
                with self.database.write() as db:
                    self._take(db, page, state, report)
                    for _more in range(pages_per_commit - 1):
                        ready = page.more and state.fetching.done()
                        if not ready or state.fetching.exception() is not None:
                            break  # a failed fetch is raised outside, after this commit
                        page = arrived(state.fetching)
                        self._take(db, page, state, report)
                if progress:  # what is committed
                    progress("pull", report.members_pulled, state.total or report.members_pulled)
                if not page.more:
                    break

    def _take(
        self, db: sqlite_utils.Database, page: PullResponse, state: _Download, report: SyncReport
    ) -> None:
        """Apply one pulled page in the caller's transaction, and count it."""
        if page.reset:
            # HQ's history ends before our cursor (restored from a backup): this page is the
            # first of a full download, and the pages after it follow on from it.
            log.warning("HQ restarted this till's download from scratch (cursor %s)", state.cursor)
        if page.total_members is not None:
            state.total = page.total_members
        self._apply_page(db, page)
        state.cursor = page.cursor
        report.members_pulled += len(page.members)
        report.rules_pulled += len(page.rules)

    # --- applying a page ----------------------------------------------------------------------

    def _apply(self, page: PullResponse) -> None:
        """Apply one pulled page in a transaction of its own."""
        with self.database.write() as db:
            self._apply_page(db, page)

    def _apply_page(self, db: sqlite_utils.Database, page: PullResponse) -> None:
        for document in page.rules:
            save_rules(db, ProgramRules.model_validate(document))
        blocked_here = _unsent_blocks(db, page.applied_through_seq)
        _apply_members(
            db, page.members, page.applied_through_seq, blocked_here, self.config.country
        )
        for product in page.products:
            db.execute(
                "INSERT INTO products (sku, description, category, price_minor, tax_rate_bp, "
                "open_price) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(sku) DO UPDATE SET "
                "description=excluded.description, category=excluded.category, "
                "price_minor=excluded.price_minor, tax_rate_bp=excluded.tax_rate_bp, "
                "open_price=excluded.open_price",
                [
                    product.sku,
                    product.description,
                    product.category,
                    product.price_minor,
                    product.tax_rate_bp,
                    int(product.open_price),
                ],
            )
        for offer in page.offers:
            db.execute(
                "INSERT OR REPLACE INTO offers (offer_id, title, description, tier, "
                "valid_until) VALUES (?, ?, ?, ?, ?)",
                [offer.offer_id, offer.title, offer.description, offer.tier, offer.valid_until],
            )
        for cashier in page.cashiers:
            apply_hq_cashier(db, cashier)
        # Vouchers and gift cards (docs/till-stored-value.md): HQ's word replaces the
        # till's; a card's balance includes this till's entries up to applied_through.
        for voucher in page.vouchers:
            apply_voucher(db, voucher)
        for card in page.gift_cards:
            apply_gift_card(db, card, page.applied_through_seq)
        confirm_voucher_uses(db, page.applied_through_seq)
        # Rewards' stock: HQ's counts include this till's purchases up to applied_through.
        apply_rewards_issued(db, page.rewards_issued, page.applied_through_seq)
        set_setting(db, "pull_cursor", page.cursor)


def _unsent_blocks(db: sqlite_utils.Database, applied_through: int) -> set[str]:
    """Cards this till blocked (replaced) in entries HQ had not applied when it read the page:
    HQ still calls them active only because it has not heard yet."""
    rows = db.execute(
        "SELECT json_extract(record, '$.payload.old_card_number') FROM journal "
        "WHERE seq > ? AND kind = 'card_replacement'",
        [applied_through],
    ).fetchall()
    return {str(row[0]) for row in rows}


@dataclass
class _Download:
    """Where a run of pulls is: the cursor of the last page applied, the page being fetched."""

    cursor: str
    total: int | None = None
    fetching: Future[PullResponse] = field(init=False)


FIRST_DOWNLOAD_PAGES_PER_COMMIT = 8
"""Pull pages a first download writes per local transaction: fewer durable commits (each an
fsync) for a million members; later pulls commit every page."""

_KEY_LOOKUP_CHUNK = 500
"""Ids per ``IN (…)`` when a page's members are looked up (well under SQLite's limit)."""


def _keys_by(db: sqlite_utils.Database, column: str, ids: Sequence[str]) -> dict[str, str]:
    """``column`` value -> member_key of the members rows holding one of ``ids``."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), _KEY_LOOKUP_CHUNK):
        chunk = ids[start : start + _KEY_LOOKUP_CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = db.execute(
            # Only a constant column name and placeholders are interpolated.
            f"SELECT {column}, member_key FROM members WHERE {column} IN ({marks})",  # noqa: S608
            list(chunk),
        ).fetchall()
        found.update((str(value), str(key)) for value, key in rows)
    return found


def _member_keys(
    db: sqlite_utils.Database, members: Sequence[MemberState]
) -> tuple[list[str], set[str]]:
    """Each pulled member's key in the till's cache, and the keys that already have a row.

    A member this till enrolled offline is found by its local id and keeps its local key, so
    cards and unsent effects stay attached; any other member new here is keyed by its
    member_id. A few statements for the whole page, not one per member."""
    by_id = _keys_by(db, "member_id", [m.member_id for m in members])
    missing = [m for m in members if m.member_id not in by_id]
    by_local = _keys_by(
        db, "local_member_id", [m.local_member_id for m in missing if m.local_member_id]
    )
    keys = [
        by_id.get(m.member_id)
        or (by_local.get(m.local_member_id) if m.local_member_id else None)
        or m.member_id
        for m in members
    ]
    known = set(by_id.values()) | set(by_local.values())
    # A row under a new member's id that neither lookup found (one without HQ's id yet).
    known |= set(_keys_by(db, "member_key", [k for k in keys if k not in known]))
    return keys, known


def _apply_members(
    db: sqlite_utils.Database,
    members: Sequence[MemberState],
    applied_through: int,
    blocked_here: set[str],
    region: str | None,
) -> None:
    """Upsert a page's members with their search keys (name words, phone key in the till's
    country ``region``), then their cards, a few statements for the whole page. A card this
    till blocked in an entry HQ has not applied stays blocked (the block is on its way)."""
    if not members:
        return
    keys, known = _member_keys(db, members)
    write_pulled_members(
        db, list(zip(keys, members, strict=True)), applied_through, region, known=known
    )
    # HQ is the authority on cards: a block, or a card HQ gave to someone else. In page
    # order, so a card that moved between two members of the page ends with the later one.
    db.conn.executemany(
        "INSERT INTO cards (card_number, member_key, status, blocked_reason) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(card_number) DO UPDATE SET "
        "member_key=excluded.member_key, status=excluded.status, "
        "blocked_reason=excluded.blocked_reason",
        [
            (card.card_number, key, card.status, card.blocked_reason)
            for key, member in zip(keys, members, strict=True)
            for card in member.cards
            if not (card.status == "active" and card.card_number in blocked_here)
        ],
    )
