"""The print queue: receipts are printed after their sale is durable, and wait here if the
printer fails. Runs in a worker thread; a dead printer never blocks the till.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from shared.journal import ShiftClose
from shared.receipt import Receipt, TierStanding
from terminal.store.catalog import current_rules
from terminal.store.journal import get_entry
from terminal.till.receipts import with_standing
from terminal.till.service import Till
from terminal.till.standing import standing_from_json, tier_display_name

__all__ = ["PrintJob", "PrintOutcome", "PrintQueue", "ReceiptSink"]

log = logging.getLogger(__name__)


class ReceiptSink(Protocol):
    """What the queue needs of a printer (``hardware.printing.ReceiptPrinter`` is one)."""

    def print_receipt(self, receipt: Receipt) -> None: ...

    def print_lines(self, lines: list[str], *, title: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PrintJob:
    id: int
    seq: int
    reprint: bool
    status: str
    attempts: int
    last_error: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    job_id: int
    seq: int
    ok: bool
    message: str


class PrintQueue:
    def __init__(self, till: Till, printer: Callable[[], ReceiptSink] | None) -> None:
        self.till = till
        self._printer_factory = printer

    def jobs(self, *, include_printed: bool = False, limit: int = 50) -> list[PrintJob]:
        with self.till.database.read() as db:
            rows = db.execute(
                "SELECT id, seq, reprint, status, attempts, last_error, created_at "
                "FROM print_jobs WHERE ? OR status != 'printed' ORDER BY id DESC LIMIT ?",
                [include_printed, limit],
            ).fetchall()
        return [PrintJob(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def waiting(self) -> int:
        with self.till.database.read() as db:
            return int(
                db.execute("SELECT COUNT(*) FROM print_jobs WHERE status != 'printed'").fetchone()[
                    0
                ]
            )

    def print_job(self, job_id: int) -> PrintOutcome:
        """Print one job; on failure record why and leave it queued for a reprint."""
        with self.till.database.read() as db:
            row = db.execute(
                # A reprint says what the first receipt of the sale said of the tier.
                "SELECT seq, reprint, balance_after, tier_after, balance_provisional, "
                "COALESCE(standing, (SELECT o.standing FROM print_jobs o WHERE o.seq = "
                "print_jobs.seq AND o.standing IS NOT NULL ORDER BY o.id LIMIT 1)), "
                "stored_value FROM print_jobs WHERE id = ?",
                [job_id],
            ).fetchone()
            entry = get_entry(db, int(row[0])) if row else None
            rules = current_rules(db)
        if row is None or entry is None:
            return PrintOutcome(job_id, 0, False, f"print job {job_id} does not exist")
        seq = int(row[0])
        try:
            if self._printer_factory is None:
                raise RuntimeError("no receipt printer is configured — set printer_url")
            printer = self._printer_factory()
            if isinstance(entry.payload, ShiftClose):
                printer.print_lines(self.till.z_report(entry), title="Z REPORT")
            else:
                receipt = self.till.receipt_for(
                    entry,
                    balance_after=row[2],
                    tier_after=row[3],
                    reprint=bool(row[1]),
                    provisional=bool(row[4]),
                    stored_value=row[6],
                )
                standing = standing_from_json(row[5])
                if standing is None and row[3]:
                    # Queued before receipts kept a standing: the tier's name, not its code.
                    standing = TierStanding(name=tier_display_name(rules, row[3]))
                if standing is not None:
                    receipt = with_standing(receipt, standing)
                printer.print_receipt(receipt)
        # Any printer failure, ours or the library's, must leave the job queued.
        except Exception as error:
            message = str(error) or type(error).__name__
            log.warning("receipt %s not printed: %s", seq, message)
            with self.till.database.write() as db:
                db.execute(
                    "UPDATE print_jobs SET status = 'failed', attempts = attempts + 1, "
                    "last_error = ? WHERE id = ?",
                    [message, job_id],
                )
            return PrintOutcome(job_id, seq, False, message)
        with self.till.database.write() as db:
            db.execute(
                "UPDATE print_jobs SET status = 'printed', attempts = attempts + 1, "
                "last_error = NULL, printed_at = ? WHERE id = ?",
                [datetime.now(UTC).isoformat(), job_id],
            )
        return PrintOutcome(job_id, seq, True, "printed")

    def print_waiting(self) -> list[PrintOutcome]:
        """Retry every job still waiting, oldest first; stop at the first failure."""
        outcomes = []
        for job in reversed(self.jobs()):
            outcome = self.print_job(job.id)
            outcomes.append(outcome)
            if not outcome.ok:
                break
        return outcomes
