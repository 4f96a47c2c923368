"""Receipts waiting to print (with why), retries, and reprints of any past receipt.

Printing itself runs in the app's worker thread (a dead printer never blocks the till);
this screen only asks for it and redraws when the app reports back.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Footer, Input, Label

from shared.codes import ReceiptRef
from terminal.till.errors import TillError
from terminal.till.printing import PrintQueue
from terminal.ui.context import till_app
from terminal.ui.entry import EntryRefusedError, parse_receipt
from terminal.ui.keymap import PRINT_QUEUE_KEYS, bindings
from terminal.ui.screens.dialog import Dialog
from terminal.ui.widgets.message_line import MessageLine

__all__ = ["PrintQueueScreen"]


class PrintQueueScreen(Dialog[None]):
    BINDINGS = bindings(PRINT_QUEUE_KEYS)
    DEFAULT_CLASSES = "dialog-screen"
    AUTO_FOCUS = "#jobs"

    def __init__(self, print_queue: PrintQueue) -> None:
        super().__init__()
        self.print_queue = print_queue
        self.include_printed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Print queue", classes="dialog-title")
            yield DataTable[Text](id="jobs", cursor_type="row", zebra_stripes=True)
            yield Label("Reprint a receipt: scan it or key its number, then Enter")
            yield Input(id="reprint", placeholder="e.g. T1-12")
            yield MessageLine(id="print-message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Job", width=5)
        table.add_column("Receipt", width=10)
        table.add_column("Status", width=16)
        table.add_column(Text("Tries", justify="right"), width=5)
        table.add_column("Why it did not print", width=50)
        self.reload()

    @property
    def message(self) -> MessageLine:
        return self.query_one(MessageLine)

    @property
    def terminal_id(self) -> str:
        return self.print_queue.till.config.terminal_id

    def reload(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        jobs = self.print_queue.jobs(include_printed=self.include_printed)
        for job in jobs:
            status = job.status + (" (reprint)" if job.reprint else "")
            table.add_row(
                Text(str(job.id)),
                Text(f"{self.terminal_id}-{job.seq}"),
                Text(status, style="bold" if job.status == "failed" else ""),
                Text(str(job.attempts), justify="right"),
                Text(job.last_error or "", overflow="ellipsis", no_wrap=True),
                key=str(job.id),
            )
        if jobs:
            table.move_cursor(row=min(row, len(jobs) - 1))
        elif not self.message.text:
            self.message.info("Nothing is waiting to print")

    def action_retry(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            self.message.warn("Nothing is waiting to print")
            return
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        if key is not None:
            self.message.info("Printing…")
            till_app(self).print_jobs([int(key)])

    def action_retry_all(self) -> None:
        self.message.info("Printing every waiting receipt…")
        till_app(self).print_all_waiting()

    def action_show_all(self) -> None:
        self.include_printed = not self.include_printed
        self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.reprint(event.value)

    def handle_scan(self, data: str) -> None:
        self.reprint(data)

    def reprint(self, text: str) -> None:
        till = self.print_queue.till
        try:
            code = till.classify(text)
            if isinstance(code, ReceiptRef):
                if code.terminal != self.terminal_id:
                    raise EntryRefusedError(f"That receipt is from till {code.terminal}")
                seq = code.seq
            else:
                seq = parse_receipt(text, self.terminal_id)
            job = till.reprint(seq)
        except TillError as error:
            self.message.refuse(error)
            return
        self.query_one("#reprint", Input).clear()
        self.message.info(f"Reprinting {self.terminal_id}-{seq}…")
        self.reload()
        till_app(self).print_jobs([job])

    def action_cancel(self) -> None:
        self.dismiss(None)
