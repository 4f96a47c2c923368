"""Vouchers on the sale screen (issue 13): scanned or keyed, shown as a basket row and in the
totals, refused in the message line with the next step, taken off with Del.

The vouchers come from HQ's pull page, applied by the till's own pull code."""

from __future__ import annotations

from shared.journal import Sale
from shared.protocol import VoucherState
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import TillDatabase
from terminal.store.journal import get_entry
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.basket_table import BasketTable
from terminal.ui.widgets.totals import Totals
from tests.terminal.helpers import journal_count
from tests.terminal.stored_value_helpers import apply_page, voucher_code
from tests.ui.helpers import euro, message, press, scan, type_text

PRICE = 2000
"""Each sale here is one open-price line at 20.00 (DEPT-GROCERY), well above the vouchers."""


def issued(seed: int, value_minor: int = 500, **fields: object) -> VoucherState:
    return VoucherState.model_validate(
        {"code": voucher_code(seed), "value_minor": value_minor, "status": "issued", **fields}
    )


def sale_of(app) -> SaleScreen:
    screen = app.screen
    assert isinstance(screen, SaleScreen)
    return screen


def rows(sale: SaleScreen) -> list[list[str]]:
    table = sale.query_one(BasketTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_scanned_voucher_shows_as_a_row_and_in_the_totals_and_del_takes_it_off(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    voucher = issued(1)
    apply_page(config, database, vouchers=(voucher,))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await scan(pilot, key_clock, voucher.code)
        sale = sale_of(app)
        assert message(pilot) == (
            f"Voucher {voucher.code} −{euro(500)} — Del on its row takes it off"
        )
        assert rows(sale)[-1] == ["", f"Voucher {voucher.code}", "", "", euro(-500)]
        totals = sale.query_one(Totals).text
        assert f"Voucher{' ' * (30 - 7 - len(euro(-500)))}{euro(-500)}" in totals
        assert sale.basket.total_minor == PRICE - 500
        assert euro(PRICE - 500) in totals
        await press(pilot, "f3")  # a voucher has no quantity
        assert message(pilot) == (
            f"Voucher {voucher.code} is selected — ↑ to choose a line, or Del to take it off"
        )
        await press(pilot, "delete")  # its row is selected: the voucher comes off, not a line
        assert message(pilot) == f"Voucher {voucher.code} taken off this sale"
        assert sale.basket.vouchers == []
        assert len(sale.basket.lines) == 1
        assert "Voucher" not in sale.query_one(Totals).text
        assert len(rows(sale)) == 1


async def test_a_keyed_voucher_in_any_case_is_taken_and_the_sale_journals_it(
    make_app, config: TillConfig, database: TillDatabase
) -> None:
    voucher = issued(2, 700)
    apply_page(config, database, vouchers=(voucher,))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        await type_text(pilot, voucher.code.lower(), "enter")
        sale = sale_of(app)
        assert [v.code for v in sale.basket.vouchers] == [voucher.code]
        await press(pilot, "f12")
        await press(pilot, "enter", "enter")  # exact cash, complete
        with database.read() as db:
            entry = get_entry(db, journal_count(database))
        assert entry is not None
        assert isinstance(entry.payload, Sale)
        assert [(v.code, v.discount_minor) for v in entry.payload.vouchers] == [(voucher.code, 700)]
        assert entry.payload.total_minor == PRICE - 700
        assert sale_of(app).basket.empty


async def test_refused_vouchers_say_why_and_what_next_and_leave_the_sale_alone(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    used = issued(3, status="redeemed")
    expired = issued(4, expires_on="2020-01-01")
    big_spend = issued(5, min_spend_minor=5000)
    someone_elses = issued(6, member_id="M0000001")
    apply_page(config, database, vouchers=(used, expired, big_spend, someone_elses))
    never_pulled = voucher_code(99)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, used.code)
        assert message(pilot) == "Scan the goods first — then scan the voucher"
        await type_text(pilot, "DEPT-GROCERY 20.00", "enter")
        expected = {
            never_pulled: (
                f"Voucher {never_pulled} is not known to this till, and this till is offline "
                "— sync with HQ, or take another form of payment"
            ),
            used.code: f"Voucher {used.code} was already used — take another form of payment",
            expired.code: (
                f"Voucher {expired.code} has expired (valid until 2020-01-01) — take another "
                "form of payment"
            ),
            big_spend.code: (
                f"Voucher {big_spend.code} needs a spend of at least {euro(5000)} (this sale: "
                f"{euro(PRICE)}) — add to the sale, or keep the voucher for another time"
            ),
            someone_elses.code: (
                f"Voucher {someone_elses.code} belongs to a member — scan their card first, "
                "then the voucher"
            ),
        }
        for code, said in expected.items():
            await scan(pilot, key_clock, code)
            assert message(pilot) == said
        await scan(pilot, key_clock, demo_card(config, 2))  # not the voucher's member
        await scan(pilot, key_clock, someone_elses.code)
        assert message(pilot) == (
            f"Voucher {someone_elses.code} belongs to another member — take another form of payment"
        )
        await type_text(pilot, f"2*{used.code}", "enter")
        assert (
            message(pilot) == "Only a product takes a quantity or a price — key the code on its own"
        )
        sale = sale_of(app)
        assert sale.basket.vouchers == []
        assert sale.basket.total_minor == PRICE


async def test_the_offline_cap_is_shown_when_a_voucher_goes_beyond_it(
    make_app, config: TillConfig, database: TillDatabase, key_clock
) -> None:
    """The demo rules let a till take 100.00 a day in vouchers HQ has not confirmed."""
    first, second = issued(7, 6000), issued(8, 6000)
    apply_page(config, database, vouchers=(first, second))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, "DEPT-GROCERY 200.00", "enter")
        await scan(pilot, key_clock, first.code)
        await scan(pilot, key_clock, second.code)
        assert message(pilot) == (
            f"At most {euro(4000)} more in vouchers can be taken at this till today without "
            "HQ, and this till is offline — take another form of payment"
        )
        assert [v.code for v in sale_of(app).basket.vouchers] == [first.code]
