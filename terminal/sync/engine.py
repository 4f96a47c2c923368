"""One sync round: push unsent journal entries in order, then pull what changed at HQ.

Resumes from the server's acknowledged seq, so any cut connection, retry or duplicate ends
with every entry at HQ exactly once (DESIGN.md, invariant 3). Pulled pages are applied in one
local transaction each, with the ``applied_through_seq`` that page's balances include.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlite_utils

from shared.protocol import MAX_PUSH_BATCH, MemberState, PullResponse, RaisedException
from shared.rules import ProgramRules
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.store.catalog import save_rules
from terminal.store.journal import iter_records, journal_tip
from terminal.store.members import digits_only
from terminal.store.settings import get_setting, set_setting
from terminal.sync.client import SyncClient
from terminal.sync.errors import SyncConflictError, SyncError, SyncGapError

__all__ = ["Progress", "SyncEngine", "SyncReport"]

Progress = Callable[[str, int, int], None]
"""(what, done, total) — e.g. ("push", 1500, 10000) during a catch-up."""

MAX_GAP_RETRIES = 3
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
    ) -> None:
        """``push_batch`` entries per push and ``pull_limit`` changes per pull page: smaller
        requests for a slow link (and for tests that cut a round between requests)."""
        if not (1 <= push_batch <= MAX_PUSH_BATCH and 1 <= pull_limit <= PULL_LIMIT):
            raise ValueError(f"push_batch 1–{MAX_PUSH_BATCH}, pull_limit 1–{PULL_LIMIT}")
        self.config = config
        self.database = database
        self.client = client
        self.push_batch = push_batch
        self.pull_limit = pull_limit

    # --- state ------------------------------------------------------------------------------

    def acked_seq(self) -> int:
        with self.database.read() as db:
            return int(get_setting(db, "acked_seq") or 0)

    def unsent(self) -> int:
        with self.database.read() as db:
            return journal_tip(db)[0] - int(get_setting(db, "acked_seq") or 0)

    def _record(self, **settings: str | None) -> None:
        with self.database.write() as db:
            for key, value in settings.items():
                set_setting(db, key, value)

    # --- a round -----------------------------------------------------------------------------

    def sync_once(self, progress: Progress | None = None) -> SyncReport:
        report = SyncReport()
        try:
            self.push_all(report, progress)
            self.pull_all(report, progress)
        except SyncError as error:
            state = (
                "conflict"
                if isinstance(error, SyncConflictError)
                else ("offline" if error.retryable else "refused")
            )
            self._record(sync_state=state, sync_error=error.message)
            raise
        self._record(
            sync_state="online", sync_error=None, last_sync_at=datetime.now(UTC).isoformat()
        )
        return report

    def push_all(self, report: SyncReport, progress: Progress | None = None) -> None:
        acked = self.acked_seq()
        with self.database.read() as db:
            total = journal_tip(db)[0] - acked
        gaps = 0
        done = 0
        while True:
            with self.database.read() as db:
                batch = list(itertools.islice(iter_records(db, since_seq=acked), self.push_batch))
            if not batch:
                break
            try:
                reply = self.client.push(self.config.terminal_id, batch)
            except SyncGapError as error:
                # The server acknowledged a different seq than we remembered (our ack was
                # lost in a cut reply): resend from where it is.
                gaps += 1
                if error.acked_seq is None or gaps > MAX_GAP_RETRIES:
                    raise
                acked = error.acked_seq
                self._record(acked_seq=str(acked))
                continue
            acked = reply.acked_seq
            done += reply.stored + reply.duplicates
            report.pushed += reply.stored
            report.duplicates += reply.duplicates
            report.exceptions.extend(reply.exceptions)
            self._record(acked_seq=str(acked))
            if progress:
                progress("push", done, total)
        report.acked_seq = acked

    def pull_all(self, report: SyncReport, progress: Progress | None = None) -> None:
        """Pull every waiting page. Each pull also reports this till's journal tip, so HQ's
        terminals page can show what the till still holds unsent."""
        with self.database.read() as db:
            cursor = get_setting(db, "pull_cursor") or "0"
            tip = journal_tip(db)[0]
        total = None
        for _ in range(100_000):  # bounded: ten million changes at 1,000 a page is 10,000 pages
            page = self.client.pull(cursor, self.pull_limit, tip=tip)
            if page.total_members is not None:
                total = page.total_members
            self._apply(page)
            cursor = page.cursor
            report.members_pulled += len(page.members)
            report.rules_pulled += len(page.rules)
            if progress:
                progress("pull", report.members_pulled, total or report.members_pulled)
            if not page.more:
                break

    # --- applying a page ----------------------------------------------------------------------

    def _apply(self, page: PullResponse) -> None:
        with self.database.write() as db:
            for document in page.rules:
                save_rules(db, ProgramRules.model_validate(document))
            blocked_here = _unsent_blocks(db, page.applied_through_seq)
            for member in page.members:
                _apply_member(db, member, page.applied_through_seq, blocked_here)
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


def _apply_member(
    db: sqlite_utils.Database,
    member: MemberState,
    applied_through: int,
    blocked_here: set[str],
) -> None:
    """Upsert one member from HQ. A member this till enrolled offline is found by its local
    id and keeps its local key, so cards and unsent effects stay attached. A card this till
    blocked in an entry HQ has not applied stays blocked (the block is on its way)."""
    row = db.execute(
        "SELECT member_key FROM members WHERE member_id = ?", [member.member_id]
    ).fetchone()
    if row is None and member.local_member_id:
        row = db.execute(
            "SELECT member_key FROM members WHERE local_member_id = ?", [member.local_member_id]
        ).fetchone()
    key = str(row[0]) if row else member.member_id
    db.execute(
        "INSERT INTO members (member_key, member_id, local_member_id, name, name_fold, phone, "
        "phone_digits, email, tier, server_balance, marketing_consent, applied_through_seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(member_key) DO UPDATE SET "
        "member_id=excluded.member_id, name=excluded.name, name_fold=excluded.name_fold, "
        "phone=excluded.phone, phone_digits=excluded.phone_digits, email=excluded.email, "
        "tier=excluded.tier, server_balance=excluded.server_balance, "
        "marketing_consent=excluded.marketing_consent, "
        "applied_through_seq=excluded.applied_through_seq",
        [
            key,
            member.member_id,
            member.local_member_id,
            member.name,
            member.name.casefold(),
            member.phone,
            digits_only(member.phone) if member.phone else None,
            member.email.lower() if member.email else None,
            member.tier,
            member.balance,
            int(member.marketing_consent),
            applied_through,
        ],
    )
    for card in member.cards:
        if card.status == "active" and card.card_number in blocked_here:
            continue
        # HQ is the authority on cards: a block, or a card HQ gave to someone else.
        db.execute(
            "INSERT INTO cards (card_number, member_key, status, blocked_reason) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(card_number) DO UPDATE SET "
            "member_key=excluded.member_key, status=excluded.status, "
            "blocked_reason=excluded.blocked_reason",
            [card.card_number, key, card.status, card.blocked_reason],
        )
