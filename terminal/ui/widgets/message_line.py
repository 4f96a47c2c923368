"""One line under the work area that says what just happened, or why not and what next."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from terminal.till.errors import TillError

__all__ = ["MessageLine"]


class MessageLine(Static):
    """Plain text only: member names and scanned data are never read as markup."""

    DEFAULT_CLASSES = "message-line"

    def info(self, text: str) -> None:
        self._show(text, "")

    def success(self, text: str) -> None:
        self._show(text, "-success")

    def warn(self, text: str) -> None:
        self._show(text, "-warning")

    def error(self, text: str) -> None:
        self._show(text, "-error")

    def refuse(self, error: TillError) -> None:
        """A refusal from the core: its message, then the next step (both, always)."""
        text = error.message
        if error.next_step:
            text = f"{text} — {error.next_step}"
        self._show(text, "-error")

    def clear(self) -> None:
        self._show("", "")

    @property
    def text(self) -> str:
        return str(self.content)

    def _show(self, text: str, kind: str) -> None:
        for name in ("-success", "-warning", "-error"):
            self.set_class(name == kind, name)
        self.update(Content(text))
