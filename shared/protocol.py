"""The sync protocol between a till and the sync server (docs/protocol.md).

Request and response bodies as pydantic models: the server validates with them (FastAPI)
and the till's client builds and reads them, so both sides agree by construction.
Journal entries travel as their stored records (plain dicts, hash included): the server
checks each record's hash over the record *as received* (shared.journal.entry_hash).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_PUSH_BATCH",
    "CardState",
    "CashierState",
    "ErrorBody",
    "ErrorDetail",
    "ExceptionKind",
    "ExpiringPoints",
    "LiveGiftCardResponse",
    "LiveMemberResponse",
    "LiveVoucherResponse",
    "MemberState",
    "OfferState",
    "OriginalSaleResponse",
    "ProductState",
    "PullResponse",
    "PushRequest",
    "PushResponse",
    "QualifyingState",
    "RaisedException",
    "StoreInfo",
    "StoredValueState",
    "SyncStatus",
    "TerminalClaim",
    "TerminalClaimed",
    "VoucherState",
]

MAX_PUSH_BATCH = 500
"""Entries per push; a till with more unsent entries pushes several batches in order."""

ExceptionKind = Literal[
    "offline_overdraft",
    "card_blocked",
    "card_enrolled_twice",
    "rules_mismatch",
    "chain_conflict",
    "unknown_card",
    "unknown_original",
    "entry_refused",
    "journal_behind",
    "tier_mismatch",
    "return_mismatch",
    "voucher_reused",
    "voucher_invalid",
    "giftcard_overdraft",
    "giftcard_blocked",
    "giftcard_activated_twice",
    "store_credit_unbacked",
    "reward_mismatch",
    "reward_oversold",
    "campaign_voucher_mismatch",
]
"""``entry_refused``: a record HQ could not store or post (a 422 ``refused`` to the till, kept
as evidence). ``journal_behind``: a till reported a journal tip behind, or a hash different
from, what HQ already acknowledged (a truncated journal or a restore of an older copy).
``tier_mismatch``: a sale earned with, or claimed an upgrade to, a tier HQ's figures do not
support (amount: the points it makes a difference). ``return_mismatch``: the points a return
moved differ from what HQ computes from the original sale (amount: till minus HQ).
``voucher_reused``: a voucher HQ had already seen used was taken off another sale (amount:
that sale's discount, minor units; the detail names both receipts). ``voucher_invalid``: a
voucher HQ never issued, voided, expired on the sale's day, bound to another member, or
below its minimum spend (amount: the discount). ``giftcard_overdraft``: a gift card or store
credit paid more than its balance, offline at two tills (amount: the money short).
``giftcard_blocked``: a blocked or unknown gift card was used (amount: what it paid).
``giftcard_activated_twice``: a card HQ already had activated was sold again (amount: the load).
``store_credit_unbacked``: store credit paid or refunded on an entry without a member, which no
account backs (legacy tills; amount: the money, held on ``suspense:store_credit``).
``reward_mismatch``: a reward bought at a till whose price or discount differs from what HQ
computes from the rules version it names, or which that version does not have or the member
could not buy (amount: the discount difference in minor units, or the points). ``reward_oversold``:
a reward issued beyond its stock, by tills offline at the same time (amount: the points).
``campaign_voucher_mismatch``: a campaign voucher a till printed with a sale that the rules
version it names does not give (no such campaign or voucher, or the sale did not qualify);
issued anyway when HQ knows its terms (amount: its value, minor units; accept only)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PushRequest(_Model):
    """A contiguous run of one till's journal records, oldest first."""

    terminal_id: Annotated[str, Field(min_length=1, max_length=16)]
    entries: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_PUSH_BATCH)]


class RaisedException(_Model):
    """An exception reconciliation raised for HQ (the entry is posted regardless)."""

    kind: ExceptionKind
    terminal_id: str
    seq: int
    member_id: str | None = None
    amount: int
    """Points (or minor units for money kinds) the exception is about."""
    detail: str


class PushResponse(_Model):
    acked_seq: int
    """Every entry up to this seq is stored and reconciled, exactly once."""
    acked_hash: str | None = None
    """The hash of entry ``acked_seq`` as HQ stored it (a server that predates it omits it)."""
    stored: int
    """Entries newly stored by this push."""
    duplicates: int
    """Entries already stored with the same hash (a resend): acknowledged, ignored."""
    exceptions: list[RaisedException] = []


class ErrorDetail(_Model):
    code: str
    """Machine-readable: gap, chain_conflict, malformed, unauthorized, forbidden, …"""
    message: str
    acked_seq: int | None = None
    """With ``gap``, ``chain_conflict`` and ``refused``: HQ holds this till's entries up to
    here (resend from ``acked_seq + 1``)."""
    seq: int | None = None
    """With ``refused``: the entry HQ refused (it stays on the till, unsent)."""


class SyncStatus(_Model):
    """What HQ holds of one till's journal: ``GET /api/v1/sync/status``. The till compares it
    with its own journal before every push (docs/design.md, invariant 10)."""

    terminal_id: str
    acked_seq: int
    """The last seq HQ stored and reconciled (0 before the first push)."""
    acked_hash: str
    """That entry's hash (the genesis hash, 64 zeros, when ``acked_seq`` is 0)."""


class ErrorBody(_Model):
    """The one error shape of every API response that is not a success."""

    error: ErrorDetail


class CardState(_Model):
    card_number: str
    status: Literal["active", "blocked"]
    blocked_reason: str | None = None


class ExpiringPoints(_Model):
    """Points of the member that expire after ``expires_on`` (their last usable day)."""

    expires_on: str
    """ISO date."""
    points: int


class QualifyingState(_Model):
    """The member's qualifying figures for tiers in the window that counts on ``as_of``
    (docs/rules.md, "Tiers"): the till adds its own unsent sales to decide an upgrade."""

    as_of: str
    """ISO date (HQ's day when it sent them)."""
    window_start: str
    """ISO date: the first day that counts."""
    points: int = 0
    spend_minor: int = 0
    visits: int = 0


class MemberState(_Model):
    member_id: str
    local_member_id: str | None = None
    """Set for a member enrolled offline at a till: that till maps its local record."""
    name: str
    phone: str | None = None
    email: str | None = None
    tier: str | None = None
    balance: int
    marketing_consent: bool = False
    cards: list[CardState] = []
    tier_since: str | None = None
    """ISO date the member reached (or last kept) ``tier``."""
    tier_review_on: str | None = None
    """ISO date of the member's next tier review (None: nothing to review)."""
    tier_grace: bool = False
    """The member holds ``tier`` on grace until ``tier_review_on``."""
    qualifying: QualifyingState | None = None
    expiring: list[ExpiringPoints] = []
    """The member's points by the day they expire, soonest first (at most 12 days)."""
    store_credit_minor: int = 0
    """The member's store credit (money, minor units), like a gift card's balance."""


class VoucherState(_Model):
    """A voucher as tills know it (docs/vouchers.md): enough to accept it offline."""

    code: str
    value_minor: int
    """A fixed amount off; for a percentage voucher the cap (0: none)."""
    percent_bp: int | None = None
    """A percentage of the basket in basis points (1000 = 10 %)."""
    min_spend_minor: int = 0
    expires_on: str | None = None
    """The last day it can be used (ISO), in the store's calendar."""
    member_id: str | None = None
    """Only this member may use it."""
    status: Literal["issued", "redeemed", "expired", "voided"]
    source: str | None = None
    """Who issued it: "hq", "reward:<reward id>", "campaign:<campaign id>" (None: an HQ that
    does not say). A till that knows the reward prices the voucher as the reward does."""
    categories: list[str] | None = None
    """It takes its share only of the lines in these product categories (None: the basket)."""


class StoredValueState(_Model):
    """A gift card or credit slip as tills know it (docs/giftcards.md)."""

    card_number: str
    balance_minor: int
    """HQ's balance, this till's entries up to ``applied_through_seq`` included."""
    status: Literal["active", "blocked"]
    blocked_reason: str | None = None


class ProductState(_Model):
    sku: str
    description: str
    category: str
    price_minor: int
    tax_rate_bp: int
    open_price: bool = False


class OfferState(_Model):
    offer_id: str
    title: str
    description: str
    tier: str | None = None
    valid_until: str | None = None


class CashierState(_Model):
    """One of the till's store's cashiers as HQ manages them (``syncserver cashier …``). The
    PIN travels only as its salted hash, in the scheme both sides use (shared.pins):
    the till checks PINs offline and never learns them."""

    cashier_id: str
    name: str
    role: Literal["cashier", "supervisor"]
    pin_scheme: str
    """How ``pin_hash`` was derived, e.g. ``scrypt:16384:8:1`` (n, r, p)."""
    pin_salt: str
    """Hex."""
    pin_hash: str
    """Hex."""
    disabled: bool = False
    """A disabled cashier cannot sign in; one signed in is signed out on this pull."""


class StoreInfo(_Model):
    """What a till prints and computes with about its store."""

    store_id: str
    name: str
    address: list[str] = []
    """Receipt header lines, top to bottom."""
    timezone: str = "UTC"
    country: str | None = None
    """ISO 3166 alpha-2: the default region for phone numbers entered without +."""
    tax_id: str | None = None


class TerminalClaim(_Model):
    """``POST /api/v1/terminals/claim``: a till trades HQ's one-time set-up code for its
    identity and token (``till setup``)."""

    code: Annotated[str, Field(min_length=1, max_length=64)]


class TerminalClaimed(_Model):
    terminal_id: str
    name: str
    token: str
    """The till's bearer token, shown only in this answer."""
    store: StoreInfo


class PullResponse(_Model):
    cursor: str
    """Pass as ``since`` on the next pull."""
    more: bool
    """True when further changes are waiting: pull again at once with the new cursor."""
    applied_through_seq: int
    """This till's entries up to this seq are included in every balance on this page."""
    members: list[MemberState] = []
    rules: list[dict[str, Any]] = []
    """Program rules versions (ProgramRules JSON) published since the cursor."""
    products: list[ProductState] = []
    offers: list[OfferState] = []
    cashiers: list[CashierState] = []
    """This till's store's cashiers changed since the cursor (all of them on a first pull)."""
    vouchers: list[VoucherState] = []
    """Vouchers issued or changed since the cursor."""
    gift_cards: list[StoredValueState] = []
    """Gift cards and credit slips whose balance or status changed since the cursor."""
    rewards_issued: dict[str, int] = {}
    """Reward id -> how many HQ has seen bought in all, for rewards with a stock limit whose
    count changed since the cursor (tills add their own unsent purchases)."""
    reset: bool = False
    """HQ's history is older than the cursor (HQ restored from a backup): the till forgets
    its cursor, takes this page as the start of a full download, and re-sends its journal
    from HQ's acknowledged seq (docs/protocol.md, "HQ restored from a backup")."""
    total_members: int | None = None
    """On a first download (since=0): how many members to expect, for a progress bar."""


class OriginalSaleResponse(_Model):
    """``GET /api/v1/sync/original``: a sale from any till of the chain, for a return at a till
    that has not seen it, with the returns HQ holds against it (so partial returns reverse
    the right share of points)."""

    entry: dict[str, Any]
    """The sale's journal record as stored (hash included)."""
    returns: list[dict[str, Any]] = []
    """Records of the returns against it that HQ has, in seq order per till."""


class LiveMemberResponse(_Model):
    """One member's reconciled state right now, for a till that is online and wants to go
    beyond its offline redemption cap (docs/design.md, offline redemption)."""

    applied_through_seq: int
    """This till's entries up to this seq are included in ``member.balance``."""
    member: MemberState


class LiveGiftCardResponse(_Model):
    """``GET /api/v1/sync/giftcard/{number}``: one gift card's balance right now, for a till
    that is online and wants to go beyond its offline gift-card cap (docs/giftcards.md)."""

    applied_through_seq: int
    """This till's entries up to this seq are included in ``card.balance_minor``."""
    card: StoredValueState


class LiveVoucherResponse(_Model):
    """``GET /api/v1/sync/voucher/{code}``: a voucher's state right now, for a till that is
    online (and beyond its offline voucher cap)."""

    voucher: VoucherState
