"""The journal entry envelope: numbering, time, cashier, chain link and the payload."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    model_validator,
)

from shared.bounds import MAX_ENTRY_BYTES
from shared.journal.canonical import canonical_json
from shared.journal.chain import GENESIS_HASH, entry_hash, entry_hash_and_body
from shared.journal.payloads import Payload
from shared.journal.types import Hash, Identifier, Seq, TerminalId, UtcTimestamp, Uuid

__all__ = [
    "ENTRY_FORMAT",
    "HASH_VERIFIED",
    "EntryTooLargeError",
    "JournalEntry",
    "TamperedEntryError",
    "check_entry_size",
]

ENTRY_FORMAT: Literal[1] = 1
"""Bumped only for a change old readers cannot ignore; new optional fields do not bump it."""

HASH_VERIFIED = "hash_verified"
"""Validation context key: the hash the caller itself computed over the record (see
:meth:`JournalEntry.check_hash`)."""


class TamperedEntryError(ValueError):
    """A stored or received entry whose hash does not match its content."""


class EntryTooLargeError(ValueError):
    """An entry whose canonical JSON is beyond :data:`shared.bounds.MAX_ENTRY_BYTES`."""


def check_entry_size(size: int) -> None:
    """Refuse an entry of ``size`` canonical bytes that HQ would not accept."""
    if size > MAX_ENTRY_BYTES:
        raise EntryTooLargeError(
            f"this entry would be {size:,} bytes; at most {MAX_ENTRY_BYTES:,} are allowed "
            "(split the sale)"
        )


class JournalEntry(BaseModel):
    """One line of a till's append-only journal (docs/design.md, invariant 2).

    ``seq`` numbers a till's entries 1, 2, 3 … without gaps; ``entry_id`` is a UUID that
    stays the entry's name everywhere; ``hash`` chains it to ``prev_hash``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal[1] = ENTRY_FORMAT
    terminal_id: TerminalId
    seq: Seq
    entry_id: Uuid
    occurred_at: UtcTimestamp
    utc_offset_min: Annotated[int, Field(ge=-14 * 60, le=14 * 60, strict=True)]
    """The store's UTC offset at that moment: local wall-clock time (which campaigns use) is
    ``occurred_at + utc_offset_min``, so the server recomputes points exactly as the till."""
    cashier_id: Identifier | None
    prev_hash: Hash
    payload: Payload
    hash: Hash

    @property
    def local_time(self) -> datetime:
        """The store's wall-clock time, naive, exactly as the till saw it: ``occurred_at``
        plus the offset it journaled (what campaigns, receipts and voucher days go by)."""
        return (self.occurred_at + timedelta(minutes=self.utc_offset_min)).replace(tzinfo=None)

    @model_validator(mode="wrap")
    @classmethod
    def check_hash(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        """Refuse a record whose hash does not match its content, as received.

        The hash is checked over the raw record (not a re-serialisation), so entries written
        by an older till with fewer optional fields still verify. A caller that has just
        computed it over this very record passes it as ``context={HASH_VERIFIED: hash}``
        and it is not computed a second time.
        """
        verified = info.context.get(HASH_VERIFIED) if isinstance(info.context, dict) else None
        if isinstance(data, Mapping) and "hash" in data and data["hash"] != verified:
            expected = entry_hash(data)
            if data["hash"] != expected:
                raise TamperedEntryError(
                    f"entry seq {data.get('seq')!r}: hash does not match its content"
                )
        return handler(data)

    @classmethod
    def create(
        cls,
        *,
        previous: JournalEntry | None,
        terminal_id: str,
        entry_id: str,
        occurred_at: datetime,
        utc_offset_min: int,
        cashier_id: Identifier | None,
        payload: Payload,
    ) -> JournalEntry:
        """The next entry after ``previous`` (``None`` for a till's first entry), sealed."""
        if previous is not None and previous.terminal_id != terminal_id:
            raise ValueError("an entry can only follow an entry of the same till")
        tip = (previous.seq, previous.hash) if previous else (0, GENESIS_HASH)
        return cls.after(
            tip,
            terminal_id=terminal_id,
            entry_id=entry_id,
            occurred_at=occurred_at,
            utc_offset_min=utc_offset_min,
            cashier_id=cashier_id,
            payload=payload,
        )

    @classmethod
    def after(cls, tip: tuple[int, str], **fields: Any) -> JournalEntry:
        """The entry that follows a chain whose newest entry is ``tip`` = (seq, hash);
        ``(0, GENESIS_HASH)`` for an empty journal. ``fields`` are the entry's own."""
        seq, prev_hash = tip
        return cls.seal(seq=seq + 1, prev_hash=prev_hash, **fields)

    @classmethod
    def seal(cls, **fields: Any) -> JournalEntry:
        """Build an entry from its fields and compute its hash."""
        draft = cls.model_construct(hash="", **fields)
        record = draft.model_dump(mode="json", exclude={"hash"})
        record["hash"], body = entry_hash_and_body(record)
        check_entry_size(len(body))
        return cls.model_validate(record)

    def to_record(self) -> dict[str, Any]:
        """The plain JSON-ready dict that is stored and sent (hash included)."""
        return self.model_dump(mode="json")

    def to_canonical_json(self) -> bytes:
        return canonical_json(self.to_record())

    @property
    def kind(self) -> str:
        return self.payload.kind
