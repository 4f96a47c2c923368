"""The sale screen's side of a sale left open (terminal/till/resuming.py): offer it back when
the screen opens, resume it, or discard it — with a supervisor once money was taken."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.money import Money
from terminal.store.cashiers import Cashier
from terminal.till.errors import TillError
from terminal.till.resuming import OpenSaleOffer, OpenSaleSetAside
from terminal.ui.pins import check_supervisor_pin
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.resume_sale import ResumeChoice, ResumeSaleScreen

if TYPE_CHECKING:
    from terminal.ui.screens.sale import SaleScreen

__all__ = ["offer_open_sale", "open_sale_words"]


def offer_open_sale(screen: SaleScreen) -> None:
    """A sale left open by a crash, a power cut or a sign-out: offer it back."""
    till = screen.till
    found = till.open_sale_offer()
    if found is None:
        return
    if isinstance(found, OpenSaleSetAside):
        where = f"kept in {found.path}" if found.path else "written to the till's log"
        screen.message.error(
            f"A sale left open could not be read ({found.reason}) — {where} for a "
            "supervisor; carry on selling"
        )
        return
    today = till.clock().astimezone(till.config.zone).replace(tzinfo=None)

    def chosen(choice: ResumeChoice | None) -> None:
        if choice == "discard":
            _discard_asked(screen, found)
        else:
            _resume(screen)

    screen.app.push_screen(ResumeSaleScreen(found, today), chosen)


def open_sale_words(screen: SaleScreen) -> str | None:
    """The sale open on ``screen`` in a few words (None: nothing rung up)."""
    basket = screen.basket
    if basket.empty and not basket.tenders:
        return None

    def money(minor: int) -> str:
        return Money(minor, basket.currency).format()

    lines = len(basket.lines)
    text = f"{lines} line{'' if lines == 1 else 's'}, {money(basket.total_minor)}"
    if basket.tenders:
        text += f", {money(basket.paid_minor)} already taken"
    return text


def _resume(screen: SaleScreen) -> None:
    try:
        resumed = screen.till.resume_sale()
    except TillError as error:
        screen.message.refuse(error)
        return
    screen.basket = resumed.basket
    screen.member = resumed.member
    screen.refresh_sale()
    basket = screen.basket
    currency = basket.currency
    text = (
        f"Sale resumed: {len(basket.lines)} lines, {Money(basket.total_minor, currency).format()}"
    )
    if basket.tenders:
        text += f", {Money(basket.paid_minor, currency).format()} already taken — F12 to finish"
    if resumed.notes:
        screen.message.warn(" · ".join((text, *resumed.notes)))
    else:
        screen.message.success(text)


def _discard_asked(screen: SaleScreen, offer: OpenSaleOffer) -> None:
    """Without tenders the cashier decides; with tenders taken a supervisor does (the money
    may be in the drawer), and backing out of that asks again — nothing is decided by Esc."""
    if not offer.tenders_taken:
        _discard(screen, offer, None)
        return
    approved: list[Cashier] = []

    def verify(number: str, pin: str) -> None:
        approved.append(check_supervisor_pin(screen.till, number, pin))

    def answered(ok: bool | None) -> None:
        if ok and approved:
            _discard(screen, offer, approved[-1])
        else:
            offer_open_sale(screen)

    screen.app.push_screen(
        PinScreen(
            f"{offer.tenders_text()} was taken for this sale. Discard it: "
            "a supervisor's number and PIN",
            verify,
            ask_number=True,
        ),
        answered,
    )


def _discard(screen: SaleScreen, offer: OpenSaleOffer, supervisor: Cashier | None) -> None:
    try:
        screen.till.discard_open_sale(supervisor)
    except TillError as error:
        screen.message.refuse(error)
        return
    taken = f", {offer.tenders_text()} taken" if offer.tenders_taken else ""
    screen.message.warn(
        f"Discarded {offer.summary()}{taken} — recorded in the till's discarded-sales log"
    )
