"""Sign in with a cashier id and a PIN (masked).

A till's cashiers come from HQ (``syncserver cashier add``, received on the next sync). A
till with none yet says so, and how to add one, instead of answering every attempt with
"PIN is wrong"; it looks again every few seconds, so the notice goes once a sync brings one.
An unknown id and a wrong PIN get the same message.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from terminal.store.cashiers import enabled_cashier_count
from terminal.till.errors import TillError
from terminal.ui.context import till_app
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.status_bar import StatusBar

__all__ = ["SignInScreen"]

_COUNT = "cashier-count"


class SignInScreen(Screen[None]):
    AUTO_FOCUS = "#cashier"
    RECHECK_S = 5.0
    """How often a till with no cashier looks again (a sync may have brought one)."""

    def __init__(self, notice: str | None = None) -> None:
        """``notice``: why we are here, shown first (e.g. "Cashier 7 was disabled at HQ and
        has been signed out")."""
        super().__init__()
        self._notice = notice
        self.cashiers: int | None = None
        """Cashiers who could sign in here, as last counted (None: not counted yet)."""
        self._recheck: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(classes="dialog sign-in"):
            yield Label(self._title(), classes="dialog-title")
            yield Label("Cashier number")
            yield Input(id="cashier", restrict=r"[A-Za-z0-9]*", max_length=16)
            yield Label("PIN")
            yield Input(id="pin", password=True, restrict=r"[0-9]*", max_length=8)
            line = MessageLine(id="message")
            if self._notice:  # there from the first frame, before anything else can run
                line.warn(self._notice)
            yield line
            yield Static(id="no-cashiers", classes="dialog-hint")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#no-cashiers", Static).display = False
        self._count_cashiers()

    def _title(self) -> str:
        config = till_app(self).till.config
        return f"{config.store_name} · till {config.terminal_id} · sign in"

    # --- a till with nobody to sign in --------------------------------------------------------

    @work(thread=True, group=_COUNT, exclusive=True, exit_on_error=False)
    def _count_cashiers(self) -> int:
        with till_app(self).till.database.read() as db:
            return enabled_cashier_count(db)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == _COUNT and event.state is WorkerState.SUCCESS:
            self._counted(int(worker.result or 0))

    def _counted(self, count: int) -> None:
        before, self.cashiers = self.cashiers, count
        self.query_one("#no-cashiers", Static).display = count == 0
        if count == 0:
            self.query_one("#no-cashiers", Static).update(Content(self._how_to_add()))
            if self._recheck is None:
                self._recheck = self.set_interval(self.RECHECK_S, self._count_cashiers)
            return
        if self._recheck is not None:
            self._recheck.stop()
            self._recheck = None
        if before == 0:
            self.query_one(MessageLine).success("Cashiers arrived from HQ: sign in")

    def _how_to_add(self) -> str:
        config = till_app(self).till.config
        steps = (
            "No cashier can sign in on this till yet. At HQ, add one for store "
            f"{config.store_id} (Cashiers page, or):\n"
            f"  syncserver cashier add --store {config.store_id} --id … --name … --pin …\n"
        )
        if config.server_url:
            return steps + "This till picks them up on its next sync; then sign in here."
        return steps + (
            "This till is not connected to HQ: set it up with `till setup --server URL "
            "--code CODE`, then it picks them up on its next sync."
        )

    # --- signing in ---------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "cashier":
            self.query_one("#pin", Input).focus()
            return
        self.sign_in()

    def sign_in(self) -> None:
        app = till_app(self)
        cashier = self.query_one("#cashier", Input)
        pin = self.query_one("#pin", Input)
        try:
            app.till.sign_in(cashier.value, pin.value)
        except TillError as error:
            if self.cashiers == 0:
                self.query_one(MessageLine).warn(
                    "Nobody can sign in yet: this till has no cashiers (see below)"
                )
            else:
                self.query_one(MessageLine).refuse(error)
            pin.clear()
            (pin if cashier.value else cashier).focus()
            self._count_cashiers()
            return
        app.signed_in()

    def handle_scan(self, data: str) -> None:
        self.query_one(MessageLine).warn("Sign in first, then scan")
