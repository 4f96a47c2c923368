"""What the status bar shows, gathered in one go off the UI thread (it reads SQLite)."""

from __future__ import annotations

from dataclasses import dataclass

from hardware.scanners.reader import ScannerState, ScannerStatus
from hardware.scanners.stats import StatsSnapshot
from terminal.till.printing import PrintQueue
from terminal.till.service import Till

__all__ = ["TillStatus", "collect_status"]


@dataclass(frozen=True, slots=True)
class TillStatus:
    terminal_id: str
    store_name: str
    cashier: str | None
    online: bool
    sync_text: str
    """"synced 14:10", "last sync 13:50", "not registered at HQ", …"""
    unsent: int
    sync_state: str
    """online, offline, refused, conflict, alarm, not configured."""
    sync_error: str | None
    """What HQ said (or what the till found), for a refusal or an alarm."""
    print_waiting: int
    print_error: str | None
    keyboard: StatsSnapshot
    serial: tuple[ScannerStatus, ...]
    clock_text: str

    @property
    def alarm(self) -> bool:
        """The journal disagrees with HQ (invariant 10) or HQ raised a chain conflict: the
        till keeps selling but must not look merely "offline"."""
        return self.sync_state in ("alarm", "conflict")

    @property
    def refused(self) -> bool:
        """HQ refused an entry (or this till's token): sales stay on the till, HQ knows."""
        return self.sync_state == "refused"

    @property
    def rejected(self) -> int:
        return self.keyboard.rejected + sum(s.rejected for s in self.serial)

    def printer_text(self) -> str:
        if self.print_waiting == 0:
            return "ok"
        return f"{self.print_waiting} waiting"

    def scanner_text(self) -> str:
        names = ["keyboard"]
        for scanner in self.serial:
            state = "ok" if scanner.state is ScannerState.CONNECTED else str(scanner.state)
            names.append(f"serial {state}")
        return f"{', '.join(names)} · {self.rejected} rejected"


def collect_status(
    till: Till,
    print_queue: PrintQueue,
    keyboard: StatsSnapshot,
    serial: list[ScannerStatus],
) -> TillStatus:
    """Read everything the status bar needs (a few indexed SQLite reads)."""
    core = till.status()
    errors = [job.last_error for job in print_queue.jobs() if job.last_error]
    try:
        clock_text = till.clock().astimezone(till.config.zone).strftime("%H:%M")
    except (OverflowError, ValueError):  # a clock at 9999-12-31 has no local time
        clock_text = "clock?"
    sync_text = _sync_text(core, till)
    return TillStatus(
        terminal_id=till.config.terminal_id,
        store_name=till.config.store_name,
        cashier=till.cashier.name if till.cashier else None,
        online=bool(core["online"]),
        sync_text=sync_text,
        unsent=max(0, _count(core["unsent_entries"])),
        sync_state=str(core.get("sync_state") or ""),
        sync_error=_text(core.get("sync_error")),
        print_waiting=print_queue.waiting(),
        print_error=errors[0] if errors else None,
        keyboard=keyboard,
        serial=tuple(serial),
        clock_text=clock_text,
    )


def _sync_text(core: dict[str, object], till: Till) -> str:
    """Short: the status bar has 120 columns for everything."""
    from datetime import datetime

    state = str(core.get("sync_state") or "")
    last = core.get("last_sync")
    when = ""
    if isinstance(last, str):
        when = datetime.fromisoformat(last).astimezone(till.config.zone).strftime("%H:%M")
    if state == "online":
        return f"● online {when}"
    if state == "alarm":
        return "⛔ JOURNAL ALARM: call HQ"
    if state == "conflict":
        return "⛔ HQ chain alarm: call HQ"
    if state == "refused":
        seq = core.get("refused_seq")
        return f"⚠ HQ refused seq {seq}" if isinstance(seq, int) else "⚠ HQ refused"
    if state == "not configured":
        return "○ no HQ"
    return f"○ offline since {when}" if when else "○ offline"


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
