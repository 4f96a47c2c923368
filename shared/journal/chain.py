"""The hash chain over a till's journal, and the verifier that names the first broken link.

Each entry stores ``prev_hash`` (the previous entry's ``hash``, or :data:`GENESIS_HASH` for
seq 1) and ``hash = SHA-256(prev_hash ‖ canonical_json(entry without "hash"))``, where
``prev_hash`` is taken as its 64 ASCII hex characters (docs/design.md, invariant 2).

The verifier reads stored records as plain mappings — exactly what sits in SQLite or arrived
over the wire — so an edit to any field, known to the models or not, is caught.

What a chain without a secret cannot show by itself: an attacker who rewrites an entry *and
every entry after it*, or who drops the newest entries, leaves a consistent chain. The sync
server holds the hashes it acknowledged, so those are caught there (a 409 on push).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.journal.canonical import CanonicalJSONError, canonical_json

__all__ = [
    "GENESIS_HASH",
    "BreakKind",
    "ChainBreak",
    "ChainReport",
    "entry_hash",
    "entry_hash_and_body",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of every till's first entry (seq 1)."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def entry_hash(record: Mapping[str, Any]) -> str:
    """The hash ``record`` must carry: SHA-256 over prev_hash and the rest of the entry."""
    return entry_hash_and_body(record)[0]


def entry_hash_and_body(record: Mapping[str, Any]) -> tuple[str, bytes]:
    """:func:`entry_hash`, and the canonical JSON of the record without ``hash`` it covers
    (for a caller that also wants to store the record as text)."""
    body = {key: value for key, value in record.items() if key != "hash"}
    prev_hash = body.get("prev_hash")
    if not isinstance(prev_hash, str) or not _HEX64.match(prev_hash):
        raise CanonicalJSONError("prev_hash must be 64 lowercase hex characters")
    text = canonical_json(body)
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(text)
    return digest.hexdigest(), text


class BreakKind(StrEnum):
    EDITED = "edited"
    """An entry's content no longer matches its hash, or it was re-hashed after an edit."""
    MISSING = "missing"
    """One or more sequence numbers are absent."""
    INSERTED = "inserted"
    """An entry that is not part of the chain (a forgery, a copy, another till's entry)."""
    REORDERED = "reordered"
    """Genuine entries stored out of sequence order."""
    MALFORMED = "malformed"
    """A record that is not a journal entry at all (missing or mistyped chain fields)."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    kind: BreakKind
    seq: int | None
    position: int
    """0-based index of the offending record in the order it was read."""
    entry_id: str | None
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else f"record #{self.position + 1}"
        return f"{self.kind.value} at {where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    """Records accepted before the first break (all of them when the chain is whole)."""
    last_seq: int
    last_hash: str
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


@dataclass(frozen=True, slots=True)
class _Link:
    seq: int
    hash: str
    prev_hash: str
    entry_id: str | None
    terminal_id: Any
    position: int


def _as_link(record: object, position: int) -> _Link | str:
    """Read the chain fields, or say why the record is not a journal entry. Anything may
    arrive here — a list, a string, a number where an object belongs — and is named, never
    raised on: a verifier that crashes on the damage it exists to find is no verifier."""
    if not isinstance(record, Mapping):
        return f"the record is not a JSON object (got {_json_type(record)})"
    seq = record.get("seq")
    if type(seq) is not int or seq < 1:
        return f"seq must be a positive integer, got {seq!r}"
    for name in ("hash", "prev_hash"):
        value = record.get(name)
        if not isinstance(value, str) or not _HEX64.match(value):
            return f"{name} must be 64 lowercase hex characters"
    entry_id = record.get("entry_id")
    return _Link(
        seq=seq,
        hash=record["hash"],
        prev_hash=record["prev_hash"],
        entry_id=entry_id if isinstance(entry_id, str) else None,
        terminal_id=record.get("terminal_id"),
        position=position,
    )


def _json_type(value: object) -> str:
    names = {list: "an array", tuple: "an array", str: "a string", bool: "a boolean"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _claimed_seq(record: object) -> int | None:
    """The seq a malformed record claims, when it claims a usable one (to name it)."""
    if isinstance(record, Mapping):
        seq = record.get("seq")
        if type(seq) is int and seq >= 1:
            return seq
    return None


class _Lookahead:
    """An iterator over links that can peek a bounded distance ahead."""

    def __init__(self, records: Iterable[object], limit: int) -> None:
        self._source: Iterator[tuple[int, object]] = enumerate(records)
        self._buffer: deque[tuple[int, object]] = deque()
        self._limit = limit

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> tuple[int, object]:
        if self._buffer:
            return self._buffer.popleft()
        return next(self._source)

    def ahead(self) -> Iterator[_Link]:
        """Well-formed links after the current record, at most ``limit`` of them."""
        for index in range(self._limit):
            if index == len(self._buffer):
                try:
                    self._buffer.append(next(self._source))
                except StopIteration:
                    return
            position, record = self._buffer[index]
            link = _as_link(record, position)
            if isinstance(link, _Link):
                yield link


def _why_unhashable(error: ValueError | RecursionError) -> str:
    if isinstance(error, CanonicalJSONError):
        return str(error)
    if isinstance(error, UnicodeError):
        return "it holds text that is not valid Unicode (a lone surrogate)"
    if isinstance(error, RecursionError):
        return "it is nested too deeply to be a journal entry"
    return f"it cannot be written as canonical JSON: {error}"


def verify_chain(
    records: Iterable[object],
    *,
    start_seq: int = 1,
    start_hash: str = GENESIS_HASH,
    lookahead: int = 1000,
) -> ChainReport:
    """Re-check every record's hash and link, in the order given; stop at the first break.

    Records are what was stored or received, as parsed JSON; one that is not an object, or
    lacks a well-formed ``seq``/``hash``/``prev_hash``, is a ``malformed`` break (naming the
    seq it claims, if any), never an exception.

    ``start_seq``/``start_hash`` let a caller resume after a verified prefix (the sync server
    checks a pushed batch against the last entry it acknowledged). ``lookahead`` bounds how far
    the verifier reads ahead to tell a reordering or an insertion from a gap.
    """
    stream = _Lookahead(records, lookahead)
    expected_seq = start_seq
    prev_hash = start_hash
    accepted: deque[_Link] = deque(maxlen=2)
    terminal_id: Any = None
    checked = 0

    def report(
        kind: BreakKind,
        link: _Link | None,
        position: int,
        detail: str,
        seq: int | None = None,
    ) -> ChainReport:
        return ChainReport(
            checked=checked,
            last_seq=expected_seq - 1,
            last_hash=prev_hash,
            first_break=ChainBreak(
                kind=kind,
                seq=link.seq if link else seq,
                position=position,
                entry_id=link.entry_id if link else None,
                detail=detail,
            ),
        )

    for position, record in stream:
        link = _as_link(record, position)
        if isinstance(link, str) or not isinstance(record, Mapping):
            detail = link if isinstance(link, str) else "the record is not a JSON object"
            return report(BreakKind.MALFORMED, None, position, detail, _claimed_seq(record))
        try:
            recomputed = entry_hash(record)
        except (ValueError, RecursionError) as error:
            # CanonicalJSONError (a float, a non-string key), UnicodeEncodeError (a lone
            # surrogate), or nesting too deep to walk: not an entry this chain can hold.
            return report(BreakKind.MALFORMED, link, position, _why_unhashable(error))
        if recomputed != link.hash:
            return report(
                BreakKind.EDITED, link, position, "its content no longer matches its hash"
            )
        if checked and link.terminal_id != terminal_id:
            return report(
                BreakKind.INSERTED,
                link,
                position,
                f"it belongs to terminal {link.terminal_id!r}, not {terminal_id!r}",
            )

        if link.seq == expected_seq:
            if link.prev_hash == prev_hash:
                accepted.append(link)
                terminal_id = link.terminal_id
                expected_seq += 1
                prev_hash = link.hash
                checked += 1
                continue
            following = next(stream.ahead(), None)
            if following and following.seq == link.seq and following.prev_hash == prev_hash:
                return report(
                    BreakKind.INSERTED,
                    link,
                    position,
                    f"it claims seq {link.seq} but does not link to seq {link.seq - 1}; "
                    f"the genuine seq {link.seq} follows it",
                )
            before = accepted[-1] if accepted else None
            return report(
                BreakKind.EDITED,
                before,
                before.position if before else position,
                f"seq {link.seq - 1} was changed and re-hashed: seq {link.seq} still links "
                "to its original hash",
            )

        if link.seq > expected_seq:
            window = list(stream.ahead())
            if any(other.seq == expected_seq for other in window):
                hashes_before = {other.hash for other in window if other.seq == link.seq - 1}
                if link.prev_hash in hashes_before:
                    return report(
                        BreakKind.REORDERED,
                        link,
                        position,
                        f"seq {link.seq} is stored before seq {expected_seq}",
                    )
                return report(
                    BreakKind.INSERTED,
                    link,
                    position,
                    f"it claims seq {link.seq} and links to no entry of this chain",
                )
            missing = (
                f"seq {expected_seq} is"
                if link.seq == expected_seq + 1
                else f"seqs {expected_seq}..{link.seq - 1} are"
            )
            return report(BreakKind.MISSING, link, position, f"{missing} missing before it")

        # link.seq < expected_seq: a seq that was already accepted appears again.
        if any(link.hash == earlier.hash for earlier in accepted):
            return report(BreakKind.INSERTED, link, position, f"a copy of seq {link.seq}")
        if not accepted:
            return report(
                BreakKind.INSERTED,
                link,
                position,
                f"seq {link.seq} comes before the first expected seq {start_seq}",
            )
        last = accepted[-1]
        hash_before_last = accepted[0].hash if len(accepted) == 2 else start_hash
        if last.seq == link.seq and link.prev_hash == hash_before_last:
            intruder = last
            following = next(stream.ahead(), None)
            if following and following.prev_hash == intruder.hash:
                intruder, link = link, intruder
            return report(
                BreakKind.INSERTED,
                intruder,
                intruder.position,
                f"two entries claim seq {link.seq}; entry {intruder.entry_id} is the extra one",
            )
        # Genuine reorderings were caught where the later seq first appeared, so a seq that
        # was already accepted can only be a second, extra entry claiming it.
        return report(
            BreakKind.INSERTED,
            link,
            position,
            f"seq {link.seq} was already accepted; this is a second entry claiming it",
        )

    return ChainReport(
        checked=checked, last_seq=expected_seq - 1, last_hash=prev_hash, first_break=None
    )
