"""The status bar every cashier screen shows: till, cashier, sync, printer, scanners, time."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

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
    whole). ``till status`` shows the sync message whole."""
    who = status.cashier or "signed out"
    sync = (status.sync_text, "bold")
    head: list[str | tuple[str, str]] = [
        (f" Till {status.terminal_id}", "bold"),
        _SEPARATOR,
        who,
        _SEPARATOR,
        sync,
        f" · {status.unsent} unsent",
        _SEPARATOR,
        f"printer: {status.printer_text()}",
    ]
    tail: list[str | tuple[str, str]] = [
        _SEPARATOR,
        f"scanner: {status.scanner_text()}",
        _SEPARATOR,
        status.clock_text,
    ]
    used = len(Content.assemble(*head, *tail).plain)
    room = width - used - len(" ()")
    problem = status.sync_error if status.alarm or status.refused else None
    error = problem or status.print_error
    if error and room >= _MIN_ERROR_WIDTH:
        if len(error) > room:
            error = error[: room - 1] + "…"
        head.append((f" ({error})", "italic"))
    return Content.assemble(*head, *tail)
