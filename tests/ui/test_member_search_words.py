"""F2 member search by any word of the name (accents folded) and by the last digits of a
phone number; the enrol screen checking phone and e-mail as the cashier types them."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from shared.codes import card_number_from_serial
from shared.journal import Enrolment
from terminal.store.journal import get_entry
from terminal.till.service import Till
from terminal.ui.screens.enrol import EnrolScreen
from terminal.ui.screens.member_search import MemberSearchScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.member_panel import MemberPanel
from tests.terminal.helpers import journal_count
from tests.ui.helpers import message, press, scan, type_text


def _blank(config, serial: int) -> str:
    return card_number_from_serial(config.code_config(), serial)


def _rows(screen) -> list[str]:
    table = screen.query_one(DataTable)
    return [str(table.get_row_at(index)[0]) for index in range(table.row_count)]


async def test_f2_finds_lucja_nowak_by_a_word_without_accents_and_by_phone_end(
    make_app, till: Till, config
) -> None:
    card = _blank(config, 600_001)
    till.enrol(
        name="Łucja Nowak",
        phone="+49 170 1234567",
        email=None,
        marketing_consent=False,
        card_number=card,
    )
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f2")
        assert isinstance(app.screen, MemberSearchScreen)
        await type_text(pilot, "lucja", "enter")
        found = _rows(app.screen)
        assert "Łucja Nowak" in found  # among the demo store's other Łucjas
        assert all(name.startswith("Łucja") for name in found)
        await press(pilot, "escape")
        for query in ("lucja now", "4567"):
            await press(pilot, "f2")
            await type_text(pilot, query, "enter")
            assert _rows(app.screen) == ["Łucja Nowak"], query
            await press(pilot, "enter")  # choose her
            screen = app.screen
            assert isinstance(screen, SaleScreen)
            assert screen.basket.member is not None
            assert screen.basket.member.member.name == "Łucja Nowak"
            assert "Łucja Nowak" in screen.query_one(MemberPanel).text
            await press(pilot, "f4")  # remove her again for the next search


async def test_f2_asks_for_four_digits_of_a_phone_number(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f2")
        await type_text(pilot, "567", "enter")
        assert message(pilot) == "Type at least 4 digits of the phone number"
        assert app.screen.query_one(DataTable).row_count == 0


async def test_enrol_checks_phone_and_email_as_they_are_typed(
    make_app, config, database, key_clock
) -> None:
    before = journal_count(database)
    card = _blank(config, 600_002)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f6")
        screen = app.screen
        assert isinstance(screen, EnrolScreen)
        await type_text(pilot, "Maja Berg", "enter")
        await type_text(pilot, "+49 170 12", "enter")
        assert message(pilot).startswith("The phone number +49 170 12 is not a valid number")
        assert "e.g. +49 170 1234567" in message(pilot)
        phone = screen.query_one("#phone", Input)
        assert phone.has_focus  # stays on the field to correct
        await press(pilot, "ctrl+u")
        await type_text(pilot, "+49 (170) 123-4567", "enter")
        assert phone.value == "+491701234567"  # shown as it will be stored
        email = screen.query_one("#email", Input)
        assert email.has_focus
        await type_text(pilot, "maja@example", "enter")
        assert message(pilot) == (
            "The email maja@example has no domain ending after the @ (like .com), "
            "e.g. anna.nowak@example.com"
        )
        assert email.has_focus
        await press(pilot, "ctrl+u")
        await type_text(pilot, "Maja.Berg@Example.ORG")
        await scan(pilot, key_clock, card)
        await press(pilot, "f12")  # F12 checks the fields too, then enrols
        assert isinstance(app.screen, SaleScreen)
    assert journal_count(database) == before + 1
    with database.read() as db:
        entry = get_entry(db, before + 1)
    assert entry is not None
    assert isinstance(entry.payload, Enrolment)
    assert entry.payload.phone == "+491701234567"
    assert entry.payload.email == "Maja.Berg@example.org"


async def test_f12_with_a_wrong_email_keeps_the_form_and_journals_nothing(
    make_app, config, database, key_clock
) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f6")
        screen = app.screen
        await type_text(pilot, "Maja Berg", "tab", "tab")  # no phone
        await type_text(pilot, "maja at example.org")
        await scan(pilot, key_clock, _blank(config, 600_003))
        await press(pilot, "f12")
        assert message(pilot).startswith("The email maja at example.org has a space in it")
        assert app.screen is screen
        assert screen.query_one("#email", Input).has_focus
    assert journal_count(database) == before
