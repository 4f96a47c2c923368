"""HQ's voucher actions (docs/vouchers.md): issue in bulk, void one. Each is one HQ event in
one transaction with its audit row; the web pages, the API and ``syncserver vouchers`` call
these. Errors are the API's own (``syncserver.errors``), with plain messages."""

from __future__ import annotations

import random
from datetime import date, datetime

from sqlalchemy import Connection, select

from shared.bounds import MAX_MINOR
from shared.codes import generate_voucher_code
from shared.journal import format_utc
from syncserver.errors import ConflictError, MalformedError, NotFoundError
from syncserver.hq._events import Planned, run_event
from syncserver.ledger.context import LedgerContext
from syncserver.ledger.hq_events import VoucherIssue, VoucherVoid
from syncserver.storage.audit import Actor
from syncserver.storage.database import Database
from syncserver.storage.members import member_exists
from syncserver.storage.schema import vouchers
from syncserver.storage.vouchers import ISSUED, voucher_row

__all__ = ["MAX_ISSUE", "canonical_code", "issue_vouchers", "void_voucher"]

MAX_ISSUE = 10_000
"""Vouchers one action issues at most (the CLI issues more in batches of this)."""


def canonical_code(text: str) -> str:
    """A code as typed ("v-abcd efgh-ijkl") in the canonical form V-XXXX-XXXX-XXXX."""
    symbols = "".join(ch for ch in text.upper() if ch.isalnum())
    symbols = symbols[1:] if symbols.startswith("V") and len(symbols) == 13 else symbols
    return "V-" + "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not 3 <= len(text) <= 500:
        raise MalformedError("a reason is required (3 to 500 characters): say why")
    return text


def _new_codes(conn: Connection, count: int) -> list[str]:
    """``count`` fresh codes from the system's secure generator (not guessable), none that HQ
    holds already. They go into the HQ event, so a replay reproduces them."""
    rng = random.SystemRandom()  # os.urandom: codes nobody can predict
    codes: dict[str, None] = {}
    for _round in range(10):
        while len(codes) < count:
            codes[generate_voucher_code(rng)] = None
        wanted = list(codes)
        taken: set[str] = set()
        for start in range(0, len(wanted), 500):
            taken.update(
                conn.execute(
                    select(vouchers.c.code).where(vouchers.c.code.in_(wanted[start : start + 500]))
                ).scalars()
            )
        if not taken:
            return wanted
        for code in taken:
            del codes[code]
    raise ConflictError("could not find unused voucher codes; try again")


def issue_vouchers(
    database: Database,
    *,
    count: int,
    value_minor: int,
    percent_bp: int | None = None,
    min_spend_minor: int = 0,
    expires_on: date | None = None,
    member_id: str | None = None,
    actor: Actor,
) -> list[str]:
    """Issue ``count`` single-use vouchers worth ``value_minor`` off (a percentage voucher:
    ``percent_bp``, capped by ``value_minor`` unless 0) in the program's currency; returns
    their codes."""
    if not 1 <= count <= MAX_ISSUE:
        raise MalformedError(f"issue from 1 to {MAX_ISSUE:,} vouchers at a time")
    if not 0 <= value_minor <= MAX_MINOR or not 0 <= min_spend_minor <= MAX_MINOR:
        raise MalformedError("amounts must be between 0 and 100,000,000.00")
    if percent_bp is None and value_minor == 0:
        raise MalformedError("a voucher needs a value (or a percentage): enter the amount off")
    if percent_bp is not None and not 1 <= percent_bp <= 10_000:
        raise MalformedError("a percentage must be between 0.01 % and 100 %")
    member = member_id.strip() if member_id else None

    def build(conn: Connection, ctx: LedgerContext, now: datetime) -> Planned[list[str]]:
        rules = ctx.latest_rules()
        if rules is None:
            raise ConflictError("publish the program rules first: vouchers are in its currency")
        if expires_on is not None and expires_on < now.date():
            raise MalformedError(f"the expiry date {expires_on.isoformat()} is in the past")
        if member is not None and not member_exists(conn, member):
            raise NotFoundError(f"no member {member}")
        codes = _new_codes(conn, count)
        event = VoucherIssue(
            occurred_at=format_utc(now),
            codes=codes,
            value_minor=value_minor,
            percent_bp=percent_bp,
            min_spend_minor=min_spend_minor,
            currency=rules.currency,
            expires_on=expires_on,
            member_id=member,
        )
        detail = {
            "count": count,
            "value_minor": value_minor,
            "percent_bp": percent_bp,
            "min_spend_minor": min_spend_minor,
            "currency": rules.currency,
            "expires_on": expires_on.isoformat() if expires_on else None,
            "member_id": member,
            "first_code": codes[0],
        }
        return event, detail, codes

    return run_event(database, actor, build, ("voucher.issue", "voucher", f"{count} vouchers"))


def void_voucher(database: Database, code: str, reason: str, actor: Actor) -> None:
    """Void an unused voucher: tills refuse it after their next pull; a use that reaches HQ
    later is ``voucher_invalid``."""
    why = _reason(reason)
    wanted = canonical_code(code)

    def build(conn: Connection, ctx: LedgerContext, now: datetime) -> Planned[None]:
        row = voucher_row(conn, wanted)
        if row is None:
            raise NotFoundError(f"no voucher {wanted}: check the code")
        if row.status != ISSUED:
            raise ConflictError(f"voucher {wanted} is {row.status}: only an unused one is voided")
        event = VoucherVoid(occurred_at=format_utc(now), code=wanted, reason=why)
        return event, {"code": wanted, "reason": why}, None

    run_event(database, actor, build, ("voucher.void", "voucher", wanted))
