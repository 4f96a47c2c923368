"""The status bar every cashier screen shows: till, cashier, sync, printer, scanners, time."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from hardware.scanners.reader import ScannerState
from terminal.ui.status import TillStatus

__all__ = ["StatusBar"]

_SEPARATOR = (" │ ", "dim")
_DEFAULT_WIDTH = 120
_MIN_ERROR_WIDTH = 8


class StatusBar(Static):
    DEFAULT_CLASSES = "status-bar"

    def __init__(self) -> None:
        super().__init__()
        self._status: TillStatus | None = None

    def on_mount(self) -> None:
        from terminal.ui.context import till_app  # the app module imports this widget

        status = till_app(self).status
        if status is not None:
            self.show(status)

    def on_resize(self) -> None:
        if self._status is not None:
            self.show(self._status)

    def show(self, status: TillStatus) -> None:
        self._status = status
        self.set_class(status.alarm, "-alarm")
        self.set_class(status.refused, "-refused")
        self.set_class(
            not (status.alarm or status.refused)
            and (status.print_waiting > 0 or status.rejected > 0),
            "-attention",
        )
        self.update(render_status(status, self.size.width or _DEFAULT_WIDTH))

    @property
    def text(self) -> str:
        return str(self.content)


def render_status(status: TillStatus, width: int) -> Content:
    """One line; what went wrong gets whatever room is left: HQ's refusal or the journal
    alarm first (it matters more than paper), else the printer's last error (F8 shows it
    whole). ``till status`` shows the sync message whole.

    On a narrow screen (80 columns) the line gets shorter step by step — the scanner in one
    word, no "0 unsent", no scanner when it is fine — before anything is cut: the till, the
    cashier, sync and the printer always show."""
    for compact in range(len(_COMPACT_STEPS)):
        head, tail = _parts(status, compact)
        if len(Content.assemble(*head, *tail).plain) <= width:
            break
    used = len(Content.assemble(*head, *tail).plain)
    room = width - used - len(" ()")
    problem = status.sync_error if status.alarm or status.refused else None
    error = problem or status.print_error
    if error and room >= _MIN_ERROR_WIDTH:
        if len(error) > room:
            error = error[: room - 1] + "…"
        head.append((f" ({error})", "italic"))
    return Content.assemble(*head, *tail)


_COMPACT_STEPS = ("full", "short scanner", "no zero unsent", "no healthy scanner", "tight")

Part = str | tuple[str, str]


def _parts(status: TillStatus, compact: int) -> tuple[list[Part], list[Part]]:
    who = status.cashier or "signed out"
    scanner_ok = status.rejected == 0 and all(
        s.state is ScannerState.CONNECTED for s in status.serial
    )
    if compact >= 4 and len(who) > 14:
        who = who[:13] + "…"
    head: list[Part] = [
        (f" Till {status.terminal_id}", "bold"),
        _SEPARATOR,
        who,
        _SEPARATOR,
        (status.sync_text, "bold"),
    ]
    if compact < 2 or status.unsent:
        head.append(f" · {status.unsent} unsent")
    printer = status.printer_text()
    head += [_SEPARATOR, f"printer {printer}" if compact >= 4 else f"printer: {printer}"]
    tail: list[Part] = []
    if compact == 0:
        tail += [_SEPARATOR, f"scanner: {status.scanner_text()}"]
    elif not (scanner_ok and compact >= 3):
        tail += [_SEPARATOR, "scanner ok" if scanner_ok else f"scanner: {_scanner_problem(status)}"]
    tail += [_SEPARATOR, status.clock_text]
    return head, tail


def _scanner_problem(status: TillStatus) -> str:
    down = [str(s.state) for s in status.serial if s.state is not ScannerState.CONNECTED]
    words = [f"serial {state}" for state in down]
    if status.rejected:
        words.append(f"{status.rejected} rejected")
    return ", ".join(words)
