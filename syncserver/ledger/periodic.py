"""The daily runs: tier review and points expiry (docs/ledger.md, "Tiers" and "Points lots
and expiry"; ``syncserver tiers review`` / ``syncserver points expire``, and once a day inside
``syncserver serve``).

Each run is ONE HQ event (``tier_review`` / ``points_expiry`` with the day and the rules
version) applied in ONE write transaction, so the replay of ``ledger rebuild`` meets it at the
same position and reproduces it. The transaction takes the change counter's lock first and
holds it to COMMIT: no other transaction can commit in between, so the run sees the ledger
exactly as the replay will (a push that had a member locked meanwhile is a deadlock PostgreSQL
breaks, and whichever side it stops is re-run from scratch by ``run_write``). Members are read
in pages by an index range (``members.tier_review_on``, ``member_lots.next_expiry``) and
written in bulk, so a million members fit in a nightly window.

Idempotent: a run that would find nobody due records no event ("nothing due"); a run finds
nobody due once a run with the same (or a later) day has been applied.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from shared.journal import format_utc
from syncserver.ledger.context import LedgerContext, LiveMemberIds
from syncserver.ledger.hq_events import (
    PointsExpiry,
    TierReview,
    VoucherExpiry,
    apply_event,
    record_event,
)
from syncserver.ledger.points import any_due, due_count
from syncserver.settings import utc_now
from syncserver.storage.audit import Actor, record_action
from syncserver.storage.database import Database, run_write
from syncserver.storage.schema import hq_events
from syncserver.storage.vouchers import due_voucher_codes

__all__ = [
    "DailyRuns",
    "RunKind",
    "RunResult",
    "last_run_day",
    "local_today",
    "run_points_expiry",
    "run_tier_review",
    "run_voucher_expiry",
]

log = logging.getLogger(__name__)

RunKind = Literal["tier_review", "points_expiry", "voucher_expiry"]

Progress = Callable[[int, int], None]
"""(members done, members due) as a run goes."""


@dataclass
class RunResult:
    kind: RunKind
    as_of: date
    event_id: int | None = None
    """None: nobody was due, no event recorded."""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def nothing_due(self) -> bool:
        return self.event_id is None

    def summary(self) -> str:
        """One line for the operator: "reviewed 1,204 members: 3 down, 1,180 kept, 21 on
        grace" / "expired 5,210 points of 37 members"."""
        day = self.as_of.isoformat()
        if self.nothing_due:
            what = self.kind.replace("_", " ")
            return f"{what} as of {day}: nothing due"
        c = self.counts
        if self.kind == "voucher_expiry":
            count = c.get("vouchers", 0)
            return (
                f"expired {count:,} voucher{'' if count == 1 else 's'} as of {day} "
                f"({c.get('value_minor', 0):,} minor units to breakage)"
            )
        if self.kind == "tier_review":
            parts = [f"{c.get('down', 0):,} down", f"{c.get('kept', 0):,} kept"]
            parts.append(f"{c.get('grace', 0):,} on grace")
            if c.get("up"):
                parts.append(f"{c['up']:,} up")
            reviewed = c.get("reviewed", 0)
            noun = "member" if reviewed == 1 else "members"
            return f"reviewed {reviewed:,} {noun} as of {day}: {', '.join(parts)}"
        members = c.get("members", 0)
        return (
            f"expired {c.get('points', 0):,} points of {members:,} "
            f"member{'' if members == 1 else 's'} as of {day}"
        )


def run_tier_review(
    database: Database,
    as_of: date,
    actor: Actor,
    *,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utc_now,
) -> RunResult:
    """Review every member whose review date is on or before ``as_of``."""
    return _run(database, "tier_review", as_of, actor, progress, now)


def run_points_expiry(
    database: Database,
    as_of: date,
    actor: Actor,
    *,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utc_now,
) -> RunResult:
    """Expire the points whose last usable day is before ``as_of``."""
    return _run(database, "points_expiry", as_of, actor, progress, now)


def run_voucher_expiry(
    database: Database,
    as_of: date,
    actor: Actor,
    *,
    now: Callable[[], datetime] = utc_now,
) -> RunResult:
    """Expire the unused vouchers whose last day is before ``as_of`` (their value goes to
    breakage). One HQ event, none when nothing is due: a second run finds nothing."""

    def work(conn: Connection) -> RunResult:
        moment = now()
        ctx = LedgerContext(conn, moment, member_ids=LiveMemberIds(), live=True)
        ctx.confirm_absence()  # the counter, first and to COMMIT (see the module docstring)
        if not due_voucher_codes(conn, as_of.isoformat()):
            return RunResult("voucher_expiry", as_of)
        event = VoucherExpiry(occurred_at=format_utc(moment), as_of=as_of)
        event_id = record_event(conn, event, actor.username, ctx)
        counts = apply_event(ctx, event_id, event.kind, json.loads(event.model_dump_json()))
        record_action(
            conn,
            actor,
            "vouchers.expire",
            moment,
            target_kind="hq_event",
            target_id=str(event_id),
            detail={"as_of": as_of.isoformat(), **counts},
        )
        ctx.finish(hq_event_ids=[event_id])
        return RunResult("voucher_expiry", as_of, event_id, counts)

    return run_write(database, work)


def _run(
    database: Database,
    kind: RunKind,
    as_of: date,
    actor: Actor,
    progress: Progress | None,
    now: Callable[[], datetime],
) -> RunResult:
    def work(conn: Connection) -> RunResult:
        moment = now()
        ctx = LedgerContext(conn, moment, member_ids=LiveMemberIds(), live=True)
        ctx.confirm_absence()  # the counter, first and to COMMIT (see the module docstring)
        if not any_due(conn, kind, as_of):
            return RunResult(kind, as_of)
        total = due_count(conn, kind, as_of) if progress is not None else 0
        rules = ctx.latest_rules()
        version = rules.version if rules is not None else None
        event = (
            TierReview(occurred_at=format_utc(moment), as_of=as_of, rules_version=version)
            if kind == "tier_review"
            else PointsExpiry(occurred_at=format_utc(moment), as_of=as_of, rules_version=version)
        )
        event_id = record_event(conn, event, actor.username, ctx)
        counts = apply_event(
            ctx,
            event_id,
            kind,
            json.loads(event.model_dump_json()),
            progress=(lambda done: progress(done, total)) if progress is not None else None,
        )
        record_action(
            conn,
            actor,
            "tiers.review" if kind == "tier_review" else "points.expire",
            moment,
            target_kind="hq_event",
            target_id=str(event_id),
            detail={"as_of": as_of.isoformat(), "rules_version": version, **counts},
        )
        ctx.finish(hq_event_ids=[event_id])
        return RunResult(kind, as_of, event_id, counts)

    return run_write(database, work)


def local_today(timezone: str, now: datetime | None = None) -> date:
    """Today in the server's time zone setting (``LOYALTILL_SERVER_TIMEZONE``)."""
    return (now or utc_now()).astimezone(ZoneInfo(timezone)).date()


def last_run_day(database: Database, kind: RunKind) -> date | None:
    """The latest ``as_of`` of the runs of ``kind`` the HQ events record."""
    with database.read() as conn:
        rows = conn.execute(
            select(hq_events.c.record)
            .where(hq_events.c.kind == kind)
            .order_by(hq_events.c.id.desc())
            .limit(1)
        ).all()
    if not rows:
        return None
    return date.fromisoformat(json.loads(rows[0].record)["as_of"])  # every run names its day


class DailyRuns:
    """``serve`` runs both once a day on its own: at start-up when today's run has not
    happened (the HQ events say so), then after each local midnight. A background thread,
    started and stopped with the app's lifespan; a failure is logged and retried in an hour."""

    def __init__(self, database: Database, timezone: str, actor: Actor) -> None:
        self.database = database
        self.timezone = timezone
        self.actor = actor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done: list[RunResult] = []
        """Runs this process made (newest last): what a test or a status page can show."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="daily-runs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_due(self) -> None:
        """Today's runs, unless the HQ events show they already happened."""
        today = local_today(self.timezone)
        runs: tuple[tuple[RunKind, Callable[..., RunResult]], ...] = (
            ("points_expiry", run_points_expiry),
            ("tier_review", run_tier_review),
            ("voucher_expiry", run_voucher_expiry),
        )
        for kind, run in runs:
            last = last_run_day(self.database, kind)
            if last is not None and last >= today:
                continue
            result = run(self.database, today, self.actor)
            log.info("%s", result.summary())
            self.done.append(result)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
                wait = _seconds_to_midnight(self.timezone) + 5
            except Exception:  # a report in the log and a retry, never a dead server
                log.exception("daily tier review / points expiry failed; retrying in an hour")
                wait = 3600
            self._stop.wait(wait)


def _seconds_to_midnight(timezone: str) -> float:
    zone = ZoneInfo(timezone)
    now = utc_now().astimezone(zone)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), zone)
    return max(1.0, (tomorrow - now).total_seconds())
