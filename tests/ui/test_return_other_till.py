"""A return of another till's receipt at a till that cannot ask HQ for it: the cashier keys
the lines from the paper receipt, the money is refunded, no points move, and the screen and
the slip say so (docs/protocol.md, "Returns at any till")."""

from __future__ import annotations

from shared.journal import Return
from terminal.store.journal import get_entry
from terminal.till.receipts import POINTS_NOT_ADJUSTED
from terminal.till.service import Till
from terminal.ui.screens.prompt import PromptScreen
from terminal.ui.screens.returns import ReturnsScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count
from tests.ui.helpers import RecordingPrinter, euro, message, press, type_text


async def test_another_tills_receipt_without_hq_is_keyed_and_refunded_without_points(
    make_app, till: Till, database
) -> None:
    before = journal_count(database)
    printer = RecordingPrinter()
    app = make_app(printer=printer)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f7")
        await type_text(pilot, "T7-3", "enter")
        assert isinstance(app.screen, ReturnsScreen)
        assert "F3 keys a line from the receipt" in message(pilot)
        await press(pilot, "f3")
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "two 1 4.50", "enter")  # refused, the prompt stays open
        assert isinstance(app.screen, PromptScreen)
        await type_text(pilot, "2 1 4.50", "enter")
        assert isinstance(app.screen, ReturnsScreen)
        await press(pilot, "f3")
        await type_text(pilot, "5 2 3,00", "enter")
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        totals = app.screen.query_one(Totals).text
        assert f"Last refund T1-{before + 1} · {euro(750)} by cash · points not adjusted" in totals
        assert len(printer.receipts) == 1
        assert printer.receipts[0].footer_lines[0] == POINTS_NOT_ADJUSTED
    assert journal_count(database) == before + 1
    with database.read() as db:
        entry = get_entry(db, before + 1)
    assert entry is not None
    assert isinstance(entry.payload, Return)
    ret = entry.payload
    assert ret.original_unavailable is True
    assert (ret.original.terminal_id, ret.original.seq) == ("T7", 3)
    assert [(ln.original_line_no, ln.quantity, ln.refund_minor) for ln in ret.lines] == [
        (2, 1, 450),
        (5, 2, 300),
    ]
    assert (ret.member, ret.points_reversed, ret.points_restored) == (None, 0, 0)
