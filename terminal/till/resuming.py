"""The sale left open by a crash, a power cut or a sign-out: offered back, resumed or dropped.

The sale screen's basket is kept in the ``open_sale`` row as it is built (see
``SellingActions._keep``). When a cashier signs in and a row is there, the till offers it
back. Dropping it is the cashier's call — unless tenders were taken: then money may already
be in the drawer for a sale the journal will never show, and the Z report's cash would not
add up. So that takes a supervisor, and every dropped sale is written to
``discarded-sales.jsonl`` in the data directory (who, when, what) for whoever counts the
drawer.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shared.journal import TenderMethod
from shared.money import Money
from terminal.store.cashiers import Cashier
from terminal.store.members import member_by_key
from terminal.store.open_sale import (
    OpenSaleDocument,
    SavedOpenSale,
    UnreadableOpenSale,
    clear_open_sale,
    read_open_sale,
)
from terminal.till.basket import AttachedMember, Basket, basket_from_document
from terminal.till.errors import TillError
from terminal.till.results import MemberView
from terminal.till.selling import SellingActions

__all__ = ["OpenSaleOffer", "OpenSaleSetAside", "ResumedSale", "ResumingActions"]

log = logging.getLogger(__name__)

DISCARDED_LOG = "discarded-sales.jsonl"


@dataclass(frozen=True, slots=True)
class OpenSaleOffer:
    """What the cashier is asked about: the sale left open, in a few words."""

    document: OpenSaleDocument
    updated_at: datetime
    """When the basket last changed, in the store's time zone."""

    @property
    def currency(self) -> str:
        return self.document.currency

    @property
    def lines(self) -> int:
        return len(self.document.lines)

    @property
    def total_minor(self) -> int:
        return self.document.total_minor

    @property
    def paid_minor(self) -> int:
        return self.document.paid_minor

    @property
    def tenders_taken(self) -> bool:
        return bool(self.document.tenders)

    def summary(self, today: datetime | None = None) -> str:
        """``the sale from 14:02 — 3 lines, member Greta Silva, €12.40``."""
        when = f"{self.updated_at:%H:%M}"
        if today is not None and today.date() != self.updated_at.date():
            when = f"{self.updated_at:%a %d %b} {when}"
        parts = [f"{self.lines} line{'' if self.lines == 1 else 's'}"]
        if self.document.member is not None:
            parts.append(f"member {self.document.member.name}")
        parts.append(self._money(self.total_minor))
        return f"the sale from {when} — " + ", ".join(parts)

    def tenders_text(self) -> str:
        """``€20.00 cash, €5.00 card`` (empty when none were taken)."""
        return ", ".join(
            f"{self._money(t.amount_minor)} {_METHOD_WORDS[t.method]}"
            for t in self.document.tenders
        )

    def _money(self, minor: int) -> str:
        return Money(minor, self.currency).format()


_METHOD_WORDS = {
    TenderMethod.CASH: "cash",
    TenderMethod.CARD: "card",
    TenderMethod.STORE_CREDIT: "store credit",
}


@dataclass(frozen=True, slots=True)
class OpenSaleSetAside:
    """The row could not be read: it was moved to ``path`` (or only logged) and removed."""

    reason: str
    path: Path | None


@dataclass(frozen=True, slots=True)
class ResumedSale:
    basket: Basket
    member: MemberView | None
    notes: tuple[str, ...]
    """What changed on the way back (a member's card blocked since, a redemption that no
    longer fits), for the cashier to read."""


class ResumingActions(SellingActions):
    def start_sale(self) -> Basket:
        """A basket for the sale screen: kept in ``open_sale`` as it changes."""
        basket = self.new_basket()
        basket.durable = True
        return basket

    def open_sale_offer(self) -> OpenSaleOffer | OpenSaleSetAside | None:
        """The sale left open, to offer back; an unreadable one is set aside (never raised:
        it must not stop the till from selling) and reported."""
        with self.database.read() as db:
            found = read_open_sale(db)
        if found is None:
            return None
        if isinstance(found, UnreadableOpenSale):
            return self._set_aside(found)
        local = found.updated_at.astimezone(self.config.zone).replace(tzinfo=None)
        return OpenSaleOffer(found.document, local)

    def resume_sale(self) -> ResumedSale:
        """The basket as it was kept, checked against the till as it is now."""
        with self.database.read() as db:
            found = read_open_sale(db)
        if not isinstance(found, SavedOpenSale):
            raise TillError("No sale was left open", "start a new sale")
        document = found.document
        notes: list[str] = []
        attached: AttachedMember | None = None
        view: MemberView | None = None
        saved_member = document.member
        if saved_member is not None:
            try:
                view = self.member_view(saved_member.card_number)
                with self.database.read() as db:
                    record = member_by_key(db, view.member_key)
                if record is None:  # (the card identifies them: a pull may re-key a member)
                    raise TillError("the member is missing from the till")
                attached = AttachedMember(record, saved_member.card_number, view.balance)
            except TillError as error:
                view = None
                notes.append(f"{saved_member.name} was taken off the sale: {error.message.lower()}")
        basket = basket_from_document(document, attached)
        if document.redemption is not None:
            self._requote(basket)
            if basket.redemption is None:
                notes.append(
                    "The points redemption was removed: it no longer fits — redeem again "
                    "if the member wants to"
                )
            elif basket.redemption.points != document.redemption.points:
                notes.append(
                    f"The points redemption is now {basket.redemption.points:,} points "
                    f"(was {document.redemption.points:,})"
                )
        if document.vouchers:
            before = [(v.code, v.discount_minor) for v in basket.vouchers]
            self._requote_vouchers(basket)
            if [(v.code, v.discount_minor) for v in basket.vouchers] != before:
                notes.append("The vouchers were checked again: see the discounts on the sale")
        if document.rewards:
            before = [(r.reward_id, r.discount_minor) for r in document.rewards]
            self._requote_rewards(basket)
            if [(r.reward_id, r.discount_minor) for r in basket.rewards] != before:
                notes.append("The rewards were checked again: see the sale")
        if notes:
            self._keep(basket)
        return ResumedSale(basket, view, tuple(notes))

    def discard_open_sale(self, approved_by: Cashier | None = None) -> None:
        """Drop the sale left open. With tenders taken only a supervisor (``approved_by``,
        whose PIN the caller checked) may: the money may be in the drawer."""
        with self.database.read() as db:
            found = read_open_sale(db)
        if found is None:
            return
        if isinstance(found, UnreadableOpenSale):
            self._set_aside(found)
            return
        if found.document.tenders and (approved_by is None or approved_by.role != "supervisor"):
            raise TillError(
                "Tenders were taken for this sale: only a supervisor can discard it",
                "resume it, or ask a supervisor to count the drawer and discard it",
            )
        self._record_discard(found, approved_by)
        with self.database.write() as db:
            clear_open_sale(db)
        log.warning(
            "open sale discarded by %s (approved by %s): %s",
            self.cashier.cashier_id if self.cashier else None,
            approved_by.cashier_id if approved_by else None,
            found.document.model_dump_json(),
        )

    # --- what is kept of dropped sales ------------------------------------------------------

    def _record_discard(self, found: SavedOpenSale, approved_by: Cashier | None) -> None:
        record = {
            "discarded_at": self.clock().isoformat(),
            "terminal_id": self.config.terminal_id,
            "by": self.cashier.cashier_id if self.cashier else None,
            "approved_by": approved_by.cashier_id if approved_by else None,
            "last_changed_at": found.updated_at.isoformat(),
            "sale": json.loads(found.document.model_dump_json()),
        }
        try:
            _append_private(self.config.data_dir / DISCARDED_LOG, json.dumps(record) + "\n")
        except OSError:
            log.exception("could not record the discarded sale in %s", DISCARDED_LOG)

    def _set_aside(self, found: UnreadableOpenSale) -> OpenSaleSetAside:
        stamp = self.clock().strftime("%Y%m%dT%H%M%S")
        path: Path | None = self.config.data_dir / f"open-sale-unreadable-{stamp}.json"
        assert path is not None
        try:
            _append_private(path, found.raw)
        except OSError:
            log.exception("could not set the unreadable open sale aside")
            path = None
        log.error(
            "the sale left open could not be read (%s); last changed %s; kept in %s: %s",
            found.reason,
            found.updated_at,
            path,
            found.raw,
        )
        with self.database.write() as db:
            clear_open_sale(db)
        return OpenSaleSetAside(found.reason, path)


def _append_private(path: Path, text: str) -> None:
    """Append ``text`` to a file only the till's user can read (it names members)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
