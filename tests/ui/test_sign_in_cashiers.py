"""The sign-in screen with cashiers from HQ: a till with nobody who can sign in says so and how
to add someone (never just "PIN is wrong"); an unknown id and a wrong PIN get one message; a
supervisor HQ sent authorises what needs a supervisor; a disabled one does not."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from shared.pins import PIN_SCHEME, new_pin_hash
from shared.protocol import CashierState
from terminal.store import TillDatabase
from terminal.store.cashiers import apply_hq_cashier
from terminal.ui.screens.lock import LockScreen
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.screens.sign_in import SignInScreen
from tests.terminal.helpers import products
from tests.ui.helpers import message, press, settle, type_text


def _from_hq(
    database: TillDatabase, cashier_id: str, name: str, pin: str, role: str, *, disabled: bool
) -> None:
    """What the sync engine does with a pulled ``CashierState`` (HQ hashed the PIN)."""
    salt, digest = new_pin_hash(pin)
    state = CashierState.model_validate(
        {
            "cashier_id": cashier_id,
            "name": name,
            "role": role,
            "pin_scheme": PIN_SCHEME,
            "pin_salt": salt,
            "pin_hash": digest,
            "disabled": disabled,
        }
    )
    with database.write() as db:
        apply_hq_cashier(db, state)


async def _until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()`` holds: the sign-out is a worker's result, then
    screen changes (bounded by a generous deadline, never a count of frames)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def _forget_local_cashiers(database: TillDatabase) -> None:
    """A real store's till: no demo cashiers, only what HQ sends."""
    with database.write() as db:
        db.execute("DELETE FROM cashiers")


async def test_a_till_with_no_cashier_says_how_to_add_one(
    make_app, database: TillDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SignInScreen, "RECHECK_S", 0.05)
    app = make_app(signed_in=False)
    _forget_local_cashiers(database)
    # A cashier HQ disabled is no one who can sign in either.
    _from_hq(database, "7", "Ann", "8642", "cashier", disabled=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SignInScreen)
        hint = screen.query_one("#no-cashiers", Static)
        assert hint.display
        text = str(hint.content)
        assert "No cashier can sign in on this till yet" in text
        assert "syncserver cashier add --store S001 --id … --name … --pin …" in text
        assert "till setup" in text  # this till has no HQ configured yet: how to connect it

        await type_text(pilot, "7", "enter")
        await type_text(pilot, "8642", "enter")
        assert app.screen is screen
        assert app.till.cashier is None
        assert message(pilot) == "Nobody can sign in yet: this till has no cashiers (see below)"
        assert "wrong" not in message(pilot)

        # The next sync brings one: the screen notices by itself, and they sign in.
        _from_hq(database, "8", "Bo", "1357", "cashier", disabled=False)
        await _until(pilot, lambda: not hint.display, "the notice to go")
        assert message(pilot) == "Cashiers arrived from HQ: sign in"
        number_field = screen.query_one("#cashier", Input)
        number_field.clear()
        number_field.focus()
        await type_text(pilot, "8", "enter")
        await type_text(pilot, "1357", "enter")
        assert isinstance(app.screen, SaleScreen)
        assert app.till.cashier is not None
        assert app.till.cashier.name == "Bo"


async def test_an_unknown_id_and_a_wrong_pin_get_one_message(make_app) -> None:
    app = make_app(signed_in=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SignInScreen)
        assert not screen.query_one("#no-cashiers", Static).display
        answers = []
        number_field = screen.query_one("#cashier", Input)
        for number, pin in (("1", "9999"), ("77", "1234"), ("A7", "1234")):
            number_field.clear()
            number_field.focus()
            await type_text(pilot, number, "enter")
            await type_text(pilot, pin, "enter")
            answers.append(message(pilot))
        assert answers == ["Cashier number or PIN is wrong — try again"] * 3
        assert app.till.cashier is None


async def test_a_supervisor_from_hq_closes_the_kiosk_till(make_app, database: TillDatabase) -> None:
    app = make_app()  # cashier 1 (Alex) is signed in
    exits: list[bool] = []
    app.exit = lambda *args, **kwargs: exits.append(True)
    assert app.till.config.kiosk
    _forget_local_cashiers(database)  # no local supervisor: only HQ's can do it
    _from_hq(database, "42", "Sam Okafor", "9753", "supervisor", disabled=False)
    _from_hq(database, "43", "Kim Lee", "2468", "supervisor", disabled=True)
    _from_hq(database, "7", "Ann", "8642", "cashier", disabled=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+q")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, "7", "enter")
        await type_text(pilot, "8642", "enter")
        assert message(pilot) == "Supervisor number or PIN is wrong — try again"
        await press(pilot, "escape")
        await press(pilot, "ctrl+q")
        await type_text(pilot, "43", "enter")  # disabled at HQ
        await type_text(pilot, "2468", "enter")
        assert message(pilot) == "Supervisor number or PIN is wrong — try again"
        assert not exits
        await press(pilot, "escape")
        await press(pilot, "ctrl+q")
        await type_text(pilot, "42", "enter")
        await type_text(pilot, "9753", "enter")
        assert exits == [True]


async def test_a_cashier_disabled_at_hq_is_signed_out_once_no_dialog_is_open(
    make_app, database: TillDatabase
) -> None:
    app = make_app()  # cashier 1 (Alex) is signed in
    async with app.run_test(size=(120, 40)) as pilot:
        await type_text(pilot, products(database)[0].sku, "enter")
        await press(pilot, "f12")
        assert isinstance(app.screen, PaymentScreen)
        _from_hq(database, "1", "Alex Meyer", "1234", "cashier", disabled=True)  # a pull
        app.refresh_status()
        await settle(pilot)
        # Mid-payment: the payment is finished (or cancelled) first …
        assert isinstance(app.screen, PaymentScreen)
        assert app.till.cashier is not None
        await press(pilot, "escape")
        # … then back to sign-in, saying why.
        await _until(pilot, lambda: isinstance(app.screen, SignInScreen), "the sign-in screen")
        assert app.till.cashier is None
        assert message(pilot) == "Cashier 1 was disabled at HQ and has been signed out"
        with database.read() as db:  # the open sale is kept for whoever signs in next
            assert db.execute("SELECT COUNT(*) FROM open_sale").fetchone()[0] == 1
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "1234", "enter")
        assert isinstance(app.screen, SignInScreen)
        assert app.till.cashier is None


async def test_a_locked_till_signs_out_a_cashier_disabled_at_hq(
    make_app, database: TillDatabase
) -> None:
    """Locked, only the cashier's own PIN would unlock the till — and it no longer works."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+l")
        assert isinstance(app.screen, LockScreen)
        _from_hq(database, "1", "Alex Meyer", "1234", "cashier", disabled=True)
        app.refresh_status()
        await _until(pilot, lambda: isinstance(app.screen, SignInScreen), "the sign-in screen")
        assert len(app.screen_stack) == 2  # the sale and lock screens are gone
        assert app.till.cashier is None
        assert message(pilot) == "Cashier 1 was disabled at HQ and has been signed out"
