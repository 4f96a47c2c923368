"""Real tills for server tests: ``terminal.till.service.Till`` on its own SQLite store, seeded
with the demo store, driven through the cashier actions; its journal is read back with
``terminal.store.journal.iter_records``. What the server receives is exactly what a till
writes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.codes import card_number_from_serial
from shared.journal import Enrolment, JournalEntry, Return, Sale, TenderMethod, Void
from terminal.config import TillConfig
from terminal.demo.seed import demo_card, seed_demo
from terminal.store import open_database
from terminal.store.journal import get_entry, iter_records
from terminal.till.errors import TillError
from terminal.till.service import Till

MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DEMO_MEMBERS = 12
DEMO_PRODUCTS = 24


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class TillDriver:
    def __init__(self, base: Path, terminal_id: str, index: int) -> None:
        self.config = TillConfig(
            data_dir=base / terminal_id, timezone="Europe/Berlin", terminal_id=terminal_id
        )
        self.database = open_database(self.config.database_path)
        seed_demo(self.database, self.config, members=DEMO_MEMBERS, products=DEMO_PRODUCTS)
        self.clock = Clock(MONDAY + timedelta(seconds=index))
        self.till = Till(self.config, self.database, clock=self.clock)
        self.till.sign_in("1", "1234")
        self.index = index
        self.rng = random.Random(f"till-{terminal_id}")
        with self.database.read() as db:
            self.skus = [
                row[0]
                for row in db.execute(
                    "SELECT sku FROM products WHERE open_price = 0 ORDER BY sku"
                ).fetchall()
            ]
        self.cards = [demo_card(self.config, serial) for serial in range(1, DEMO_MEMBERS + 1)]
        self.member_sales: list[int] = []
        self._fresh_cards = 0

    @property
    def terminal_id(self) -> str:
        return self.config.terminal_id

    def tick(self) -> None:
        self.clock.now += timedelta(minutes=3)

    def fresh_card(self) -> str:
        self._fresh_cards += 1
        return card_number_from_serial(
            self.config.code_config(), 500_000 + self.index * 1000 + self._fresh_cards
        )

    def sale(self, card: str | None, *, redeem: bool = False) -> JournalEntry:
        basket = self.till.new_basket()
        for sku in self.rng.sample(self.skus, self.rng.randint(1, 4)):
            self.till.add_product(basket, sku, self.rng.randint(1, 3))
        if card is not None:
            self.till.attach_member(basket, card)
            if redeem:
                with contextlib.suppress(TillError):  # nothing redeemable: a plain sale
                    self.till.redeem(basket, None)
        self.till.add_tender(basket, TenderMethod.CASH, None)
        done = self.till.complete_sale(basket)
        if card is not None:
            self.member_sales.append(done.entry.seq)
        self.tick()
        return done.entry

    def return_one(self) -> JournalEntry | None:
        for seq in reversed(self.member_sales):
            try:
                _, lines = self.till.find_sale(seq)
            except TillError:
                continue
            line = next((ln for ln in lines if ln.returnable_quantity), None)
            if line is None:
                continue
            done = self.till.return_items(seq, {line.line_no: 1})
            self.tick()
            return done.entry
        return None

    def void_last(self) -> JournalEntry | None:
        if not self.member_sales:
            return None
        try:
            entry = self.till.void_sale(self.member_sales[-1], "customer changed their mind")
        except TillError:
            return None
        self.member_sales.pop()
        self.tick()
        return entry

    def enrol(self) -> str:
        number = self.fresh_card()
        self.till.enrol(
            name=f"New {self.terminal_id} {number[-4:]}",
            phone=f"+49 170 {number[-8:]}",
            email=None,
            marketing_consent=True,
            card_number=number,
        )
        self.cards.append(number)
        self.tick()
        return number

    def replace_card(self, old: str) -> str:
        new = self.fresh_card()
        self.till.replace_card(old, new, "lost")
        self.cards[self.cards.index(old)] = new
        self.tick()
        return new

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        with self.database.read() as db:
            return list(iter_records(db, since_seq=since))

    def close(self) -> None:
        self.database.close()


def workload(driver: TillDriver, operations: int) -> None:
    """A mixed, deterministic day at one till: member and anonymous sales, redemptions,
    returns, voids, enrolments, a card replacement and a shift close."""
    rng = driver.rng
    replaced = False
    for number in range(operations):
        roll = rng.random()
        if roll < 0.45:
            driver.sale(rng.choice(driver.cards), redeem=rng.random() < 0.3)
        elif roll < 0.55:
            driver.sale(None)
        elif roll < 0.65:
            driver.return_one() or driver.sale(rng.choice(driver.cards))
        elif roll < 0.72:
            driver.void_last() or driver.sale(None)
        elif roll < 0.85:
            driver.enrol()
        elif not replaced and number > 3:
            driver.replace_card(driver.cards[driver.index % DEMO_MEMBERS])
            replaced = True
        else:
            driver.sale(rng.choice(driver.cards), redeem=True)
    driver.till.close_shift()


def members_csv_from_till(driver: TillDriver) -> str:
    """The demo store's members as the server imports them: same ids, cards and balances."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["member_id", "name", "phone", "email", "tier", "card_number", "balance"])
    with driver.database.read() as db:
        rows = db.execute(
            "SELECT m.member_id, m.name, m.phone, m.email, m.tier, c.card_number, "
            "m.server_balance FROM members m JOIN cards c ON c.member_key = m.member_key "
            "WHERE c.status = 'active' AND m.member_id IS NOT NULL ORDER BY m.member_id"
        ).fetchall()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


@dataclass
class Model:
    """The simplest possible ledger: each member's opening balance plus what the tills said."""

    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def opening(cls, driver: TillDriver) -> Model:
        model = cls()
        with driver.database.read() as db:
            for member_id, balance in db.execute(
                "SELECT member_id, server_balance FROM members WHERE member_id IS NOT NULL"
            ).fetchall():
                model.balances[member_id] = int(balance)
        return model

    def apply(self, records: Iterable[dict[str, Any]]) -> None:
        sales: dict[tuple[str, int], tuple[str, int]] = {}
        for record in records:
            entry = JournalEntry.model_validate(record)
            payload = entry.payload
            if isinstance(payload, Sale) and payload.member is not None:
                key = payload.member.member_id or f"local:{payload.member.local_member_id}"
                delta = payload.points_earned - payload.points_redeemed
                self.balances[key] += delta
                sales[(entry.terminal_id, entry.seq)] = (key, delta)
            elif isinstance(payload, Return) and payload.member is not None:
                key = payload.member.member_id or f"local:{payload.member.local_member_id}"
                self.balances[key] += payload.points_restored - payload.points_reversed
            elif isinstance(payload, Enrolment):
                self.balances[f"local:{payload.local_member_id}"] += 0
            elif isinstance(payload, Void):
                original = sales.get((payload.original.terminal_id, payload.original.seq))
                if original is not None:
                    self.balances[original[0]] -= original[1]


def sale_of(driver: TillDriver, seq: int) -> JournalEntry | None:
    with driver.database.read() as db:
        return get_entry(db, seq)
