"""What a till journals, HQ can store (docs/design.md, invariant 9): the till refuses at entry time
— a clock outside 2000–2099, control characters in an enrolment, quantities and amounts beyond
shared.bounds, text the shared models refuse — with a clear message, and journals nothing.

Before issue 10 each of these was journaled (or crashed the cashier's screen) and then wedged
the till's sync for good: a NUL in a name on PostgreSQL, a year-9999 sale, huge amounts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from shared.bounds import MAX_LINES, MAX_MINOR, MAX_QUANTITY, MAX_TEXT
from shared.codes import card_number_from_serial
from shared.journal import TenderMethod
from terminal.cli.main import till as till_cli
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.till.errors import (
    BasketLimitError,
    ClockRefusedError,
    EnrolmentRefusedError,
    JournalRefusedError,
    PaymentIncompleteError,
    ReturnRefusedError,
)
from terminal.till.service import Till
from tests.terminal.conftest import FakeClock
from tests.terminal.helpers import journal_count, products


def _blank(config: TillConfig, serial: int = 600_000) -> str:
    return card_number_from_serial(config.code_config(), serial)


def _enrol(till: Till, config: TillConfig, **fields: str | None) -> None:
    values: dict[str, str | None] = {"name": "Ana Lima", "phone": "+49 170 5550101", "email": None}
    values.update(fields)
    till.enrol(
        name=values["name"] or "",
        phone=values["phone"],
        email=values["email"],
        marketing_consent=False,
        card_number=_blank(config),
    )


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),  # no local time in Berlin at all
    ],
)
def test_a_till_whose_clock_is_wrong_journals_nothing(
    till: Till, config: TillConfig, database: TillDatabase, clock: FakeClock, moment: datetime
) -> None:
    basket = till.new_basket()
    till.add_product(basket, products(database)[0].sku, 2)
    till.add_tender(basket, TenderMethod.CASH, None)
    clock.now = moment

    with pytest.raises(ClockRefusedError) as raised:
        till.complete_sale(basket)
    assert str(raised.value) == (
        f"The till's clock says {moment:%Y-%m-%d %H:%M} UTC, which cannot be right (a till "
        "records only 2000–2099) — set the till's date and time, then try again — nothing "
        "was journaled"
    )
    for action in (lambda: _enrol(till, config), till.close_shift):
        with pytest.raises(ClockRefusedError):
            action()
    assert journal_count(database) == 0

    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the clock is set right
    assert till.complete_sale(basket).entry.seq == 1


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"name": "Ana\x00Lima"}, "The name holds an invisible control character (U+0000)"),
        ({"name": "Ana\ud800"}, "The name holds an invisible control character (U+D800)"),
        ({"phone": "+49\n170"}, "The phone number holds an invisible control character"),
        ({"email": "ana\x1b@example.org"}, "The email holds an invisible control character"),
        ({"name": "A" * (MAX_TEXT + 1)}, f"at most {MAX_TEXT} fit"),
    ],
)
def test_an_enrolment_hq_could_not_store_is_refused_per_field(
    till: Till, config: TillConfig, database: TillDatabase, fields: dict[str, str], said: str
) -> None:
    with pytest.raises(EnrolmentRefusedError, match=re.escape(said)):
        _enrol(till, config, **fields)
    assert journal_count(database) == 0


def test_quantities_prices_lines_and_totals_beyond_bounds_are_refused_as_keyed(
    till: Till, database: TillDatabase
) -> None:
    product = products(database)[0]
    basket = till.new_basket()
    with pytest.raises(BasketLimitError, match="more than one line can hold"):
        till.add_product(basket, product.sku, MAX_QUANTITY + 1)
    line = till.add_product(basket, product.sku, MAX_QUANTITY)
    with pytest.raises(BasketLimitError, match="more than one line can hold"):
        till.add_product(basket, product.sku)  # a repeat scan adds to the line
    with pytest.raises(BasketLimitError, match="more than one line can hold"):
        till.set_quantity(basket, line.line_no, MAX_QUANTITY + 1)
    assert basket.lines[0].quantity == MAX_QUANTITY  # unchanged by the refusals

    open_price = till.new_basket()
    with pytest.raises(BasketLimitError, match="beyond what a till can sell"):
        till.add_product(open_price, "DEPT-GROCERY", 1, MAX_MINOR + 1)
    with pytest.raises(BasketLimitError, match=r"100 × .* is beyond what one line can hold"):
        till.add_product(open_price, "DEPT-GROCERY", 100, MAX_MINOR // 10)
    till.add_product(open_price, "DEPT-GROCERY", 1, MAX_MINOR - 5)
    with pytest.raises(BasketLimitError, match="more than a till can take"):
        till.add_product(open_price, "DEPT-GROCERY", 1, 10)
    assert [line.net_minor for line in open_price.lines] == [MAX_MINOR - 5]

    many = till.new_basket()
    for _ in range(MAX_LINES):
        till.add_product(many, "DEPT-GROCERY", 1, 100)  # a department: a new line each
    with pytest.raises(BasketLimitError, match=f"at most {MAX_LINES} lines"):
        till.add_product(many, "DEPT-GROCERY", 1, 100)
    assert len(many.lines) == MAX_LINES

    small = till.new_basket()
    till.add_product(small, product.sku)
    with pytest.raises(PaymentIncompleteError, match="more than a till can take"):
        till.add_tender(small, TenderMethod.CASH, MAX_MINOR + 1)
    assert small.tenders == []
    assert journal_count(database) == 0


def test_text_the_shared_models_refuse_reaches_the_cashier_as_a_refusal(
    till: Till, database: TillDatabase
) -> None:
    """Where the till has no early check (a product description HQ sent, say), the shared
    models refuse the entry when it is sealed; the cashier gets the field and the reason,
    the transaction rolls back, and the till sells on."""
    with database.write() as db:
        db.execute(
            "INSERT INTO products (sku, description, category, price_minor, tax_rate_bp, "
            "open_price) VALUES ('BEL-1', 'Bell\x07 pepper', 'fruit-veg', 199, 700, 0)"
        )
    basket = till.new_basket()
    till.add_product(basket, "BEL-1")
    till.add_tender(basket, TenderMethod.CASH, None)

    with pytest.raises(JournalRefusedError) as raised:
        till.complete_sale(basket)
    assert str(raised.value).startswith(
        "Line 1 (BEL-1) cannot be recorded: description: contains the control character U+0007"
    )
    assert "nothing was journaled" in str(raised.value)
    assert journal_count(database) == 0
    with database.read() as db:
        assert db.execute("SELECT COUNT(*) FROM print_jobs").fetchone()[0] == 0

    basket = till.new_basket()
    till.add_product(basket, products(database)[0].sku)
    till.add_tender(basket, TenderMethod.CASH, None)
    assert till.complete_sale(basket).entry.seq == 1


def test_any_entry_the_shared_models_refuse_is_a_refusal_not_a_traceback(
    config: TillConfig, database: TillDatabase, clock: FakeClock
) -> None:
    """The last line of defence, whatever the till did not check early: a till configured
    with a store id the journal cannot carry refuses each entry by field, rolls back, and
    stays usable."""
    with database.read() as db:
        cards = db.execute("SELECT COUNT(*) FROM cards").fetchone()[0]
    broken = Till(config.model_copy(update={"store_id": "S\x01"}), database, clock=clock)
    broken.sign_in("1", "1234")
    basket = broken.new_basket()
    broken.add_product(basket, products(database)[0].sku)
    broken.add_tender(basket, TenderMethod.CASH, None)
    for action, what in (
        (lambda: broken.complete_sale(basket), "sale"),
        (lambda: _enrol(broken, config), "enrolment"),
    ):
        with pytest.raises(JournalRefusedError) as raised:
            action()
        assert str(raised.value).startswith(
            f"This {what} cannot be recorded: store_id: contains the control character U+0001"
        )
        assert str(raised.value).endswith("correct it and try again — nothing was journaled")
    assert journal_count(database) == 0
    with database.read() as db:
        assert db.execute("SELECT COUNT(*) FROM print_jobs").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM cards").fetchone()[0] == cards  # none taken


def test_a_void_reason_the_journal_could_not_carry_is_refused(
    till: Till, database: TillDatabase
) -> None:
    basket = till.new_basket()
    till.add_product(basket, products(database)[0].sku)
    till.add_tender(basket, TenderMethod.CASH, None)
    seq = till.complete_sale(basket).entry.seq
    for reason in ("changed\x00mind", "", "x" * (MAX_TEXT + 1)):
        with pytest.raises(ReturnRefusedError, match="printable characters"):
            till.void_sale(seq, reason)
    assert journal_count(database) == 1


# --- the scripted CLI ----------------------------------------------------------------------


@pytest.fixture
def env(config: TillConfig, database: TillDatabase) -> dict[str, str]:
    return {
        "LOYALTILL_DATA_DIR": str(config.data_dir),
        "LOYALTILL_TIMEZONE": "Europe/Berlin",
        "LOYALTILL_CASHIER": "1",
        "LOYALTILL_PIN": "1234",
    }


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(till_cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_till_enrol_with_a_nul_in_the_name_exits_non_zero_and_journals_nothing(
    env: dict[str, str], config: TillConfig, database: TillDatabase
) -> None:
    code, out = _run(
        env, "enrol", "--name", "Ana\x00Lima", "--phone", "+49 170 1", "--card", _blank(config)
    )
    assert code == 1
    assert "till: The name holds an invisible control character (U+0000) at position 4" in out
    assert "Traceback" not in out
    assert json.loads(_run(env, "status")[1])["last_seq"] == 0


def test_till_sale_beyond_the_bounds_exits_non_zero_and_journals_nothing(
    env: dict[str, str], database: TillDatabase
) -> None:
    sku = products(database)[0].sku
    for line, said in (
        (f"{sku}:{MAX_QUANTITY + 1}", "more than one line can hold"),
        ("DEPT-GROCERY:2000:99999999.99", "is beyond what one line can hold"),
        (f"{sku}:{'9' * 40}", "more than one line can hold"),
    ):
        code, out = _run(env, "sale", "--line", line, "--tender", "cash:")
        assert code == 1, out
        assert said in out
        assert "Traceback" not in out
    assert json.loads(_run(env, "status")[1])["last_seq"] == 0
