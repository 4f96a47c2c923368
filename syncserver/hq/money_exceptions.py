"""Exceptions about money (vouchers, gift cards, store credit): what each is about and how
HQ may resolve it (docs/ledger.md, "Resolving exceptions").

A money exception's amount is in minor units of its entry's currency, never points. Which
account it is about is read from the entry's own money postings (the exception row names
only the entry): the voucher's suspense account, ``suspense:store_credit``, or the gift card
or member's store credit the payment took below zero. The dashboard's form, the API's
``applicable`` list and :func:`money_effect` (what the action posts) all use these
functions, so what is offered is what is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from syncserver.errors import ConflictError, MalformedError
from syncserver.ledger.accounts import POINTS, STORE_CREDIT_SUSPENSE
from syncserver.ledger.stored_value import money_text
from syncserver.storage.journal import void_of
from syncserver.storage.schema import exceptions, postings
from syncserver.storage.stored_values import lock_stored_value, stored_value_row
from syncserver.storage.terminals import lock_terminal

__all__ = [
    "MONEY_KINDS",
    "MoneyEffect",
    "MoneyFacts",
    "MoneyOptions",
    "entry_currency",
    "is_money_kind",
    "money_effect",
    "money_facts",
    "money_options",
]

MONEY_KINDS: frozenset[str] = frozenset(
    {
        "voucher_reused",
        "voucher_invalid",
        "giftcard_overdraft",
        "giftcard_blocked",
        "giftcard_activated_twice",
        "store_credit_unbacked",
        "campaign_voucher_mismatch",
    }
)

_VOUCHER_SUSPENSE = "suspense:voucher:"
_GIFTCARD = "giftcard:"
_CREDIT = "credit:"
_NO_SEQ = 2**62
"""Larger than any stored seq (syncserver.sync.push.MAX_SEQ)."""


def is_money_kind(kind: str) -> bool:
    return kind in MONEY_KINDS


@dataclass(frozen=True, slots=True)
class MoneyFacts:
    """What a money exception is about."""

    currency: str | None
    account: str | None
    """The account its money is on: ``suspense:voucher:<code>``, ``suspense:store_credit``,
    ``giftcard:<number>`` or ``credit:<member>``; None when the entry posted none."""
    voucher_code: str | None = None
    gift_card: str | None = None

    def text(self, minor: int) -> str:
        return money_text(minor, self.currency) if self.currency else f"{minor:,} (minor units)"


def _entry_money(conn: Connection, terminal_id: str, seq: int) -> dict[str, str]:
    """account -> unit of the entry's money postings."""
    rows = conn.execute(
        select(postings.c.account, postings.c.unit)
        .where(
            postings.c.terminal_id == terminal_id,
            postings.c.seq == seq,
            postings.c.unit != POINTS,
        )
        .order_by(postings.c.line)
    )
    out: dict[str, str] = {}
    for account, unit in rows:
        out.setdefault(str(account), str(unit))
    return out


def entry_currency(conn: Connection, terminal_id: str | None, seq: int | None) -> str | None:
    """The currency of an entry's money postings (None when it posted none)."""
    if terminal_id is None or seq is None:
        return None
    found = conn.execute(
        select(postings.c.unit)
        .where(
            postings.c.terminal_id == terminal_id,
            postings.c.seq == seq,
            postings.c.unit != POINTS,
        )
        .limit(1)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def _pick(candidates: list[str], named: Any) -> str | None:
    """The one candidate the exception's detail names (``named(account)``), or the only one."""
    matching = [account for account in candidates if named(account)]
    if len(matching) == 1:
        return matching[0]
    return candidates[0] if len(candidates) == 1 else None


def money_facts(
    conn: Connection,
    kind: str,
    terminal_id: str | None,
    seq: int | None,
    member_id: str | None,
    detail: str,
) -> MoneyFacts:
    """The account and currency a money exception (of entry ``terminal_id#seq``) is about."""
    if terminal_id is None or seq is None:
        return MoneyFacts(None, None)
    money = _entry_money(conn, terminal_id, seq)
    account: str | None = None
    if kind in ("voucher_reused", "voucher_invalid"):
        vouchers = [a for a in money if a.startswith(_VOUCHER_SUSPENSE)]
        account = _pick(vouchers, lambda a: f"voucher {a[len(_VOUCHER_SUSPENSE) :]} " in detail)
    elif kind == "campaign_voucher_mismatch":
        account = None  # the voucher was issued as printed: nothing to write off or recover
    elif kind == "store_credit_unbacked":
        account = STORE_CREDIT_SUSPENSE if STORE_CREDIT_SUSPENSE in money else None
    else:
        cards = [a for a in money if a.startswith((_GIFTCARD, _CREDIT))]
        if member_id is not None and f"store credit of {member_id}" in detail:
            own = f"{_CREDIT}{member_id}"
            account = own if own in cards else None
        else:
            gift = [a for a in cards if a.startswith(_GIFTCARD)]
            account = _pick(gift, lambda a: f"…{a[-4:]}" in detail)
    currency = money.get(account) if account else None
    if currency is None and money:
        currency = next(iter(money.values()))
    return MoneyFacts(
        currency=currency,
        account=account,
        voucher_code=account[len(_VOUCHER_SUSPENSE) :]
        if account and account.startswith(_VOUCHER_SUSPENSE)
        else None,
        gift_card=account[len(_GIFTCARD) :] if account and account.startswith(_GIFTCARD) else None,
    )


def _suspense_held(conn: Connection, terminal_id: str, seq: int, account: str) -> int:
    """What entry ``terminal_id#seq`` still holds on a suspense account: its own postings
    there, those of the void of it (a void reverses them), and what resolutions of its
    exceptions have already written off."""
    seqs = [seq]
    voided_by = void_of(conn, terminal_id, seq, _NO_SEQ)
    if voided_by is not None:
        seqs.append(voided_by)
    held = conn.execute(
        select(func.coalesce(func.sum(postings.c.amount), 0)).where(
            postings.c.terminal_id == terminal_id,
            postings.c.seq.in_(seqs),
            postings.c.account == account,
        )
    ).scalar_one()
    resolutions = (
        select(exceptions.c.resolution_event_id)
        .where(
            exceptions.c.terminal_id == terminal_id,
            exceptions.c.seq == seq,
            exceptions.c.resolution_event_id.is_not(None),
        )
        .scalar_subquery()
    )
    cleared = conn.execute(
        select(func.coalesce(func.sum(postings.c.amount), 0)).where(
            postings.c.hq_event_id.in_(resolutions), postings.c.account == account
        )
    ).scalar_one()
    return int(held) + int(cleared)


def _write_off_of(held: int, amount: int) -> int:
    """What a write-off moves onto a suspense account holding ``held`` for an exception of
    ``amount``: the opposite of what it holds, at most the exception's amount."""
    size = min(abs(held), amount)
    return -size if held > 0 else size


def _card_owed(balance: int, amount: int) -> int:
    """What a card (or store credit) at ``balance`` still owes of an exception of ``amount``:
    later top-ups and earlier write-offs have repaid the rest."""
    return max(0, min(amount, -balance))


@dataclass(frozen=True, slots=True)
class MoneyOptions:
    """What HQ may do with one open money exception (accept always applies)."""

    facts: MoneyFacts
    write_off: int | None
    """Minor units a write-off would move onto ``facts.account`` (None: does not apply)."""
    recover: int | None
    """Minor units the card or store credit still owes (None: recover does not apply)."""
    block_gift_card: str | None
    """The gift card block applies to (None: it does not)."""
    balance: int | None
    """The card's or store credit's balance now."""
    why_no_write_off: str | None = None

    @property
    def names(self) -> list[str]:
        out = ["accept"]
        if self.write_off is not None:
            out.append("write_off")
        if self.recover is not None:
            out.append("recover")
        if self.block_gift_card is not None:
            out.append("block_card")
        return out


def money_options(
    conn: Connection,
    kind: str,
    terminal_id: str | None,
    seq: int | None,
    member_id: str | None,
    amount: int,
    detail: str,
    *,
    locked: bool = False,
) -> MoneyOptions:
    """The resolutions that apply to a money exception now. ``locked``: read the card's row
    (or the till's, for a suspense account) under its lock, as the action does."""
    facts = money_facts(conn, kind, terminal_id, seq, member_id, detail)
    account = facts.account
    write_off = recover = balance = None
    block: str | None = None
    why: str | None = None
    if account is None:
        why = "the entry posted no money this exception can be traced to"
    elif account.startswith("suspense:") and terminal_id is not None and seq is not None:
        if locked:
            lock_terminal(conn, terminal_id)  # no void of the entry until COMMIT
        held = _suspense_held(conn, terminal_id, seq, account)
        if held and amount:
            write_off = _write_off_of(held, amount)
        else:
            why = f"nothing is held on {account} for this entry any more (voided or written off)"
    else:
        row = lock_stored_value(conn, account) if locked else stored_value_row(conn, account)
        if row is not None:
            balance = row.balance_minor
            owed = _card_owed(balance, amount)
            if kind in ("giftcard_overdraft", "giftcard_blocked") and owed:
                write_off = recover = owed
            elif kind in ("giftcard_overdraft", "giftcard_blocked"):
                why = f"{account} is not below zero ({facts.text(balance)}): nothing is owed"
            else:
                why = "the money was put on the card: nothing is short"
            if facts.gift_card is not None and not row.blocked:
                block = facts.gift_card
    return MoneyOptions(facts, write_off, recover, block, balance, why)


@dataclass(frozen=True, slots=True)
class MoneyEffect:
    """What a money resolution carries in its HQ event."""

    currency: str | None
    account: str | None = None
    amount: int = 0
    """Minor units onto ``account``, against program:money_written_off (write off)."""
    gift_card: str | None = None
    """The gift card it blocks."""


_POINTS_ONLY = {
    "adjust": "adjust moves points",
}


def money_effect(
    conn: Connection, row: Any, resolution: str, card_number: str | None
) -> MoneyEffect:
    """What resolving money exception ``row`` with ``resolution`` posts, checked under the
    locks of what it moves; 422 with what to do instead when it does not apply."""
    options = money_options(
        conn,
        row.kind,
        row.terminal_id,
        None if row.seq is None else int(row.seq),
        row.member_id,
        int(row.amount),
        row.detail,
        locked=True,
    )
    facts = options.facts
    amount = facts.text(int(row.amount))
    instead = ", ".join(name.replace("_", " ") for name in options.names)
    if resolution in _POINTS_ONLY:
        raise MalformedError(
            f"{_POINTS_ONLY[resolution]}, and exception {row.id} is about money ({amount}), "
            f"not points: use {instead}"
        )
    if resolution == "accept":
        return MoneyEffect(facts.currency)
    if resolution == "write_off":
        if options.write_off is None:
            raise MalformedError(
                f"write off does not apply: {options.why_no_write_off}; use {instead}"
            )
        return MoneyEffect(facts.currency, facts.account, options.write_off)
    if resolution == "recover":
        if options.recover is None:
            raise MalformedError(
                "recover applies to a gift card or store credit still below zero "
                f"({options.why_no_write_off or 'not this exception'}); use {instead}"
            )
        return MoneyEffect(facts.currency)
    if resolution == "block_card":
        if facts.gift_card is None:
            raise MalformedError(
                f"exception {row.id} names no gift card to block ({row.kind}); use {instead}"
            )
        if options.block_gift_card is None:
            raise ConflictError(
                f"gift card {facts.gift_card} is already blocked: accept the exception instead"
            )
        if card_number is not None and card_number != facts.gift_card:
            raise MalformedError(
                f"card {card_number} is not the gift card of this exception "
                f"({facts.gift_card}): leave card_number out or give that one"
            )
        return MoneyEffect(facts.currency, gift_card=facts.gift_card)
    raise MalformedError(f"choose a resolution: {instead}")
