"""The till core's shared state and helpers: config, database, clock, signed-in cashier."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import sqlite_utils
from pydantic import ValidationError

from shared.bounds import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from shared.codes import (
    ParsedCode,
    parse_scan,
)
from shared.journal import (
    CanonicalJSONError,
    EntryTooLargeError,
    JournalEntry,
    JournalInvariantError,
    MemberRef,
    Payload,
    Return,
    Sale,
)
from shared.protocol import LiveMemberResponse
from shared.rules import ProgramRules
from terminal.config import TillConfig
from terminal.store.cashiers import Cashier, check_pin
from terminal.store.catalog import current_rules, offers_for
from terminal.store.database import TillDatabase
from terminal.store.journal import append_entry, get_entry, journal_tip
from terminal.store.members import (
    MemberRecord,
    active_card_of,
    card_by_number,
    member_balance,
    member_by_key,
    search_members,
)
from terminal.store.open_sale import clear_open_sale, save_open_sale
from terminal.store.settings import get_setting, set_setting
from terminal.till.basket import Basket, basket_document
from terminal.till.errors import (
    CardBlockedError,
    ClockRefusedError,
    JournalRefusedError,
    NotSignedInError,
    SignInFailedError,
    TillError,
    UnknownCardError,
)
from terminal.till.provisional import entry_balance_is_provisional
from terminal.till.results import MemberView
from terminal.till.standing import Standing, standing_of, standing_to_json

__all__ = ["Clock", "TillBase", "describe_validation_error"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
HQLookup = Callable[[str], LiveMemberResponse]
"""card number -> HQ's live member state; raises when HQ cannot answer."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _check_clock(now: datetime) -> None:
    if not EARLIEST_TIMESTAMP <= now < LATEST_TIMESTAMP:
        raise ClockRefusedError(
            f"The till's clock says {now:%Y-%m-%d %H:%M} UTC, which cannot be right (a till "
            f"records only {EARLIEST_TIMESTAMP.year}–{LATEST_TIMESTAMP.year - 1})",
            "set the till's date and time, then try again — nothing was journaled",
        )


def describe_validation_error(error: ValidationError) -> str:
    """The first problem pydantic found, as ``where: what`` in plain words."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


class TillBase:
    """State and helpers every group of cashier actions uses."""

    def __init__(
        self,
        config: TillConfig,
        database: TillDatabase,
        clock: Clock = _utc_now,
        *,
        hq: HQLookup | None = None,
    ):
        self.config = config
        self.database = database
        self.clock = clock
        self.hq = hq
        """Asks HQ for a member's live balance (None: the till never asks, offline rules)."""
        self.cashier: Cashier | None = None
        self.codes = config.code_config()

    # --- time ----------------------------------------------------------------------------

    def _now(self) -> tuple[datetime, int, datetime]:
        """(UTC now, the store's UTC offset in minutes, the store's naive wall-clock time).

        Refuses a clock outside [EARLIEST_TIMESTAMP, LATEST_TIMESTAMP): every action that
        journals (or prices points by the time of day) reads the clock here first, and an
        entry stamped 1970 or 9999 is one HQ could not store (invariant 9) — a year-9999
        sale once wedged its till's sync for good."""
        now = self.clock()
        _check_clock(now)
        local = now.astimezone(self.config.zone)
        offset = local.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        return now, minutes, local.replace(tzinfo=None)

    # --- cashiers --------------------------------------------------------------------------

    def sign_in(self, cashier_id: str, pin: str) -> Cashier:
        with self.database.read() as db:
            cashier = check_pin(db, cashier_id.strip(), pin.strip())
        if cashier is None:
            raise SignInFailedError("Cashier number or PIN is wrong", "try again")
        self.cashier = cashier
        with self.database.write() as db:
            if get_setting(db, "shift_id") is None:
                seq, _ = journal_tip(db)
                set_setting(db, "shift_id", str(uuid.uuid4()))
                set_setting(db, "shift_opened_at", self.clock().isoformat())
                set_setting(db, "shift_first_seq", str(seq + 1))
        return cashier

    def sign_out(self) -> None:
        self.cashier = None

    def _cashier_id(self) -> str:
        if self.cashier is None:
            raise NotSignedInError(
                "Nobody is signed in", "sign in with your cashier number and PIN"
            )
        return self.cashier.cashier_id

    # --- rules -----------------------------------------------------------------------------

    def rules(self) -> ProgramRules:
        with self.database.read() as db:
            rules = current_rules(db)
        if rules is None:
            raise TillError("No loyalty program is loaded on this till", "sync with HQ first")
        return rules

    # --- scanning ---------------------------------------------------------------------------

    def classify(self, text: str) -> ParsedCode:
        return parse_scan(text, self.codes, now_unix=int(self.clock().timestamp()))

    def new_basket(self) -> Basket:
        return Basket(currency=self.config.currency)

    def _keep(self, basket: Basket) -> None:
        """Keep a durable basket in the ``open_sale`` row, in its own durable transaction,
        before the cashier sees the change: a crash now offers it back as it is on screen.

        A basket with neither lines nor tenders holds nothing worth offering back: its row
        goes. A failure to write is logged and noted on the basket (``keep_error``), never
        raised: the sale itself can still be completed, and the screen says what happened.
        """
        if not basket.durable:
            return
        now = self.clock()
        try:
            if basket.empty and not basket.tenders:
                if basket.kept:
                    with self.database.write() as db:
                        clear_open_sale(db)
                    basket.kept = False
                    basket.started_at = None
                    basket.started_by = None
                basket.keep_error = None
                return
            if basket.started_at is None:
                basket.started_at = now
                if self.cashier is not None:
                    basket.started_by = (self.cashier.cashier_id, self.cashier.name)
            document = basket_document(basket)
            with self.database.write() as db:
                save_open_sale(db, document, now)
        except (sqlite3.Error, OSError, ValidationError) as error:
            log.exception("the open sale could not be kept")
            basket.keep_error = f"This sale is not saved against a crash ({error})"
            return
        basket.kept = True
        basket.keep_error = None

    # --- members -----------------------------------------------------------------------------

    def member_view(self, card_number: str) -> MemberView:
        """Who owns this card, with their balance — refuses unknown and blocked cards."""
        with self.database.read() as db:
            card = card_by_number(db, card_number)
            if card is None:
                raise UnknownCardError(
                    "This card is not registered",
                    "enrol the customer (F6) to assign it, or check the number",
                )
            member = member_by_key(db, card.member_key)
            if member is None:
                raise UnknownCardError(
                    "This card's member is missing from the till", "sync with HQ"
                )
            if card.blocked:
                raise CardBlockedError(
                    f"This card is blocked ({card.blocked_reason or 'reported lost'})",
                    "keep the card and ask the member for their current card",
                )
            _, _, local = self._now()
            today = local.date()
            return MemberView(
                member_key=member.member_key,
                name=member.name,
                card_number=card_number,
                tier=member.current_tier,
                balance=member_balance(db, member, today=today),
                offers=tuple(offers_for(db, member.current_tier, today.isoformat())),
                standing=standing_of(db, current_rules(db), member, today),
            )

    def standing(self, member_key: str) -> Standing | None:
        """The member's tier, progress and expiring points as the till shows them now."""
        _, _, local = self._now()
        with self.database.read() as db:
            member = member_by_key(db, member_key)
            if member is None:
                return None
            return standing_of(db, current_rules(db), member, local.date())

    def find_members(self, query: str) -> list[tuple[MemberRecord, str | None]]:
        """Members matching a phone, email or name, each with their active card."""
        with self.database.read() as db:
            found = search_members(db, query, region=self.config.country)
            return [(m, active_card_of(db, m.member_key)) for m in found]

    def _member_ref(self, member: MemberRecord) -> MemberRef:
        with self.database.read() as db:
            card = active_card_of(db, member.member_key)
        return MemberRef(
            card_number=card or "",
            member_id=member.member_id,
            local_member_id=member.local_member_id,
        )

    @contextmanager
    def _storable(self, what: str) -> Iterator[None]:
        """Turn the shared models' refusal of an entry into a refusal the cashier can read.

        Wrap the write transaction that builds and journals an entry: the models refuse what
        HQ could not store (control characters, amounts beyond shared.bounds, an entry too
        large); the transaction has rolled back by the time this sees it, so nothing was
        journaled, and the cashier gets the field and the reason instead of a traceback.
        """
        try:
            yield
        except ValidationError as error:
            log.warning("refused to journal a %s: %s", what, error)
            raise JournalRefusedError(
                f"This {what} cannot be recorded: {describe_validation_error(error)}",
                "correct it and try again — nothing was journaled",
            ) from error
        except (EntryTooLargeError, JournalInvariantError, CanonicalJSONError) as error:
            log.warning("refused to journal a %s: %s", what, error)
            raise JournalRefusedError(
                f"This {what} cannot be recorded: {error}",
                "correct it and try again — nothing was journaled",
            ) from error

    def _append(
        self,
        db: sqlite_utils.Database,
        payload: Payload,
        now: datetime,
        offset: int,
        cashier_id: str | None,
    ) -> JournalEntry:
        _check_clock(now)  # again, for any caller that took ``now`` elsewhere
        return append_entry(
            db,
            terminal_id=self.config.terminal_id,
            entry_id=str(uuid.uuid4()),
            occurred_at=now,
            utc_offset_min=offset,
            cashier_id=cashier_id,
            payload=payload,
        )

    @staticmethod
    def _add_points_effect(
        db: sqlite_utils.Database, seq: int, key: str, delta: int, redeemed: int, day: str
    ) -> None:
        if delta or redeemed:
            db.execute(
                "INSERT INTO points_effects (seq, member_key, delta, redeemed, local_date) "
                "VALUES (?, ?, ?, ?, ?)",
                [seq, key, delta, redeemed, day],
            )

    @staticmethod
    def _balance(db: sqlite_utils.Database, member_key: str, today: date) -> int | None:
        member = member_by_key(db, member_key)
        return member_balance(db, member, today=today) if member else None

    def _queue_print(
        self,
        db: sqlite_utils.Database,
        seq: int,
        balance: int | None,
        tier: str | None,
        now: datetime,
        *,
        stored_value: str | None = None,
    ) -> int:
        # Decided now, with the sale: whether HQ can vouch for the balance printed, what
        # the receipt says of the member's tier and points, and of the gift cards and store
        # credit it moved (``stored_value``, JSON; a reprint says the same).
        provisional = balance is not None and entry_balance_is_provisional(db, seq, now)
        standing = self._receipt_standing(db, seq, now)
        cursor = db.execute(
            "INSERT INTO print_jobs (seq, balance_after, tier_after, balance_provisional, "
            "created_at, standing, stored_value) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [seq, balance, tier, int(provisional), now.isoformat(), standing, stored_value],
        )
        return int(cursor.lastrowid or 0)

    def _receipt_standing(self, db: sqlite_utils.Database, seq: int, now: datetime) -> str | None:
        """The member's standing after entry ``seq`` (a sale or a return), as JSON for
        ``print_jobs.standing``; None for an entry without a member."""
        entry = get_entry(db, seq)
        payload = entry.payload if entry is not None else None
        if not isinstance(payload, Sale | Return) or payload.member is None:
            return None
        key = self._member_key_for(db, payload.member)
        member = member_by_key(db, key) if key else None
        if member is None:
            return None
        today = now.astimezone(self.config.zone).date()
        standing = standing_of(db, current_rules(db), member, today)
        upgraded = isinstance(payload, Sale) and payload.tier_upgrade is not None
        return standing_to_json(standing.for_receipt(upgraded=upgraded))

    def _member_key_for(self, db: sqlite_utils.Database, ref: MemberRef | None) -> str | None:
        if ref is None:
            return None
        card = card_by_number(db, ref.card_number)
        return card.member_key if card else None
