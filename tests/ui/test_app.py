"""The app as a kiosk: no command palette, no accidental quit, help and footer keys."""

from __future__ import annotations

from textual.widgets import Footer

from terminal.ui import TillApp
from terminal.ui.keymap import KEYMAP
from terminal.ui.screens.help import HelpScreen
from terminal.ui.screens.pin import PinScreen
from terminal.ui.screens.sale import SaleScreen
from tests.ui.helpers import message, press, type_text


def _record_exit(app: TillApp) -> list[bool]:
    exits: list[bool] = []
    app.exit = lambda *args, **kwargs: exits.append(True)  # type: ignore[method-assign]
    return exits


async def test_no_command_palette(make_app) -> None:
    app = make_app()
    assert TillApp.ENABLE_COMMAND_PALETTE is False
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, SaleScreen)


async def test_ctrl_c_does_not_close_the_till(make_app) -> None:
    app = make_app()
    exits = _record_exit(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+c")  # in the entry field: copy, nothing else
        assert app.is_running
        assert not exits
        await press(pilot, "tab", "ctrl+c")  # on the basket: the app explains
        assert app.is_running
        assert not exits
        assert message(pilot) == "Ctrl+C does not close the till — a supervisor can, with Ctrl+Q"


async def test_ctrl_q_needs_a_supervisors_number_and_pin(make_app) -> None:
    app = make_app()
    exits = _record_exit(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+q")
        assert isinstance(app.screen, PinScreen)
        await type_text(pilot, "1", "enter")
        await type_text(pilot, "1234", "enter")  # a cashier is not a supervisor
        # The same words as a wrong PIN: a refusal does not confirm whose PIN it was.
        assert message(pilot) == "Supervisor number or PIN is wrong — try again"
        assert not exits
        await press(pilot, "escape")
        assert isinstance(app.screen, SaleScreen)
        await press(pilot, "ctrl+q")
        await type_text(pilot, "9", "enter")
        await type_text(pilot, "9999", "enter")
        assert exits == [True]


async def test_help_lists_every_key_and_the_footer_shows_the_main_ones(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        footer_keys = {key for key, binding in app.active_bindings.items() if binding.binding.show}
        assert {"f1", "f2", "f3", "f4", "f5", "f12", "delete", "ctrl+l"} <= footer_keys
        assert app.screen.query(Footer)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text
        for _section, keys in KEYMAP:
            for key in keys:
                assert key.help in text
        await press(pilot, "escape")
        assert isinstance(app.screen, SaleScreen)
