"""Small builders for journal entries, shared by the journal tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.journal import (
    CardReplacement,
    Enrolment,
    EntryRef,
    JournalEntry,
    MemberRef,
    Payload,
    Sale,
    SaleLine,
    Tender,
    TenderMethod,
    Void,
)

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
CARD = "9826000000000016"


def entry_uuid(n: int) -> str:
    return str(uuid.UUID(int=n))


def sample_sale(n: int) -> Sale:
    price = 100 + n
    return Sale(
        store_id="S001",
        receipt_no=f"T1-{n}",
        currency="EUR",
        lines=(
            SaleLine(
                line_no=1,
                sku="4006381333931",
                description="Café crème 250 g",
                category="COFFEE",
                quantity=2,
                unit_price_minor=price,
                net_minor=2 * price,
                tax_rate_bp=700,
                tax_minor=(2 * price * 7) // 107,
            ),
        ),
        subtotal_minor=2 * price,
        total_minor=2 * price,
        tenders=(Tender(method=TenderMethod.CASH, amount_minor=2 * price + 50),),
        change_minor=50,
        member=MemberRef(card_number=CARD),
    )


def sample_payload(n: int) -> Payload:
    """A payload of a kind that varies with ``n``, so chains mix entry kinds."""
    match n % 4:
        case 0:
            return sample_sale(n)
        case 1:
            return Enrolment(
                store_id="S001",
                local_member_id=entry_uuid(10_000 + n),
                name="Zoë Müller",
                phone="+49 30 1234567",
                marketing_consent=n % 2 == 0,
                consent_text_version="2026-01",
                card_number=CARD,
            )
        case 2:
            return CardReplacement(
                member=MemberRef(card_number=CARD),
                old_card_number=CARD,
                new_card_number="9826000000000024",
                reason="lost",
            )
        case _:
            return Void(
                original=EntryRef(terminal_id="T1", seq=1, entry_id=entry_uuid(1)),
                reason="customer changed mind",
                total_minor=200,
            )


def make_chain(length: int, terminal_id: str = "T1") -> list[JournalEntry]:
    entries: list[JournalEntry] = []
    for n in range(1, length + 1):
        entries.append(
            JournalEntry.create(
                previous=entries[-1] if entries else None,
                terminal_id=terminal_id,
                entry_id=entry_uuid(n),
                occurred_at=T0 + timedelta(minutes=n),
                utc_offset_min=60,
                cashier_id="C07",
                payload=sample_payload(n),
            )
        )
    return entries


def records(entries: list[JournalEntry]) -> list[dict[str, Any]]:
    return [entry.to_record() for entry in entries]
