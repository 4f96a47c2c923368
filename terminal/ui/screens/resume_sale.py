"""A sale was left open (a crash, a power cut, a sign-out): resume it, or discard it."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Footer, Label, Static

from terminal.till.resuming import OpenSaleOffer
from terminal.ui.screens.dialog import Dialog
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["ResumeChoice", "ResumeSaleScreen"]

ResumeChoice = Literal["resume", "discard"]


class ResumeSaleScreen(Dialog[ResumeChoice]):
    """Dismisses with the cashier's choice. There is no "back": the sale on screen is the one
    left open or none at all, and a reflexive Esc must not decide either way."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f12", "resume", "Resume", key_display="F12"),
        Binding("f8", "discard", "Discard", key_display="F8"),
        Binding("escape", "choose", "", show=False),
    ]
    DEFAULT_CLASSES = "dialog-screen"
    AUTO_FOCUS = "#resume"

    def __init__(self, offer: OpenSaleOffer, today: datetime | None = None) -> None:
        """``today``: the store's local time now (an offer from another day names its day)."""
        super().__init__()
        self.offer = offer
        self._today = today

    def compose(self) -> ComposeResult:
        offer = self.offer
        with Vertical(classes="dialog resume-sale"):
            yield Label("A sale was left open", classes="dialog-title")
            yield Static(Content(f"Resume {offer.summary(self._today)}?"), id="resume-summary")
            if offer.tenders_taken:
                yield Static(
                    Content(
                        f"Already taken: {offer.tenders_text()}. The money may be in the "
                        "drawer — resume and complete the sale, or a supervisor counts the "
                        "drawer and discards it."
                    ),
                    id="resume-tenders",
                    classes="resume-warning",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resume (F12)", id="resume", variant="primary")
                label = "Discard… (F8)" if offer.tenders_taken else "Discard (F8)"
                yield Button(label, id="discard", variant="error")
            yield MessageLine(id="resume-message")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def text(self) -> str:
        return "\n".join(str(part.content) for part in self.query(Static) if part.content)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "resume":
            self.action_resume()
        else:
            self.action_discard()

    def action_resume(self) -> None:
        self.dismiss("resume")

    def action_discard(self) -> None:
        self.dismiss("discard")

    def action_choose(self) -> None:
        self.query_one(MessageLine).warn("Resume (F12) or discard (F8) the sale left open")
