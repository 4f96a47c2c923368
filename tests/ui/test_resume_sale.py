"""The sale left open, at the till: offered back when a cashier signs in, resumed or
discarded (a supervisor's decision once money was taken), and Ctrl+Q warns about it."""

from __future__ import annotations

import json
import sqlite3

from shared.journal import TenderMethod
from terminal.demo.seed import demo_card
from terminal.till.resuming import DISCARDED_LOG
from terminal.ui import TillApp
from terminal.ui.screens.confirm import ConfirmScreen
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.resume_sale import ResumeSaleScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.sign_in import SignInScreen
from tests.terminal.helpers import products
from tests.ui.helpers import euro, message, press, scan, type_text


def kept_lines(config) -> list[tuple[str, int]] | None:
    """What another process would find in ``open_sale`` (committed data only)."""
    conn = sqlite3.connect(config.database_path)
    try:
        row = conn.execute("SELECT document FROM open_sale").fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return [(line["sku"], line["quantity"]) for line in json.loads(row[0])["lines"]]


def _record_exit(app: TillApp) -> list[bool]:
    exits: list[bool] = []
    app.exit = lambda *args, **kwargs: exits.append(True)  # type: ignore[method-assign]
    return exits


def _sale(app: TillApp) -> SaleScreen:
    for screen in app.screen_stack:
        if isinstance(screen, SaleScreen):
            return screen
    raise AssertionError("no sale screen")


async def test_a_sale_rung_up_on_screen_is_offered_back_and_resumed(
    make_app, config, database, key_clock
) -> None:
    first, second = products(database)[:2]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, 9))
        await scan(pilot, key_clock, first.sku)
        assert kept_lines(config) == [(first.sku, 1)]  # durable before the next key
        await scan(pilot, key_clock, first.sku)
        await scan(pilot, key_clock, second.sku)
        await press(pilot, "f5")
        await type_text(pilot, "", "enter")  # as many points as allowed
        before = _sale(app).basket
        assert before.redemption is not None
    # The program ends without the sale being completed (a crash, a power cut).
    assert kept_lines(config) == [(first.sku, 2), (second.sku, 1)]

    again = make_app()
    async with again.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        offer = again.screen
        assert isinstance(offer, ResumeSaleScreen)
        assert (
            f"Resume the sale from 10:00 — 2 lines, member {before.member.member.name}, "  # type: ignore[union-attr]
            f"{euro(before.total_minor)}?"
        ) in offer.text
        await press(pilot, "f12")
        sale = _sale(again)
        assert again.screen is sale
        assert [(line.product.sku, line.quantity) for line in sale.basket.lines] == [
            (first.sku, 2),
            (second.sku, 1),
        ]
        assert sale.basket.redemption == before.redemption
        assert sale.member is not None
        assert message(pilot) == f"Sale resumed: 2 lines, {euro(before.total_minor)}"
        await press(pilot, "f12")
        await type_text(pilot, "", "enter")  # exact cash
        await press(pilot, "enter")  # complete
        assert sale.basket.empty
    assert kept_lines(config) is None


async def test_discarding_a_sale_without_money_taken(make_app, till, config, database) -> None:
    basket = till.start_sale()
    till.add_product(basket, products(database)[0].sku)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ResumeSaleScreen)
        await press(pilot, "escape")  # a reflex decides nothing
        assert isinstance(app.screen, ResumeSaleScreen)
        await press(pilot, "f8")
        assert isinstance(app.screen, SaleScreen)
        assert app.screen.basket.empty
        assert message(pilot).startswith("Discarded the sale from 10:00 — 1 line")
    assert kept_lines(config) is None
    record = json.loads((config.data_dir / DISCARDED_LOG).read_text("utf-8").splitlines()[-1])
    assert record["approved_by"] is None


async def test_discarding_once_money_was_taken_takes_a_supervisor(
    make_app, till, config, database
) -> None:
    basket = till.start_sale()
    till.add_product(basket, products(database)[0].sku)
    till.add_tender(basket, TenderMethod.CASH, 2000)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        offer = app.screen
        assert isinstance(offer, ResumeSaleScreen)
        assert "Already taken: €20.00 cash" in offer.text
        await press(pilot, "f8")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "1234", "enter")  # a cashier, not a supervisor
        assert isinstance(app.screen, PinScreen)  # refused: still asking
        assert kept_lines(config) is not None
        await press(pilot, "escape")  # undecided: offered again
        assert isinstance(app.screen, ResumeSaleScreen)
        assert kept_lines(config) is not None
        await press(pilot, "f8")
        await type_text(pilot, "9", "enter")
        await type_text(pilot, "9999", "enter")
        assert isinstance(app.screen, SaleScreen)
        assert "Discarded the sale" in message(pilot)
        assert "€20.00 cash taken" in message(pilot)
    assert kept_lines(config) is None
    record = json.loads((config.data_dir / DISCARDED_LOG).read_text("utf-8").splitlines()[-1])
    assert (record["by"], record["approved_by"]) == ("1", "9")


async def test_ctrl_q_with_a_sale_open_warns(make_app, till, database, key_clock) -> None:
    till.config = till.config.model_copy(update={"kiosk": False})  # a till anyone may close
    app = make_app()
    exits = _record_exit(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, products(database)[0].sku)
        await press(pilot, "ctrl+q")
        warning = app.screen
        assert isinstance(warning, ConfirmScreen)
        assert warning.text.startswith("1 line, €")
        assert "Quit anyway? The till keeps it and offers it back" in warning.text
        await press(pilot, "enter")  # Back has the focus: a habitual Enter quits nothing
        assert not exits
        assert isinstance(app.screen, SaleScreen)
        await press(pilot, "ctrl+q")
        await pilot.click("#confirm-yes")
        assert exits == [True]


async def test_ctrl_q_with_no_sale_open_quits_at_once(make_app, till) -> None:
    till.config = till.config.model_copy(update={"kiosk": False})
    app = make_app()
    exits = _record_exit(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+q")
        assert exits == [True]


async def test_a_kiosk_till_names_the_open_sale_when_asking_the_supervisor(
    make_app, till, database, key_clock
) -> None:
    assert till.config.kiosk  # the default: only a supervisor closes the till
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, products(database)[0].sku)
        await press(pilot, "ctrl+q")
        ask = app.screen
        assert isinstance(ask, PinScreen)
        assert str(ask.query_one(".dialog-title").render()).startswith("A sale is open (1 line")


async def test_a_cashier_signed_out_by_hq_leaves_the_sale_for_the_next_one(
    make_app, config, database, key_clock
) -> None:
    first = products(database)[0]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, first.sku)
        await scan(pilot, key_clock, first.sku)
        with database.write() as db:  # a pull brings HQ's "disabled"
            db.execute("UPDATE cashiers SET disabled = 1 WHERE cashier_id = '1'")
        app.refresh_status()
        await pilot.pause()
        for _ in range(50):  # bounded: the check runs in a worker
            if isinstance(app.screen, SignInScreen):
                break
            await app.workers.wait_for_complete()
            await pilot.pause()
        assert isinstance(app.screen, SignInScreen)
        assert kept_lines(config) == [(first.sku, 2)]
        await type_text(pilot, "9", "enter")
        await type_text(pilot, "9999", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ResumeSaleScreen)
        await press(pilot, "f12")
        assert [(line.product.sku, line.quantity) for line in _sale(app).basket.lines] == [
            (first.sku, 2)
        ]


async def test_a_damaged_row_is_reported_and_selling_goes_on(
    make_app, config, database, key_clock
) -> None:
    conn = sqlite3.connect(config.database_path)
    conn.execute(
        "INSERT INTO open_sale (id, document, updated_at) VALUES (1, '{\"version\": 1', 'x')"
    )
    conn.commit()
    conn.close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SaleScreen)
        text = message(pilot)
        assert text.startswith("A sale left open could not be read (it is not JSON")
        assert "open-sale-unreadable-" in text
        assert text.endswith("for a supervisor; carry on selling")
        sku = products(database)[0].sku
        await scan(pilot, key_clock, sku)
        assert kept_lines(config) == [(sku, 1)]
