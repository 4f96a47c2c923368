"""The till's Textual app: screens, the scanner plumbing, printing and the status bar.

Thin on purpose: each screen owns its flow; the app owns what outlives a screen — the
keyboard-wedge interceptor, serial scanners, print workers and the status refresh.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Literal

from textual import events, work
from textual.app import App
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from hardware.scanners.wedge import WedgeDetector
from terminal.sync.worker import SyncWorker
from terminal.till.printing import PrintOutcome, PrintQueue
from terminal.till.service import Till
from terminal.ui.keyboard_wedge import KeyboardWedge
from terminal.ui.keymap import APP_KEYS, bindings
from terminal.ui.pins import check_supervisor_pin
from terminal.ui.scans import ScanReceiver
from terminal.ui.screens.confirm import ConfirmScreen
from terminal.ui.screens.help import HelpScreen
from terminal.ui.screens.lock import LockScreen
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.print_queue import PrintQueueScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.self_check import SelfCheckScreen
from terminal.ui.screens.sign_in import SignInScreen
from terminal.ui.serial_scanners import ScannerBank
from terminal.ui.status import TillStatus, collect_status
from terminal.ui.widgets.message_line import MessageLine
from terminal.ui.widgets.status_bar import StatusBar

__all__ = ["TillApp"]

MessageKind = Literal["info", "warn", "error", "ok"]

_PRINT = "print"
_STATUS = "status"
_CASHIER = "cashier"


class TillApp(App[None]):
    CSS_PATH = "till.tcss"
    TITLE = "LoyalTill"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = bindings(APP_KEYS)
    # Small POS screens (80x24): till.tcss's ".-narrow" and ".-short" rules keep Qty, Price,
    # Amount and F12 Pay in view, and the dialogs within the screen.
    # (Textual declares it without ClassVar, so mypy wants the override plain.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    def __init__(
        self,
        till: Till,
        print_queue: PrintQueue,
        scanner_urls: tuple[str, ...] = (),
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wedge: WedgeDetector | None = None,
        status_interval_s: float = 2.0,
        sync_worker: SyncWorker | None = None,
        about: tuple[str, ...] = (),
    ) -> None:
        """``monotonic`` times the key events for the wedge detector (tests pass a clock
        that decides whether keys look typed or scanned). ``about``: lines the Help screen
        (F1) shows first — the demo's sign-in numbers, cards and HQ addresses."""
        super().__init__()
        self.till = till
        self.print_queue = print_queue
        self.about = about
        self.sync_worker = sync_worker
        self.status: TillStatus | None = None
        self.wedge = KeyboardWedge(
            wedge or WedgeDetector(),
            monotonic,
            deliver_key=self._route_key,
            on_scan=self.scan_arrived,
            on_dropped=self.scan_dropped,
        )
        self.scanners = ScannerBank(
            scanner_urls, till.codes, on_scan=self.scan_arrived, on_rejected=self.scan_dropped
        )
        self._status_interval_s = status_interval_s
        self._wedge_timer: Timer | None = None
        # One printer: jobs from several workers must not interleave on the paper.
        self._printer_lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(SaleScreen(self.till) if self.till.cashier else SignInScreen())
        self.scanners.start(self)
        if self.sync_worker is not None:
            self.sync_worker.start()
        self.set_interval(self._status_interval_s, self.refresh_status)
        self.refresh_status()

    async def on_unmount(self) -> None:
        await self.scanners.stop()
        if self.sync_worker is not None:
            await asyncio.to_thread(self.sync_worker.stop)

    def signed_in(self) -> None:
        self.switch_screen(SaleScreen(self.till))
        self.refresh_status()

    def sign_out(self) -> None:
        self.till.sign_out()
        self.switch_screen(SignInScreen())
        self.refresh_status()

    # --- the keyboard wedge -------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        # Key events arrive here before Textual routes them (priority bindings, then the
        # focused widget). Holding them in the wedge detector first is what keeps a
        # scanner's digits out of whatever field has focus.
        if isinstance(event, events.Key) and not event.is_forwarded:
            await self.wedge.key(event)
            self._arm_wedge_timer()
            return
        await super().on_event(event)

    async def _route_key(self, event: events.Key) -> None:
        """Hand a key to Textual exactly as if it had never been held."""
        await super().on_event(event)

    def _arm_wedge_timer(self) -> None:
        if self._wedge_timer is None and self.wedge.detector.next_deadline() is not None:
            delay = self.wedge.detector.max_gap_s + 0.005
            self._wedge_timer = self.set_timer(delay, self._poll_wedge)

    async def _poll_wedge(self) -> None:
        self._wedge_timer = None
        await self.wedge.poll()
        self._arm_wedge_timer()

    async def settle_keys(self) -> None:
        """Deliver held keys now (for tests: no waiting for the timer)."""
        await self.wedge.flush()

    # --- scans from every scanner ------------------------------------------------------------

    def scan_arrived(self, data: str) -> None:
        """A complete scan (wedge or serial): the screen on top decides what it means."""
        if not self.screen_stack:
            return  # closing
        screen = self.screen
        if isinstance(screen, ScanReceiver):
            screen.handle_scan(data)
        else:
            self.tell("Scan not used here — go back (Esc) to the sale, then scan", "warn")
        self.refresh_status()

    def scan_dropped(self, reason: str) -> None:
        self.tell(f"Scan not read: {reason}", "warn")
        self.refresh_status()

    def tell(self, text: str, kind: MessageKind = "info") -> None:
        """Show a message on the screen on top, if it has a message line (self-check has
        none: the customer sees nothing of the till's business)."""
        if not self.screen_stack:
            return  # closing: a print or status worker finished after the screens went
        lines = self.screen.query(MessageLine)
        if not lines:
            return
        line = lines.first()
        show = {"info": line.info, "warn": line.warn, "error": line.error, "ok": line.success}
        show[kind](text)

    # --- printing ------------------------------------------------------------------------------

    @work(thread=True, group=_PRINT, exit_on_error=False)
    def print_jobs(self, job_ids: list[int]) -> list[PrintOutcome]:
        """Print these jobs off the UI thread; failures stay queued with their reason."""
        if self.sync_worker is not None:
            self.sync_worker.sync_now()  # a new entry: send it to HQ without waiting
        with self._printer_lock:
            return [self.print_queue.print_job(job_id) for job_id in job_ids]

    @work(thread=True, group=_PRINT, exit_on_error=False)
    def print_all_waiting(self) -> list[PrintOutcome]:
        with self._printer_lock:
            return self.print_queue.print_waiting()

    def _printed(self, outcomes: list[PrintOutcome]) -> None:
        terminal = self.till.config.terminal_id
        failed = [o for o in outcomes if not o.ok]
        if failed:
            first = failed[0]
            self.tell(
                f"Receipt {terminal}-{first.seq} not printed: {first.message} — "
                "it waits in the print queue (F8)",
                "error",
            )
        elif outcomes:
            names = ", ".join(f"{terminal}-{o.seq}" for o in outcomes)
            self.tell(f"Printed {names}", "ok")
        for screen in self.screen_stack:
            if isinstance(screen, PrintQueueScreen):
                screen.reload()
        self.refresh_status()

    # --- the status bar -----------------------------------------------------------------------

    def refresh_status(self) -> None:
        self._collect_status()
        if self.till.cashier is not None:
            self._check_cashier()

    @work(thread=True, group=_CASHIER, exclusive=True, exit_on_error=False)
    def _check_cashier(self) -> str | None:
        """Whether a pull disabled the signed-in cashier (the message to sign out with)."""
        return self.till.signed_in_cashier_disabled()

    async def _signed_out_by_hq(self, notice: str) -> None:
        """HQ disabled the signed-in cashier: back to sign-in, saying why. Not while a dialog
        (a payment, a return …) is open — that is finished first, and the next status refresh
        asks again. The sale's basket is not discarded: it stays saved for whoever signs in."""
        if self.till.cashier is None or any(isinstance(s, ModalScreen) for s in self.screen_stack):
            return
        self.till.sign_out()
        while len(self.screen_stack) > 2:  # the lock or self-check screen over the sale
            await self.pop_screen()
        await self.switch_screen(SignInScreen(notice))
        self.refresh_status()

    @work(thread=True, group=_STATUS, exclusive=True, exit_on_error=False)
    def _collect_status(self) -> TillStatus:
        return collect_status(
            self.till,
            self.print_queue,
            self.wedge.detector.stats.snapshot(),
            self.scanners.statuses(),
        )

    def _show_status(self, status: TillStatus) -> None:
        before = self.status
        self.status = status
        # Say it once, in words, when sync turns into a refusal or an alarm: the status bar
        # keeps showing it, but a cashier watching the basket may not look up.
        if status.sync_error and (before is None or before.sync_state != status.sync_state):
            if status.alarm:
                self.tell(f"Sync stopped — {status.sync_error}", "error")
            elif status.refused:
                self.tell(status.sync_error, "warn")
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.show(status)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.SUCCESS:
            result = worker.result
            if worker.group == _STATUS and isinstance(result, TillStatus):
                self._show_status(result)
            elif worker.group == _PRINT and isinstance(result, list):
                self._printed(result)
            elif worker.group == _CASHIER and isinstance(result, str):
                self.call_later(self._signed_out_by_hq, result)
        elif event.state is WorkerState.ERROR and worker.group == _PRINT:
            self.tell(f"Printing failed: {worker.error} — the receipt waits (F8)", "error")

    # --- keys that work everywhere ----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The customer-facing and locked screens offer no cashier functions.
        return not (action == "help" and isinstance(self.screen, SelfCheckScreen | LockScreen))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.about))

    def open_sale_words(self) -> str | None:
        """The sale open on the sale screen, in a few words (None: none)."""
        for screen in self.screen_stack:
            if isinstance(screen, SaleScreen):
                return screen.open_sale_words()
        return None

    def action_request_quit(self) -> None:
        if isinstance(self.screen, ConfirmScreen):
            return
        open_sale = self.open_sale_words()
        kept = "The till keeps it and offers it back when the till program starts again."
        if not self.till.config.kiosk:
            if open_sale is None:
                self.exit()
                return

            def confirmed(ok: bool | None) -> None:
                if ok:
                    self.exit()

            self.push_screen(
                ConfirmScreen("A sale is open", f"{open_sale}. Quit anyway? {kept}", "Quit anyway"),
                confirmed,
            )
            return
        if isinstance(self.screen, PinScreen):
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self.exit()

        title = "Close the till program? A supervisor's number and PIN"
        if open_sale is not None:
            title = f"A sale is open ({open_sale}). {kept} {title}"
        self.push_screen(
            PinScreen(
                title,
                lambda number, pin: check_supervisor_pin(self.till, number, pin),
                ask_number=True,
            ),
            answered,
        )

    def action_help_quit(self) -> None:
        """Ctrl+C: a kiosk till is not closed by a reflex; say how it is closed."""
        self.tell("Ctrl+C does not close the till — a supervisor can, with Ctrl+Q", "warn")
