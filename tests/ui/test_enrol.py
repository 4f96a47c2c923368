"""Enrolling a new member offline, and replacing a lost card."""

from __future__ import annotations

from shared.codes import card_number_from_serial
from shared.journal import CardReplacement, Enrolment
from terminal.demo.seed import demo_card
from terminal.store.journal import get_entry
from terminal.ui.screens.enrol import EnrolScreen
from terminal.ui.screens.replace_card import ReplaceCardScreen
from terminal.ui.screens.sale import SaleScreen
from terminal.ui.widgets.member_panel import MemberPanel
from tests.terminal.helpers import journal_count
from tests.ui.helpers import message, press, scan, type_text


def blank_card(config, serial: int = 500_000) -> str:
    return card_number_from_serial(config.code_config(), serial)


async def test_enrol_a_member_with_a_scanned_blank_card(make_app, config, database, key_clock):
    before = journal_count(database)
    card = blank_card(config)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f6")
        assert isinstance(app.screen, EnrolScreen)
        await type_text(pilot, "Maja Berg", "enter")
        await type_text(pilot, "+49 170 5550101", "enter")
        await type_text(pilot, "maja@example.org", "enter")
        await press(pilot, "space")  # the consent checkbox has focus: tick it
        await scan(pilot, key_clock, card)  # the blank card, whatever field has focus
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        assert "Maja Berg" in app.screen.query_one(MemberPanel).text  # attached to the sale
        assert message(pilot) == "Welcome Maja Berg! Enrolled and attached to this sale"
        assert journal_count(database) == before + 1
        with database.read() as db:
            entry = get_entry(db, before + 1)
        assert entry is not None
        assert isinstance(entry.payload, Enrolment)
        assert entry.payload.card_number == card
        assert entry.payload.marketing_consent is True
        assert entry.payload.email == "maja@example.org"


async def test_enrolment_refusals_keep_the_form_and_journal_nothing(
    make_app, config, database, key_clock
) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f6")
        await type_text(pilot, "Maja Berg", "enter")
        await press(pilot, "f12")
        assert message(pilot) == "A phone number or an email is needed — ask for one"
        await type_text(pilot, "+49 170 5550101", "enter")
        await scan(pilot, key_clock, demo_card(config, 1))  # a card that is already in use
        await press(pilot, "f12")
        assert message(pilot) == ("This card already belongs to a member — take another blank card")
        assert isinstance(app.screen, EnrolScreen)
    assert journal_count(database) == before


async def test_replace_a_lost_card(make_app, config, database, key_clock) -> None:
    old, new = demo_card(config, 9), blank_card(config, 500_001)
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, ReplaceCardScreen)
        await type_text(pilot, old, "enter")  # the member has lost it: keyed from records
        await scan(pilot, key_clock, new)
        await press(pilot, "tab", "down", "space")  # the reason: stolen
        await press(pilot, "f12")
        assert isinstance(app.screen, SaleScreen)
        assert message(pilot) == "Card replaced: the old card is blocked, points moved"
        with database.read() as db:
            entry = get_entry(db, before + 1)
        assert entry is not None
        assert isinstance(entry.payload, CardReplacement)
        assert (entry.payload.old_card_number, entry.payload.new_card_number) == (old, new)
        assert entry.payload.reason == "stolen"
        await scan(pilot, key_clock, old)
        assert message(pilot).startswith("This card is blocked (replaced (stolen))")
        await scan(pilot, key_clock, new)
        assert "Ines García" in app.screen.query_one(MemberPanel).text
        assert "4,200 pts" in app.screen.query_one(MemberPanel).text


async def test_replacing_an_unknown_card_is_refused(make_app, config, database) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+r")
        await type_text(pilot, demo_card(config, 9_999), "enter")
        await type_text(pilot, blank_card(config), "enter")
        assert message(pilot) == ("The old card is not registered — find the member by phone")
        assert isinstance(app.screen, ReplaceCardScreen)
    assert journal_count(database) == before
