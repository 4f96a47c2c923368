"""What a till can journal, HQ can store (docs/design.md, invariant 9) — as a property.

Hypothesis builds journal entries the till's own models accept, reaching for their edges:
texts of the longest length in any script (letters that grow when lower-cased, emoji,
right-to-left, combining marks), amounts and points at their bounds, timestamps at the ends
of the window with the extreme UTC offsets, unknown cards and originals. Each is pushed
through a real uvicorn, on SQLite and on PostgreSQL, and must be stored (200): never a 5xx,
never a refusal. Whatever it raises is an exception for HQ, not an error for the till.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, example, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.bounds import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_CARD_NUMBER,
    MAX_EMAIL,
    MAX_ID,
    MAX_MINOR,
    MAX_PHONE,
    MAX_POINTS,
    MAX_QUANTITY,
    MAX_TEXT,
)
from shared.journal import (
    CardIssue,
    CardReplacement,
    Enrolment,
    EntryRef,
    JournalEntry,
    MemberRef,
    Payload,
    PointsRedeemed,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    ShiftClose,
    Tender,
    TenderMethod,
    Void,
)
from shared.rules import EarnResult
from shared.rules.earn import LineEarning, OrderBonus
from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from tests.server.helpers import api, prepare, push
from tests.server.journal import card

# Any printable character of any script: what the models let through (no controls, no
# surrogates). Lower-casing "İ" doubles it, which once overflowed a search column.
_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))


def text(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(_CHARS, min_size=min_size, max_size=max_size),
        st.sampled_from(["İ", "ß", "ﬃ", "👩‍👩‍👧", "ال", "é"]).map(
            lambda c: (c * max_size)[:max_size]
        ),
    )


def edge_int(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([low, high]), st.integers(low, high))


moments = st.one_of(
    st.sampled_from([EARLIEST_TIMESTAMP, LATEST_TIMESTAMP - timedelta(microseconds=1)]),
    st.datetimes(
        min_value=EARLIEST_TIMESTAMP.replace(tzinfo=None),
        max_value=(LATEST_TIMESTAMP - timedelta(microseconds=1)).replace(tzinfo=None),
    ).map(lambda moment: moment.replace(tzinfo=UTC)),
)
offsets = edge_int(-14 * 60, 14 * 60)
cards = st.one_of(st.just(card(1)), text(MAX_CARD_NUMBER))
members = st.builds(
    MemberRef,
    card_number=cards,
    member_id=st.one_of(st.none(), st.just("M0000000001"), text(40)),
    local_member_id=st.one_of(st.none(), st.uuids().map(str)),
)
refs = st.builds(
    EntryRef,
    terminal_id=text(16),
    seq=edge_int(1, 2**62),
    entry_id=st.uuids().map(str),
)


@st.composite
def sales(draw: st.DrawFn) -> Sale:
    count = draw(st.integers(1, 4))
    lines = []
    for line_no in range(1, count + 1):
        quantity = draw(edge_int(1, MAX_QUANTITY))
        price = draw(edge_int(0, MAX_MINOR // quantity))
        lines.append(
            SaleLine(
                line_no=line_no,
                sku=draw(text(MAX_TEXT)),
                description=draw(text(MAX_TEXT)),
                category=draw(text(MAX_TEXT)),
                quantity=quantity,
                unit_price_minor=price,
                net_minor=quantity * price,
                tax_rate_bp=draw(edge_int(0, 10_000)),
            )
        )
    subtotal = sum(line.net_minor for line in lines)
    assume(subtotal <= MAX_MINOR)
    member = draw(st.one_of(st.none(), members))
    earned = redeemed = None
    discount = 0
    if member is not None:
        points = [draw(edge_int(0, MAX_POINTS // (count + 1))) for _ in lines]
        bonus = draw(edge_int(0, MAX_POINTS // (count + 1)))
        earned = EarnResult(
            program_id=draw(text(MAX_ID)),
            rules_version=draw(st.sampled_from([1, 2**31 - 1])),
            total_points=sum(points) + bonus,
            lines=tuple(
                LineEarning(
                    line_no=line.line_no,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    net_minor=line.net_minor,
                    eligible_minor=line.net_minor,
                    base="1",
                    product_multiplier="1",
                    campaign_id=None,
                    campaign_multiplier="1",
                    tier_multiplier="1",
                    unit_bonus=0,
                    points=p,
                    excluded_reason=None,
                )
                for line, p in zip(lines, points, strict=True)
            ),
            order_items=(OrderBonus(kind="per_order", label="Visit", points=bonus),)
            if bonus
            else (),
            notes=(draw(text(300, min_size=0)),),
        )
        if subtotal and draw(st.booleans()):
            discount = draw(edge_int(1, subtotal))
            redeemed = PointsRedeemed(
                points=draw(edge_int(1, MAX_POINTS)),
                discount_minor=discount,
                rules_version=1,
            )
    total = subtotal - discount
    tenders = (
        (Tender(method=TenderMethod.CARD, amount_minor=total, reference=draw(text(MAX_ID))),)
        if total
        else ()
    )
    return Sale(
        store_id=draw(text(MAX_ID)),
        receipt_no=draw(text(MAX_TEXT)),
        currency="EUR",
        lines=tuple(lines),
        subtotal_minor=subtotal,
        total_minor=total,
        tenders=tenders,
        member=member,
        earned=earned,
        redeemed=redeemed,
    )


@st.composite
def returns(draw: st.DrawFn) -> Return:
    refund = draw(edge_int(0, MAX_MINOR))
    member = draw(st.one_of(st.none(), members))
    return Return(
        store_id=draw(text(MAX_ID)),
        receipt_no=draw(text(MAX_TEXT)),
        currency="EUR",
        original=draw(refs),
        lines=(
            ReturnLine(
                original_line_no=1, quantity=draw(edge_int(1, MAX_QUANTITY)), refund_minor=refund
            ),
        ),
        refund_minor=refund,
        tenders=(Tender(method=TenderMethod.CASH, amount_minor=refund),) if refund else (),
        member=member,
        points_reversed=draw(edge_int(0, MAX_POINTS)) if member else 0,
        points_restored=draw(edge_int(0, MAX_POINTS)) if member else 0,
        reason=draw(st.one_of(st.none(), text(MAX_TEXT))),
    )


@st.composite
def enrolments(draw: st.DrawFn) -> Enrolment:
    return Enrolment(
        store_id=draw(text(MAX_ID)),
        local_member_id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        name=draw(text(MAX_TEXT)),
        phone=draw(text(MAX_PHONE)),
        email=draw(st.one_of(st.none(), text(MAX_EMAIL, min_size=3))),
        marketing_consent=draw(st.booleans()),
        consent_text_version=draw(text(MAX_ID)),
        card_number=draw(cards),
    )


@st.composite
def shift_closes(draw: st.DrawFn) -> ShiftClose:
    counts = edge_int(0, MAX_POINTS)
    amounts = st.dictionaries(st.sampled_from(list(TenderMethod)), edge_int(0, MAX_MINOR))
    return ShiftClose(
        store_id=draw(text(MAX_ID)),
        shift_id=str(uuid.uuid4()),
        opened_at=draw(moments),
        currency="EUR",
        first_seq=1,
        last_seq=draw(edge_int(0, 2**62)),
        sales_count=draw(counts),
        sales_by_tender=draw(amounts),
        refunds_count=draw(counts),
        refunds_by_tender=draw(amounts),
        voids_count=draw(counts),
        points_issued=draw(counts),
        points_redeemed=draw(counts),
        points_reversed=draw(counts),
        enrolments=draw(counts),
        cash_expected_minor=draw(edge_int(-MAX_MINOR, MAX_MINOR)),
        cash_counted_minor=draw(st.one_of(st.none(), edge_int(-MAX_MINOR, MAX_MINOR))),
    )


def _valid(strategy: st.SearchStrategy[Payload]) -> st.SearchStrategy[Payload]:
    """Only what the models accept (an invariant a draw broke is not a till's entry)."""

    @st.composite
    def built(draw: st.DrawFn) -> Payload:
        try:
            return draw(strategy)
        except ValidationError:
            reject()
            raise AssertionError("unreachable") from None

    return built()


payloads: st.SearchStrategy[Payload] = st.one_of(
    _valid(sales()),
    _valid(returns()),
    _valid(enrolments()),
    _valid(shift_closes()),
    st.builds(Void, original=refs, reason=text(MAX_TEXT), total_minor=edge_int(0, MAX_MINOR)),
    st.builds(CardIssue, member=members, card_number=cards),
    _valid(
        st.builds(
            CardReplacement,
            member=members,
            old_card_number=cards,
            new_card_number=cards,
            reason=st.sampled_from(["lost", "stolen", "damaged"]),
        )
    ),
)


def test_every_entry_a_till_can_journal_is_stored_by_hq(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    chain: dict[str, JournalEntry | None] = {"last": None}
    stored = 0

    with api(database) as client:

        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(payload=payloads, moment=moments, offset=offsets, cashier=text(MAX_ID))
        @example(
            payload=Enrolment(
                store_id="S" * MAX_ID,
                local_member_id=str(uuid.UUID(int=1)),
                name="İ" * MAX_TEXT,
                phone="+" + "9" * (MAX_PHONE - 1),
                email="a" * (MAX_EMAIL - 4) + "@b.c",
                marketing_consent=True,
                consent_text_version="v" * MAX_ID,
                card_number="9" * MAX_CARD_NUMBER,
            ),
            moment=LATEST_TIMESTAMP - timedelta(microseconds=1),
            offset=14 * 60,
            cashier="C" * MAX_ID,
        )
        def stored_as_sent(payload: Payload, moment: datetime, offset: int, cashier: str) -> None:
            nonlocal stored
            try:
                entry = JournalEntry.create(
                    previous=chain["last"],
                    terminal_id=terminal_id,
                    entry_id=str(uuid.uuid4()),
                    occurred_at=moment,
                    utc_offset_min=offset,
                    cashier_id=cashier,
                    payload=payload,
                )
            except (ValidationError, ValueError):
                assume(False)  # the till refuses it at entry time: not this test's business
                return
            reply = push(client, token, terminal_id, [entry.to_record()])
            assert reply.status_code == 200, reply.text
            body: dict[str, Any] = reply.json()
            assert (body["acked_seq"], body["stored"]) == (entry.seq, 1)
            chain["last"] = entry
            stored += 1

        stored_as_sent()
    assert stored > 0
    assert rebuild_check(database).ok
