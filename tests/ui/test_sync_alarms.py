"""What the cashier sees when sync is refused or alarmed, and when the till refuses to journal
(issue 10): a refusal is never shown as "offline", a journal alarm is the loudest thing on
the screen, and an entry HQ could not store is a message, not a crash."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import Input

from shared.codes import card_number_from_serial
from terminal.store import TillDatabase
from terminal.store.settings import set_setting
from terminal.ui.screens.enrol import EnrolScreen
from terminal.ui.screens.payment import PaymentScreen
from terminal.ui.widgets.status_bar import StatusBar
from tests.terminal.conftest import FakeClock
from tests.terminal.helpers import journal_count, products
from tests.ui.helpers import message, press, scan, settle, type_text

ALARM = (
    "HQ holds this till's entries up to seq 40, but the till's journal ends at seq 30: the "
    "journal was truncated or restored from an older copy. Nothing more is sent to HQ (new "
    "sales stay on this till); call HQ support now"
)
REFUSAL = (
    "HQ refused entry seq 7: entry seq 7: field payload.name: contains a control character. "
    "Sales continue and stay on this till; HQ has been alerted"
)


def _sync_state(database: TillDatabase, **settings: str | None) -> None:
    """What SyncEngine.sync_once records after a round (the worker's own thread)."""
    with database.write() as db:
        for key, value in settings.items():
            set_setting(db, key, value)


async def test_a_journal_alarm_is_loud_on_the_status_bar_and_said_once(
    make_app, database: TillDatabase
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(StatusBar)
        assert "○ no HQ" in bar.text
        assert not bar.has_class("-alarm")

        # The till's remembered ack is past its (truncated) journal: "unsent" stays >= 0.
        _sync_state(database, sync_state="alarm", sync_error=ALARM, acked_seq="40")
        app.refresh_status()
        await settle(pilot)

        assert "⛔ JOURNAL ALARM: call HQ" in bar.text
        assert " · 0 unsent" in bar.text
        assert "offline" not in bar.text
        assert bar.has_class("-alarm")
        assert not bar.has_class("-attention")
        assert message(pilot) == f"Sync stopped — {ALARM}"


async def test_a_refused_entry_is_shown_as_a_refusal_not_as_offline(
    make_app, database: TillDatabase
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        _sync_state(database, sync_state="refused", sync_error=REFUSAL, refused_seq="7")
        app.refresh_status()
        await settle(pilot)

        bar = app.screen.query_one(StatusBar)
        assert "⚠ HQ refused seq 7" in bar.text
        assert "offline" not in bar.text
        assert "(HQ refused entry seq 7" in bar.text  # the reason, as far as it fits
        assert bar.has_class("-refused")
        assert message(pilot) == REFUSAL

        # HQ accepts again (fixed at HQ): back to a normal bar.
        _sync_state(
            database,
            sync_state="online",
            sync_error=None,
            refused_seq=None,
            last_sync_at="2026-11-23T09:00:00+00:00",
        )
        app.refresh_status()
        await settle(pilot)
        assert "● online" in bar.text
        assert not bar.has_class("-refused")


async def test_an_enrolment_with_a_control_character_is_refused_on_the_form(
    make_app, config, database: TillDatabase, key_clock
) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "f6")
        assert isinstance(app.screen, EnrolScreen)
        # Pasted text can carry what no key types.
        app.screen.query_one("#name", Input).value = "Maja\x00Berg"
        app.screen.query_one("#phone", Input).value = "+49 170 5550101"
        await scan(pilot, key_clock, card_number_from_serial(config.code_config(), 600_123))
        await press(pilot, "f12")
        assert isinstance(app.screen, EnrolScreen)  # the form stays, to be corrected
        assert message(pilot) == (
            "The name holds an invisible control character (U+0000) at position 5 — clear "
            "the name and type it again"
        )
    assert journal_count(database) == before


async def test_a_sale_when_the_clock_is_wrong_is_refused_at_payment(
    make_app, database: TillDatabase, clock: FakeClock, key_clock
) -> None:
    before = journal_count(database)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, products(database)[0].sku)
        await press(pilot, "f12")
        assert isinstance(app.screen, PaymentScreen)
        await type_text(pilot, "50", "enter")
        clock.now = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
        await press(pilot, "enter")
        assert isinstance(app.screen, PaymentScreen)  # the sale is still open
        assert message(pilot).startswith("The till's clock says 9999-12-31 23:30 UTC")
        assert message(pilot).endswith(
            "set the till's date and time, then try again — nothing was journaled"
        )
        app.refresh_status()
        await settle(pilot)  # the status bar survives a clock with no local time
        assert journal_count(database) == before

        clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        await press(pilot, "enter")
        assert not isinstance(app.screen, PaymentScreen)
    assert journal_count(database) == before + 1
