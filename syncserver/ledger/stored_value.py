"""Gift cards, credit slips and store credit in the ledger: money, not points
(docs/giftcards.md).

Every movement is a pair of money postings (unit: the entry's currency, minor units) between
the customer's account — ``giftcard:<number>`` or ``credit:<member>``, each with a
``stored_values`` row whose balance moves with its postings under the row's lock — and a
program account. What the till did is posted as it did it (the customer has the goods or the
money); what HQ would not have allowed raises an exception: a blocked or unknown card
(``giftcard_blocked``), a card spent below zero by tills that were offline at the same time
(``giftcard_overdraft``, the money short), a card sold twice (``giftcard_activated_twice``),
store credit on an entry without a member (``store_credit_unbacked``, held on
``suspense:store_credit``).
"""

from __future__ import annotations

from shared.journal import GiftCardLoad, JournalEntry, Return, Sale, Tender, TenderMethod
from shared.journal import format_utc as _utc
from shared.money import Money
from shared.protocol import ExceptionKind
from syncserver.ledger.accounts import (
    GIFTCARD_SALES,
    GIFTCARD_TENDERED,
    STORE_CREDIT_ISSUED,
    STORE_CREDIT_SUSPENSE,
    STORE_CREDIT_TENDERED,
    PostingKind,
    credit_account,
    giftcard_account,
    is_stored_value,
    money_pair,
)
from syncserver.ledger.context import LedgerContext
from syncserver.storage.postings import PostingSource
from syncserver.storage.stored_values import StoredValueRow

__all__ = [
    "lock_money_accounts",
    "money_text",
    "post_giftcard_load",
    "post_refund_money",
    "post_sale_money",
]


def money_text(minor: int, currency: str) -> str:
    """ "€5.00"; the plain number when the currency is not one HQ knows."""
    try:
        return Money(minor, currency).format()
    except (ValueError, TypeError):
        return f"{minor:,} {currency} (minor units)"


def _card(number: str) -> str:
    return f"gift card …{number[-4:]}"


def _receipt(entry: JournalEntry, receipt_no: str) -> str:
    return f"{entry.terminal_id}#{entry.seq} (receipt {receipt_no})"


def _find(ctx: LedgerContext, account: str) -> StoredValueRow | None:
    """The locked row; absence confirmed under the change counter's lock before it counts."""
    row = ctx.stored_value(account)
    if row is None and not ctx.absence_confirmed:
        ctx.confirm_absence()
        row = ctx.stored_value(account)
    return row


def _touch(ctx: LedgerContext, row: StoredValueRow, when: str) -> None:
    if row.last_used_at is None or when > row.last_used_at:
        ctx.set_stored_value(row.account, last_used_at=when)


def lock_money_accounts(ctx: LedgerContext, accounts: list[str]) -> None:
    """Lock the stored-value rows a reversal (a void) will post to."""
    for account in sorted({a for a in accounts if is_stored_value(a)}):
        ctx.stored_value(account)


def post_giftcard_load(
    ctx: LedgerContext, source: PostingSource, entry: JournalEntry, load: GiftCardLoad
) -> None:
    """A card sold (activated) or topped up: the money goes onto the card in any case."""
    when = _utc(entry.occurred_at)
    account = giftcard_account(load.card_number)
    amount, unit = load.amount_minor, load.currency
    row = _find(ctx, account)
    problem: tuple[ExceptionKind, str] | None = None
    if row is None:
        row = ctx.open_stored_value(
            account,
            "giftcard",
            unit,
            card_number=load.card_number,
            activated_at=when if load.activation else None,
        )
        if not load.activation:
            problem = "giftcard_blocked", f"top-up of {_card(load.card_number)}, unknown at HQ"
    elif load.activation and row.activated_at is not None:
        problem = (
            "giftcard_activated_twice",
            f"{_card(load.card_number)} was already activated at {row.activated_at[:16]} UTC",
        )
    elif load.activation:
        # Used before its activation reached HQ (only an offline till of the same chain could
        # have): the activation completes it.
        row = ctx.set_stored_value(account, activated_at=when)
    elif row.activated_at is None:
        problem = "giftcard_blocked", f"top-up of {_card(load.card_number)}, never activated"
    if row.blocked and problem is None:
        problem = (
            "giftcard_blocked",
            f"{'activation' if load.activation else 'top-up'} of {_card(load.card_number)}, "
            f"blocked ({row.blocked_reason or 'no reason given'})",
        )
    ctx.post(
        source, money_pair(account, GIFTCARD_SALES, amount, PostingKind.GIFTCARD_LOAD, unit), when
    )
    _touch(ctx, row, when)
    if problem is not None:
        kind, what = problem
        ctx.raise_exception(
            kind,
            source,
            None,
            amount,
            f"{_receipt(entry, load.receipt_no)}: {what}; {money_text(amount, unit)} put on "
            f"the card anyway (it now holds {money_text(ctx.money_balance(account), unit)})",
        )


def post_sale_money(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    member_id: str | None,
) -> None:
    """Gift-card and store-credit tenders: the sale takes the money off those accounts."""
    for tender in sale.tenders:
        if tender.method is TenderMethod.GIFT_CARD or tender.method is TenderMethod.STORE_CREDIT:
            _spend(ctx, source, entry, sale, tender, member_id)


def _spend(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    sale: Sale,
    tender: Tender,
    member_id: str | None,
) -> None:
    when = _utc(entry.occurred_at)
    amount, unit = tender.amount_minor, sale.currency
    where = _receipt(entry, sale.receipt_no)
    number = tender.gift_card
    if number is None and member_id is None:
        legs = money_pair(
            STORE_CREDIT_TENDERED, STORE_CREDIT_SUSPENSE, amount, PostingKind.TENDER, unit
        )
        ctx.post(source, legs, when)
        ctx.raise_exception(
            "store_credit_unbacked",
            source,
            None,
            amount,
            f"sale {where} was paid {money_text(amount, unit)} in store credit without a member: "
            f"no account backs it; held on {STORE_CREDIT_SUSPENSE}",
        )
        return
    if number is not None:
        account, what, tendered = giftcard_account(number), _card(number), GIFTCARD_TENDERED
        row = _find(ctx, account)
        unknown = row is None
        if row is None:
            row = ctx.open_stored_value(account, "giftcard", unit, card_number=number)
    else:
        assert member_id is not None
        account, what, tendered = (
            credit_account(member_id),
            f"store credit of {member_id}",
            STORE_CREDIT_TENDERED,
        )
        row = ctx.open_stored_value(account, "credit", unit, member_id=member_id)
        unknown = False
    blocked = row.blocked
    before = row.balance_minor
    ctx.post(source, money_pair(tendered, account, amount, PostingKind.TENDER, unit), when)
    _touch(ctx, ctx.stored_value(account) or row, when)
    after = ctx.money_balance(account)
    paid = f"sale {where} paid {money_text(amount, unit)} with {what}"
    if unknown or blocked:
        why = "unknown at HQ" if unknown else f"blocked ({row.blocked_reason or 'no reason given'})"
        ctx.raise_exception(
            "giftcard_blocked",
            source,
            member_id,
            amount,
            f"{paid}, {why}: taken from it anyway, it now stands at {money_text(after, unit)}",
        )
        return
    short = max(0, -after) - max(0, -before)
    if short > 0:
        ctx.raise_exception(
            "giftcard_overdraft",
            source,
            member_id,
            short,
            f"{paid} when HQ held {money_text(before, unit)} on it: "
            f"{money_text(short, unit)} short, it now stands at {money_text(after, unit)}",
        )


def post_refund_money(
    ctx: LedgerContext,
    source: PostingSource,
    entry: JournalEntry,
    ret: Return,
    member_id: str | None,
) -> None:
    """A refund paid into a gift card (a new number: a credit slip) or the member's store
    credit: the money goes onto that account."""
    when = _utc(entry.occurred_at)
    unit = ret.currency
    where = _receipt(entry, ret.receipt_no)
    for tender in ret.tenders:
        amount = tender.amount_minor
        number = tender.gift_card
        if number is not None:
            account = giftcard_account(number)
            row = _find(ctx, account)
            if row is None:  # a credit slip: a new card, active from this refund
                row = ctx.open_stored_value(
                    account, "giftcard", unit, card_number=number, activated_at=when
                )
        elif tender.method is TenderMethod.STORE_CREDIT and member_id is not None:
            account = credit_account(member_id)
            row = ctx.open_stored_value(account, "credit", unit, member_id=member_id)
        elif tender.method is TenderMethod.STORE_CREDIT:
            legs = money_pair(
                STORE_CREDIT_SUSPENSE, STORE_CREDIT_ISSUED, amount, PostingKind.REFUND, unit
            )
            ctx.post(source, legs, when)
            ctx.raise_exception(
                "store_credit_unbacked",
                source,
                None,
                amount,
                f"return {where} refunded {money_text(amount, unit)} to store credit without a "
                f"member: no account holds it; held on {STORE_CREDIT_SUSPENSE}",
            )
            continue
        else:
            continue
        ctx.post(
            source, money_pair(account, STORE_CREDIT_ISSUED, amount, PostingKind.REFUND, unit), when
        )
        _touch(ctx, ctx.stored_value(account) or row, when)
        if row.blocked:
            ctx.raise_exception(
                "giftcard_blocked",
                source,
                member_id,
                amount,
                f"return {where} refunded {money_text(amount, unit)} onto {_card(number or '')}, "
                f"blocked ({row.blocked_reason or 'no reason given'}): it holds it anyway",
            )
