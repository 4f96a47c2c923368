"""HQ dashboard benchmark: figures, not pass/fail.

    .venv/bin/python -m bench.hq_bench --members 1000000 --db sqlite|postgres|both
        [--repeat 40] [--pg URL] [--seed 7]

1. **Seeding.** A fresh server database (``syncserver.storage.migrate.upgrade``; on
   PostgreSQL a new ``loyaltill_hqbench_*`` database, dropped at the end) gets the demo program
   rules, 40 tills in 10 stores and N members with realistic names, phones, e-mails
   (``name_key`` from ``storage.members.name_key``), cards (2 % with an older blocked card)
   and a consistent ledger: each member makes 0–6 sales over the last 120 days at the tills,
   earning points (computed by the real rules engine) and sometimes redeeming them. Every
   sale is a genuine, hash-chained journal entry of its till in ``journal_entries`` with its
   postings (each entry's postings sum to zero); 3 % of members also get an HQ adjustment (an
   ``hq_events`` row, its postings and an audit row). ``member_balances`` is the sum of each
   member's postings and ``last_active_at`` the time of their latest sale. One member (the
   first) has 10,000 sales, so the ledger has deep pages. Plus ~0.5 % exceptions (a fifth
   open), tens of thousands of audit rows, some tills offline. Bulk inserts: COPY on
   PostgreSQL, executemany on SQLite, with progress on stderr; seeding time is printed.
2. **Overview queries.** Each query of ``syncserver.hq.overview``, run directly: p50 / max.
3. **Pages and API.** A real uvicorn (``syncserver.embedded.serve_in_thread``) serves the
   database; a viewer signs in through ``/signin`` (and holds an API token). Each endpoint is
   requested ``--repeat`` times after a warm-up: p50 / p99 / max. Endpoints other parts of
   the dashboard have not built yet answer 404: they are skipped with a note, so the bench
   runs whenever it is run.

PostgreSQL comes from ``--pg`` or ``LOYALTILL_BENCH_PG`` / ``LOYALTILL_TEST_PG`` (loopback
only). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Connection, Table, create_engine, event, func, select, text, update
from sqlalchemy.engine import make_url

from bench.sync_bench import ProgressLine, check_loopback, demo_rules_json, fresh_database, say
from shared.codes import card_number_from_serial
from shared.journal import (
    JournalEntry,
    MemberRef,
    PointsRedeemed,
    Sale,
    SaleLine,
    Tender,
    TenderMethod,
    entry_hash_and_body,
    format_utc,
)
from shared.phones import reversed_key
from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn
from shared.text import fold
from syncserver.embedded import serve_in_thread
from syncserver.hq import overview as ov
from syncserver.hq.rules import publish_rules
from syncserver.ledger.accounts import ADJUSTED, ISSUED, REDEEMED
from syncserver.ledger.hq_events import PointsAdjustment
from syncserver.settings import ServerSettings, utc_now
from syncserver.storage import members as member_store
from syncserver.storage.counter import allocate_positions
from syncserver.storage.database import Database, bulk_insert, normalize_url
from syncserver.storage.members import name_key, name_words
from syncserver.storage.migrate import upgrade
from syncserver.storage.schema import (
    audit_log,
    cards,
    exceptions,
    hq_events,
    journal_entries,
    member_balances,
    member_words,
    members,
    postings,
    terminals,
)
from syncserver.storage.terminals import add_terminal
from syncserver.storage.users import Role, add_user, create_token
from terminal.config import TillConfig

HISTORY_DAYS = 120
STORES = 10
TILLS_PER_STORE = 4
HEAVY_SALES = 10_000
"""Sales of member 1: a ledger with deep pages."""
BATCH = 20_000
ENDPOINT_BUDGET_S = 20
"""Requests to one endpoint stop after about this long (at least 3)."""
VIEWER = "bench-viewer"
VIEWER_PASSWORD = "bench-viewer-correct-horse"

FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Elif", "Finn", "Greta", "Hamid", "Ines", "Jonas", "Katarzyna",
    "Lukas", "Marie", "Noah", "Olga", "Paul", "Quentin", "Rosa", "Sven", "Tomás", "Ursula",
    "Viktor", "Wiebke", "Xavier", "Yasmin", "Zoë", "Ahmet", "Birgit", "Carlos", "Dana", "Emil",
    "Fatima", "Georg", "Hannah", "Igor", "Julia", "Karim", "Lena", "Mateo", "Nina", "Oskar",
    "Pia", "Rafael", "Sofia", "Till", "Uwe", "Vera", "Wei", "Yusuf", "Zeynep",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Braun",
    "Zimmermann", "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler",
    "Dubois", "García", "Rossi", "Nowak", "O'Brien", "Yılmaz", "Kowalski", "Jensen", "Novák",
    "Silva", "Costa", "Andersson", "Nguyen", "Papadopoulos", "Horvat", "Ivanova", "De Vries",
    "Janssen", "Kaya", "Popescu", "Petrović", "Murphy", "Larsen", "Virtanen",
)  # fmt: skip
_ASCII = str.maketrans({"ü": "ue", "ö": "oe", "ä": "ae", "é": "e", "á": "a", "ë": "e",
                        "ı": "i", "ć": "c", "'": "", " ": "", "ß": "ss"})  # fmt: skip

PRODUCTS = (
    # (sku, description, category, unit price in minor units) — no campaign categories, so
    # the points a basket earns do not depend on the time of day.
    ("4006381333931", "Whole milk 1 l", "dairy", 119),
    ("4008400402222", "Butter 250 g", "dairy", 229),
    ("4000417025005", "Pasta 500 g", "grocery", 149),
    ("4001686301265", "Coffee beans 1 kg", "grocery", 1399),
    ("4337256383049", "Olive oil 750 ml", "grocery", 899),
    ("4305615418919", "Dish soap", "household", 189),
    ("4005808262885", "Laundry detergent 20 WL", "household", 699),
    ("4388844009947", "Own-brand muesli", "own-brand", 279),
    ("4388860212338", "Own-brand tomatoes 400 g", "own-brand", 89),
    ("4104420053678", "Mineral water 6 x 1.5 l", "drinks", 399),
    ("4066600204404", "Orange juice 1 l", "drinks", 249),
    ("4311501490017", "Cheese slices 200 g", "dairy", 259),
)
BASKETS = 24
REDEEM_CHOICES = (200, 500, 1000)


# --- output helpers -----------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Timing:
    label: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    def row(self) -> str:
        if not self.samples:
            return f"  {self.label:<44} {'—':>9} {'—':>9} {'—':>9}   {self.note}"
        p50, p99 = statistics.median(self.samples), percentile(self.samples, 99)
        return f"  {self.label:<44} {p50:>9.1f} {p99:>9.1f} {max(self.samples):>9.1f}   {self.note}"


def table(
    title: str, rows: Sequence[Timing], head: tuple[str, str, str] = ("p50", "p99", "max")
) -> None:
    say(f"\n  {title}")
    say(f"  {'':<44} {head[0] + ' ms':>9} {head[1] + ' ms':>9} {head[2] + ' ms':>9}")
    for row in rows:
        say(row.row())


# --- generating the program ---------------------------------------------------------------------


def _stamp(database: Database, moment: datetime) -> str:
    """A timestamp in the text form the driver gets for a DateTime column."""
    if database.is_postgres:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True)
class Basket:
    lines: tuple[SaleLine, ...]
    subtotal: int


def _baskets(rng: random.Random) -> list[Basket]:
    out = []
    for _ in range(BASKETS):
        chosen = rng.sample(PRODUCTS, rng.randint(2, 5))
        lines = []
        for no, (sku, description, category, price) in enumerate(chosen, start=1):
            quantity = rng.randint(1, 4)
            lines.append(
                SaleLine(
                    line_no=no,
                    sku=sku,
                    description=description,
                    category=category,
                    quantity=quantity,
                    unit_price_minor=price,
                    net_minor=quantity * price,
                    tax_rate_bp=700,
                    tax_minor=quantity * price * 700 // 10_700,
                )
            )
        out.append(Basket(tuple(lines), sum(line.net_minor for line in lines)))
    return out


_TOP_SLOTS = ("cashier_id", "entry_id", "occurred_at", "prev_hash", "seq", "terminal_id")
_PAYLOAD_SLOTS = ("member", "receipt_no", "store_id")
_SLOT = re.compile(r'"\\u0000(\d+)"')


class CanonicalTemplate:
    """A sale record's canonical JSON (``shared.journal.canonical_json``: sorted keys, no
    spaces) with holes for what differs between entries, so a million entries are not each
    serialised from scratch. Key order does not depend on the values, so filling the holes
    gives exactly the canonical JSON of the whole record; :func:`_check_record` proves it
    against ``shared.journal.entry_hash_and_body`` now and then."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        marked = dict(record)
        payload = dict(record["payload"])
        for number, key in enumerate(_PAYLOAD_SLOTS):
            payload[key] = f"\x00{number}"
        marked["payload"] = payload
        for number, key in enumerate(_TOP_SLOTS, start=len(_PAYLOAD_SLOTS)):
            marked[key] = f"\x00{number}"
        text = json.dumps(marked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        pieces = _SLOT.split(text)
        self.literals = pieces[0::2]
        self.order = [int(n) for n in pieces[1::2]]

    def fill(self, values: Sequence[str]) -> str:
        """``values``: the JSON text of each slot (payload slots first, then top-level)."""
        out = [self.literals[0]]
        for slot, literal in zip(self.order, self.literals[1:], strict=True):
            out.append(values[slot])
            out.append(literal)
        return "".join(out)

    def real_record(self, values: Sequence[str]) -> dict[str, Any]:
        record = dict(self.record)
        payload = dict(record["payload"])
        for number, key in enumerate(_PAYLOAD_SLOTS):
            payload[key] = json.loads(values[number])
        record["payload"] = payload
        for number, key in enumerate(_TOP_SLOTS, start=len(_PAYLOAD_SLOTS)):
            record[key] = json.loads(values[number])
        return record


def _check_record(template: CanonicalTemplate, values: Sequence[str], body: str) -> None:
    _digest, canonical = entry_hash_and_body(template.real_record(values))
    if canonical.decode("utf-8") != body:
        raise SystemExit("bench bug: its canonical JSON differs from shared.journal's")


class SaleTemplates:
    """One genuine sale record per (basket, tier, points redeemed), built with the real models
    and the real rules engine; each journal entry is a copy with its own till, time, member
    and chain link (and is hashed again)."""

    def __init__(self, rules: ProgramRules, baskets: list[Basket]) -> None:
        self.rules = rules
        self.baskets = baskets
        self._made: dict[tuple[int, str, int], tuple[CanonicalTemplate, int]] = {}

    def can_redeem(self, basket: int, points: int) -> bool:
        discount = self.rules.redemption.discount_minor(points)
        limit = self.baskets[basket].subtotal * self.rules.redemption.max_basket_percent // 100
        return discount <= limit

    def get(self, basket: int, tier: str, redeem: int) -> tuple[CanonicalTemplate, int]:
        """(the sale's canonical template, points earned)."""
        key = (basket, tier, redeem)
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = self._make(*key)
        return found

    def _make(self, basket_no: int, tier: str, redeem: int) -> tuple[CanonicalTemplate, int]:
        basket = self.baskets[basket_no]
        discount = self.rules.redemption.discount_minor(redeem) if redeem else 0
        earned = compute_earn(
            self.rules,
            [
                BasketLine(
                    line_no=line.line_no,
                    sku=line.sku,
                    category=line.category,
                    quantity=line.quantity,
                    net_minor=line.net_minor,
                )
                for line in basket.lines
            ],
            EarnContext(store_id="S01", local_time=datetime(2026, 11, 18, 11, 0), tier=tier),
            order_discount_minor=discount,
        )
        total = basket.subtotal - discount
        entry = JournalEntry.create(
            previous=None,
            terminal_id="T0001",
            entry_id=str(uuid.uuid4()),
            occurred_at=datetime(2026, 11, 18, 10, 0, tzinfo=UTC),
            utc_offset_min=60,
            cashier_id="1",
            payload=Sale(
                store_id="S01",
                receipt_no="T0001-1",
                currency=self.rules.currency,
                lines=basket.lines,
                subtotal_minor=basket.subtotal,
                total_minor=total,
                tax_minor=sum(line.tax_minor for line in basket.lines),
                tenders=(Tender(method=TenderMethod.CARD, amount_minor=total),),
                member=MemberRef(card_number="0", member_id="M0"),
                earned=earned,
                redeemed=PointsRedeemed(
                    points=redeem, discount_minor=discount, rules_version=self.rules.version
                )
                if redeem
                else None,
            ),
        )
        record = entry.to_record()
        del record["hash"]
        return CanonicalTemplate(record), earned.total_points


@dataclass
class Seeded:
    members: int
    entries: int
    postings: int
    adjustments: int
    exceptions: int
    audit: int
    seconds: float
    heavy_member: str
    sample: list[dict[str, str]]
    """A few members to search for: id, card, phone, email, name."""


def _member_name(rng: random.Random) -> tuple[str, str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if rng.random() < 0.08:
        first = f"{first}-{rng.choice(FIRST_NAMES)}"
    return first, last, f"{first} {last}"


def _email(first: str, last: str, n: int) -> str:
    local = f"{first}.{last}".lower().translate(_ASCII)
    return f"{local}{n}@example.{('com', 'de', 'net', 'org')[n % 4]}"


_PHONE_KEY: Callable[[str | None], str | None] | None = (
    getattr(member_store, "phone_key", None) if "phone_key" in members.c else None
)
"""The members part's phone search key (E.164 digits), where the schema has one."""
_PHONE_RKEY = "phone_rkey" in members.c
"""The key reversed (search by the end of a number), where the schema has it."""
_MEMBER_COLUMNS = (
    "member_id", "name", "name_key", "phone", "email", "tier", "marketing_consent",
    "consent_text_version", "created_at", "change_seq", "last_active_at",
) + (("phone_key",) if _PHONE_KEY is not None else ()) + (
    ("phone_rkey",) if _PHONE_RKEY else ()
)  # fmt: skip


def _phone(n: int) -> str:
    return f"+49 1{5 + n % 3}{n % 10} {n:07d}"


class Seeder:
    def __init__(
        self, database: Database, count: int, seed: int, *, heavy_sales: int = HEAVY_SALES
    ) -> None:
        self.db = database
        self.count = count
        self.heavy_sales = heavy_sales
        self.rng = random.Random(seed)
        self.now = utc_now()
        self.codes = TillConfig().code_config()

    def run(self) -> Seeded:
        start = time.perf_counter()
        upgrade(self.db)
        publish_rules(self.db, demo_rules_json())
        rules = ProgramRules.from_json(demo_rules_json())
        templates = SaleTemplates(rules, _baskets(self.rng))
        tills = self._tills()
        self._staff()
        say(f"  migrated; rules v{rules.version}; {len(tills)} tills in {STORES} stores")

        # 1. who buys what when: per member, in time order, with balances kept non-negative.
        bar = ProgressLine("plan members' sales", self.count)
        events: list[tuple[int, int, int, int, int]] = []
        """(time µs, member index, till index or -1 for an HQ adjustment, basket, points)"""
        tiers = ["member"] * self.count
        balances = [0] * self.count
        last_active: list[int] = [0] * self.count
        window_us = HISTORY_DAYS * 86_400_000_000
        now_us = int(self.now.timestamp() * 1_000_000)
        day_us = 86_400_000_000
        rng = self.rng
        weights = (10, 20, 22, 18, 13, 9, 8)
        ks = rng.choices(range(7), weights=weights, k=self.count)
        for index in range(self.count):
            tier = "gold" if index % 50 == 0 else "silver" if index % 7 == 0 else "member"
            tiers[index] = tier
            k = self.heavy_sales if index == 0 else ks[index]
            times = []
            for _ in range(k):
                day = now_us - window_us + rng.randrange(HISTORY_DAYS + 1) * day_us
                moment = day - day % day_us + rng.randrange(7 * 3600, 20 * 3600) * 1_000_000
                times.append(min(moment, now_us - 60_000_000))
            times.sort()
            home = rng.randrange(STORES)
            balance = 0
            for moment in times:
                store = home if rng.random() < 0.85 else rng.randrange(STORES)
                till = store * TILLS_PER_STORE + rng.randrange(TILLS_PER_STORE)
                basket = rng.randrange(BASKETS)
                redeem = 0
                if balance >= 200 and rng.random() < 0.3:
                    options = [
                        p
                        for p in REDEEM_CHOICES
                        if p <= balance and templates.can_redeem(basket, p)
                    ]
                    redeem = rng.choice(options) if options else 0
                earned = templates.get(basket, tier, redeem)[1]
                balance += earned - redeem
                events.append((moment, index, till, basket, redeem))
            if times:
                last_active[index] = times[-1]
            if index and rng.random() < 0.03:  # an HQ adjustment: goodwill, or a correction
                amount = rng.choice((50, 100, 250, 500)) * (
                    -1 if balance >= 500 and rng.random() < 0.3 else 1
                )
                moment = (times[-1] if times else now_us - window_us) + 3_600_000_000
                events.append((min(moment, now_us - 1), index, -1, 0, amount))
                balance += amount
            balances[index] = balance
            if index % BATCH == 0:
                bar.update(index)
        bar.update(self.count)
        bar.done()
        events.sort()
        say(f"  planned {len(events):,} ledger events in {time.perf_counter() - start:.1f} s")

        # 2. members, cards, balances.
        first_position = self._positions(len(events) + self.count)
        sample = self._members(tiers, balances, last_active, first_position + len(events))

        # 3. the journal and the ledger, in time order (as tills would have pushed it).
        entries, posted, adjustments, adjusted_members = self._ledger(
            events, tills, tiers, templates, first_position
        )
        exceptions_count = self._exceptions(tills)
        audit_count = self._audit(adjusted_members)
        self._finish_tills(tills)
        self._check()
        self._analyze()
        return Seeded(
            members=self.count,
            entries=entries,
            postings=posted,
            adjustments=adjustments,
            exceptions=exceptions_count,
            audit=audit_count,
            seconds=time.perf_counter() - start,
            heavy_member=self.member_id(0),
            sample=sample,
        )

    # --- parts -------------------------------------------------------------------------------

    @staticmethod
    def member_id(index: int) -> str:
        return f"M{index + 1:010d}"

    def card(self, index: int) -> str:
        return card_number_from_serial(self.codes, index + 1)

    def _positions(self, count: int) -> int:
        with self.db.write() as conn:
            return allocate_positions(conn, count)

    def _tills(self) -> list[dict[str, Any]]:
        out = []
        with self.db.write() as conn:
            for store in range(STORES):
                for number in range(TILLS_PER_STORE):
                    terminal_id, _token = add_terminal(
                        conn,
                        f"S{store + 1:02d}",
                        f"Till {number + 1}",
                        self.now - timedelta(days=400),
                    )
                    out.append({"id": terminal_id, "store": f"S{store + 1:02d}", "seq": 0,
                                "hash": "0" * 64})  # fmt: skip
            # A till registered but never set up, and one HQ revoked.
            add_terminal(conn, "S01", "Spare till (never used)", self.now - timedelta(days=3))
            revoked, _ = add_terminal(conn, "S02", "Stolen till", self.now - timedelta(days=200))
            conn.execute(
                update(terminals)
                .where(terminals.c.terminal_id == revoked)
                .values(revoked_at=self.now - timedelta(days=20), revoked_by="ada")
            )
        return out

    def _staff(self) -> None:
        with self.db.write() as conn:
            add_user(conn, VIEWER, Role.VIEWER, self.now, password=VIEWER_PASSWORD)
            for name, role in (("ada", Role.ADMIN), ("mo", Role.MANAGER), ("max", Role.MANAGER)):
                add_user(conn, name, role, self.now - timedelta(days=365))

    def token(self) -> str:
        with self.db.write() as conn:
            return create_token(conn, VIEWER, utc_now(), "bench")

    def _members(
        self, tiers: list[str], balances: list[int], last_active: list[int], first_position: int
    ) -> list[dict[str, str]]:
        bar = ProgressLine("members, cards, balances", self.count)
        rng = random.Random(self.rng.random())
        sample: list[dict[str, str]] = []
        picks = set(rng.sample(range(1, self.count), min(200, self.count - 1)))
        done = 0
        for first in range(0, self.count, BATCH):
            member_rows: list[tuple[Any, ...]] = []
            card_rows: list[tuple[Any, ...]] = []
            balance_rows: list[tuple[str, int]] = []
            word_rows: list[tuple[str, str]] = []
            for index in range(first, min(first + BATCH, self.count)):
                given, family, name = _member_name(rng)
                member_id = self.member_id(index)
                created = self.now - timedelta(days=HISTORY_DAYS + rng.randrange(1, 900))
                active = (
                    format_utc(datetime.fromtimestamp(last_active[index] / 1e6, UTC))
                    if last_active[index]
                    else None
                )
                phone = _phone(index + 1) if rng.random() < 0.9 else None
                email = _email(given, family, index + 1) if rng.random() < 0.8 else None
                row: tuple[Any, ...] = (
                    member_id, name, name_key(name), phone, email, tiers[index],
                    index % 3 == 0, "2026-01" if index % 3 == 0 else None,
                    _stamp(self.db, created), first_position + index, active,
                )  # fmt: skip
                key = _PHONE_KEY(phone) if _PHONE_KEY is not None else None
                if _PHONE_KEY is not None:
                    row += (key,)
                if _PHONE_RKEY:
                    row += (reversed_key(key),)
                member_rows.append(row)
                word_rows += [(word, member_id) for word in name_words(name)]
                card_rows.append(
                    (self.card(index), member_id, "active", None, _stamp(self.db, created))
                )
                if index % 50 == 7:  # a lost card, replaced
                    card_rows.append((
                        card_number_from_serial(self.codes, self.count + 1 + index), member_id,
                        "blocked", "replaced (lost)", _stamp(self.db, created - timedelta(days=30)),
                    ))  # fmt: skip
                balance_rows.append((member_id, balances[index]))
                if index in picks and phone and email:
                    sample.append({"id": member_id, "card": self.card(index), "phone": phone,
                                   "email": email, "name": name})  # fmt: skip
            with self.db.write() as conn:
                bulk_insert(conn, members, _MEMBER_COLUMNS, member_rows)
                bulk_insert(
                    conn,
                    cards,
                    ("card_number", "member_id", "status", "blocked_reason", "created_at"),
                    card_rows,
                )
                bulk_insert(conn, member_balances, ("member_id", "points"), balance_rows)
                bulk_insert(conn, member_words, ("word", "member_id"), word_rows)
            done += len(member_rows)
            bar.update(done)
        bar.done()
        return sample

    def _ledger(
        self,
        events: list[tuple[int, int, int, int, int]],
        tills: list[dict[str, Any]],
        tiers: list[str],
        templates: SaleTemplates,
        first_position: int,
    ) -> tuple[int, int, int, set[int]]:
        bar = ProgressLine("journal entries + postings", len(events))
        entry_cols = (
            "terminal_id", "seq", "entry_id", "kind", "occurred_at", "hash", "record",
            "position", "received_at",
        )  # fmt: skip
        posting_cols = (
            "terminal_id", "seq", "hq_event_id", "line", "account", "member_id", "unit",
            "amount", "kind", "occurred_at", "created_at",
        )  # fmt: skip
        event_cols = ("id", "position", "kind", "record", "actor", "created_at")
        entries = posted = adjustments = 0
        adjusted: set[int] = set()
        checked: set[int] = set()
        rng = random.Random(self.rng.random())
        entry_rows: list[tuple[Any, ...]] = []
        posting_rows: list[tuple[Any, ...]] = []
        event_rows: list[tuple[Any, ...]] = []

        def flush() -> None:
            with self.db.write() as conn:
                bulk_insert(conn, journal_entries, entry_cols, entry_rows)
                bulk_insert(conn, hq_events, event_cols, event_rows)
                bulk_insert(conn, postings, posting_cols, posting_rows)
            entry_rows.clear()
            posting_rows.clear()
            event_rows.clear()

        for position, (moment_us, index, till_no, basket, points) in enumerate(
            events, start=first_position
        ):
            moment = datetime.fromtimestamp(moment_us / 1e6, UTC)
            occurred = format_utc(moment)
            created = _stamp(self.db, moment + timedelta(seconds=rng.randrange(2, 900)))
            member_id = self.member_id(index)
            account = f"member:{member_id}"
            if till_no < 0:
                adjustments += 1
                adjusted.add(index)
                event_id = adjustments
                record = PointsAdjustment(
                    occurred_at=occurred,
                    member_id=member_id,
                    amount=points,
                    reason="goodwill: complaint about a missed bonus"
                    if points > 0
                    else "correction: points earned on a cancelled order",
                ).model_dump_json()
                event_rows.append((event_id, position, "points_adjustment", record, "mo", created))
                posting_rows.append(
                    (None, None, event_id, 1, account, member_id, "points", points, "adjust",
                     occurred, created)
                )  # fmt: skip
                posting_rows.append(
                    (None, None, event_id, 2, ADJUSTED, None, "points", -points, "adjust",
                     occurred, created)
                )  # fmt: skip
                posted += 2
            else:
                till = tills[till_no]
                till["seq"] += 1
                seq = till["seq"]
                template, earned = templates.get(basket, tiers[index], points)
                entry_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                values = (
                    f'{{"card_number":"{self.card(index)}","local_member_id":null,'
                    f'"member_id":"{member_id}"}}',
                    f'"{till["id"]}-{seq}"',
                    f'"{till["store"]}"',
                    f'"{1 + rng.randrange(6)}"',
                    f'"{entry_id}"',
                    f'"{occurred}"',
                    f'"{till["hash"]}"',
                    str(seq),
                    f'"{till["id"]}"',
                )
                body = template.fill(values)
                if id(template) not in checked or entries % 100_000 == 0:
                    _check_record(template, values, body)
                    checked.add(id(template))
                hasher = hashlib.sha256(till["hash"].encode("ascii"))
                hasher.update(body.encode("utf-8"))
                digest = hasher.hexdigest()
                till["hash"] = digest
                stored = body[:-1] + f',"hash":"{digest}"}}'
                entry_rows.append(
                    (till["id"], seq, entry_id, "sale", occurred, digest, stored,
                     position, created)
                )  # fmt: skip
                legs: list[tuple[str, str | None, int, str]] = []
                if earned:
                    legs += [(account, member_id, earned, "earn"), (ISSUED, None, -earned, "earn")]
                if points:
                    legs += [
                        (REDEEMED, None, points, "redeem"),
                        (account, member_id, -points, "redeem"),
                    ]
                for line, (name, owner, amount, kind) in enumerate(legs, start=1):
                    posting_rows.append(
                        (till["id"], seq, None, line, name, owner, "points", amount, kind,
                         occurred, created)
                    )  # fmt: skip
                line = len(legs)
                posted += line
                entries += 1
            if len(entry_rows) + len(event_rows) >= BATCH:
                flush()
                bar.update(entries + adjustments)
        flush()
        bar.update(entries + adjustments)
        bar.done()
        if self.db.is_postgres and adjustments:
            with self.db.write() as conn:
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('hq_events', 'id'), :n)"),
                    {"n": adjustments},
                )
        return entries, posted, adjustments, adjusted

    def _exceptions(self, tills: list[dict[str, Any]]) -> int:
        rng = random.Random(self.rng.random())
        count = max(20, self.count // 200)
        kinds = (
            ("offline_overdraft", 30), ("rules_mismatch", 15), ("unknown_card", 20),
            ("card_blocked", 15), ("card_enrolled_twice", 5), ("unknown_original", 15),
        )  # fmt: skip
        names = [k for k, _ in kinds]
        weights = [w for _, w in kinds]
        rows = []
        for n in range(count):
            kind = rng.choices(names, weights)[0]
            till = rng.choice(tills)
            member = self.member_id(rng.randrange(self.count))
            seq = rng.randrange(1, max(2, till["seq"] + 1))
            created = self.now - timedelta(minutes=rng.randrange(90 * 24 * 60))
            amount = rng.choice((0, 50, 120, 200, 500)) if kind != "card_enrolled_twice" else 0
            open_ = n % 5 == 0
            resolution = rng.choice(("accept", "write_off", "adjust", "block_card"))
            rows.append((
                kind, till["id"], seq, member, amount,
                f"{kind.replace('_', ' ')} at {till['id']}#{seq}: {amount} pts (member {member})",
                "open" if open_ else "resolved", _stamp(self.db, created),
                None if open_ else _stamp(self.db, created + timedelta(hours=rng.randrange(1, 72))),
                None if open_ else rng.choice(("ada", "mo", "max")),
                None if open_ else "checked with the store manager",
                None if open_ else resolution,
            ))  # fmt: skip
        with self.db.write() as conn:
            bulk_insert(conn, exceptions, (
                "kind", "terminal_id", "seq", "member_id", "amount", "detail", "status",
                "created_at", "resolved_at", "resolved_by", "resolution", "resolution_kind",
            ), rows)  # fmt: skip
        return count

    def _audit(self, adjusted: set[int]) -> int:
        rng = random.Random(self.rng.random())
        rows = []
        for index in sorted(adjusted):
            when = self.now - timedelta(minutes=rng.randrange(HISTORY_DAYS * 24 * 60))
            rows.append((_stamp(self.db, when), "mo", "member.adjust", "member",
                         self.member_id(index), json.dumps({"via": "web", "reason": "goodwill"}),
                         "10.0.0.12"))  # fmt: skip
        for _ in range(max(50, self.count // 20)):
            when = self.now - timedelta(minutes=rng.randrange(HISTORY_DAYS * 24 * 60))
            actor = rng.choice(("ada", "mo", "max", VIEWER))
            action = rng.choices(
                ("staff.sign_in", "exception.resolve", "card.block", "program.publish"),
                (80, 15, 4, 1),
            )[0]
            target = ("member", self.member_id(rng.randrange(self.count)))
            if action == "staff.sign_in":
                target = (None, None)  # type: ignore[assignment]
            ip = f"10.0.0.{rng.randrange(2, 250)}"
            rows.append((_stamp(self.db, when), actor, action, target[0], target[1],
                         json.dumps({"via": "web"}), ip))  # fmt: skip
        rows.sort()
        with self.db.write() as conn:
            bulk_insert(conn, audit_log, (
                "at", "actor", "action", "target_kind", "target_id", "detail", "ip",
            ), rows)  # fmt: skip
        return len(rows)

    def _finish_tills(self, tills: list[dict[str, Any]]) -> None:
        rng = random.Random(self.rng.random())
        with self.db.write() as conn:
            for number, till in enumerate(tills):
                offline = number % 9 == 4  # a few tills not heard from for hours or days
                last = self.now - (
                    timedelta(hours=rng.randrange(2, 60))
                    if offline
                    else timedelta(seconds=rng.randrange(5, 600))
                )
                conn.execute(
                    update(terminals)
                    .where(terminals.c.terminal_id == till["id"])
                    .values(
                        acked_seq=till["seq"],
                        last_hash=till["hash"],
                        last_push_at=last,
                        last_pull_at=last + timedelta(seconds=3),
                        tip_seq=till["seq"] + (rng.randrange(5, 40) if offline else 0),
                    )
                )

    def _check(self) -> None:
        """The ledger is consistent: postings sum to zero; balances are their members' sums."""
        with self.db.read() as conn:
            total = conn.execute(select(func.coalesce(func.sum(postings.c.amount), 0))).scalar_one()
            owed = conn.execute(select(func.sum(member_balances.c.points))).scalar_one()
            on_members = conn.execute(
                select(func.sum(postings.c.amount)).where(postings.c.member_id.is_not(None))
            ).scalar_one()
        if int(total) != 0 or int(owed) != int(on_members):
            raise SystemExit(
                f"seeding bug: postings sum to {total}; balances {owed} != postings {on_members}"
            )

    def _analyze(self) -> None:
        """PostgreSQL: what autovacuum would have done by now (statistics, visibility map)."""
        if self.db.is_postgres:
            with self.db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )


# --- measuring ----------------------------------------------------------------------------------


def time_call(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_queries(database: Database, repeat: int) -> list[Timing]:
    now = utc_now()
    days = ov.series_days(now)
    work: list[tuple[str, Callable[[Connection], object]]] = [
        ("members total", ov.total_members),
        ("members active 30 days", lambda c: ov.active_members(c, now - timedelta(days=30))),
        ("members active 90 days", lambda c: ov.active_members(c, now - timedelta(days=90))),
        ("points outstanding (sum of balances)", ov.points_outstanding),
        ("issued/redeemed per day, 30 days", lambda c: ov.daily_series(c, days)),
        ("point value (newest rules)", ov.point_value),
        ("open exceptions by kind", ov.open_exceptions),
        ("tills offline > 1 h", lambda c: ov.offline_tills(c, now)),
    ]
    out = []
    for label, query in work:

        def once(query: Callable[[Connection], object] = query) -> object:
            with database.read() as conn:
                return query(conn)

        once()  # warm
        out.append(Timing(label, time_call(once, max(3, repeat // 4))))
    figures = ov.compute_figures(database)
    out.append(Timing("all heavy figures (one snapshot)", [figures.cost_ms]))
    return out


@dataclass
class Endpoint:
    label: str
    path: str
    api: bool


def _get(client: httpx.Client, endpoint: Endpoint, headers: dict[str, str]) -> httpx.Response:
    return client.get(endpoint.path, headers=headers if endpoint.api else None)


def _answered(reply: httpx.Response) -> bool:
    """200, or a redirect other than to the sign-in page (a search with one match may send
    the browser straight to the member's page)."""
    if reply.status_code == 200:
        return True
    location = reply.headers.get("location", "")
    return reply.status_code in (302, 303) and not location.startswith("/signin")


def _why(reply: httpx.Response) -> str:
    if reply.status_code == 404:
        return "skipped: 404 (not built yet?)"
    try:
        message = reply.json().get("error", {}).get("message", "")
    except ValueError:
        message = reply.text[:80].replace("\n", " ")
    return f"skipped: {reply.status_code} {message}"[:90]


def measure_http(
    database: Database, seeded: Seeded, token: str, repeat: int
) -> tuple[list[Timing], list[str]]:
    notes: list[str] = []
    settings = ServerSettings(db=database.url, cookie_secure=False)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(1)
    who = seeded.sample[: max(1, len(seeded.sample))]
    heavy = seeded.heavy_member
    timings: list[Timing] = []
    with (
        serve_in_thread(database, settings=settings) as url,
        httpx.Client(base_url=url, timeout=120, follow_redirects=False) as client,
    ):
        signed = client.post("/signin", data={"username": VIEWER, "password": VIEWER_PASSWORD})
        if signed.status_code != 303:
            raise SystemExit(f"could not sign in: {signed.status_code} {signed.text[:200]}")

        # The overview's first view computes the heavy figures (nothing cached yet).
        start = time.perf_counter()
        first = client.get("/")
        cold = Timing("overview page, first view (cold)", [(time.perf_counter() - start) * 1000])
        if first.status_code != 200:
            cold.samples.clear()
            cold.note = _why(first)
        timings.append(cold)

        def q(kind: str) -> Callable[[], str]:
            return lambda: quote(rng.choice(who)[kind], safe="")

        def prefix() -> str:
            name = rng.choice(who)["name"]
            return quote(name[: max(3, len(name.split()[0]) + 2)], safe="")

        varying: list[tuple[str, Callable[[], str], bool]] = [
            ("overview page /", lambda: "/", False),
            ("overview API", lambda: "/api/v1/overview", True),
        ]
        for kind, label in (("card", "card"), ("phone", "phone"), ("email", "e-mail"),
                            ("id", "member id")):  # fmt: skip
            value = q(kind)
            varying.append((f"search by {label} /members?q=", _path("/members?q=", value), False))
            varying.append((f"search by {label} API", _path("/api/v1/members?q=", value), True))
        varying.append(
            ("search by name prefix /members?q=", lambda: f"/members?q={prefix()}", False)
        )
        varying.append(("search by name prefix API", lambda: f"/api/v1/members?q={prefix()}", True))

        def words(pick: Callable[[list[str]], str]) -> Callable[[str], Callable[[], str]]:
            return lambda start: lambda: start + quote(pick(rng.choice(who)["name"].split()))

        for label, make in (
            ("search by phone, last 4 digits", lambda s: lambda: s + rng.choice(who)["phone"][-4:]),
            ("search by surname", words(lambda parts: parts[-1])),
            ("search by first name + 2 letters", words(lambda p: f"{p[0]} {p[-1][:2]}")),
            ("search by surname, folded (no accents)", words(lambda p: fold(p[-1]))),
        ):
            varying.append((f"{label} /members?q=", make("/members?q="), False))
            varying.append((f"{label} API", make("/api/v1/members?q="), True))
        member = q("id")
        varying += [
            ("member page /members/{id}", lambda: f"/members/{member()}", False),
            ("member API /api/v1/members/{id}", lambda: f"/api/v1/members/{member()}", True),
            ("member page, 10,000-sale member", lambda: f"/members/{heavy}", False),
            ("ledger API, first page", lambda: f"/api/v1/members/{member()}/ledger", True),
            ("ledger API, big member, 1st page", lambda: f"/api/v1/members/{heavy}/ledger", True),
            ("exceptions queue /exceptions", lambda: "/exceptions", False),
            ("exceptions API", lambda: "/api/v1/exceptions", True),
            ("audit log /audit", lambda: "/audit", False),
            ("audit API", lambda: "/api/v1/audit", True),
            ("terminals /terminals", lambda: "/terminals", False),
            ("terminals API", lambda: "/api/v1/terminals", True),
        ]  # fmt: skip
        deep = _deep_ledger_page(client, headers, heavy, notes)
        if deep is not None:
            varying.insert(
                varying.index(next(v for v in varying if v[0].startswith("exceptions queue"))),
                (f"ledger API, deep page ({deep[1]:,} postings in)", lambda: deep[0], True),
            )
        say(
            f"\n  [{'postgres' if database.is_postgres else 'sqlite'}] pages and API over HTTP "
            f"(up to {repeat} requests each, about {ENDPOINT_BUDGET_S} s at most)"
        )
        say(f"  {'':<44} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
        say(cold.row())
        for label, make_path, api in varying:
            timing = Timing(label)
            probe = Endpoint(label, make_path(), api)
            started = time.perf_counter()
            reply = _get(client, probe, headers)
            took = time.perf_counter() - started
            if reply.is_redirect and _answered(reply):
                timing.note = f"{reply.status_code} -> {reply.headers['location'].split('?')[0]}"
            if not _answered(reply):
                timing.note = _why(reply)
                notes.append(f"{label} ({probe.path}): {timing.note}")
                timings.append(timing)
                say(timing.row())
                continue
            # A slow endpoint gets fewer requests, so the bench ends in reasonable time.
            count = max(3, min(repeat, int(ENDPOINT_BUDGET_S / max(took, 1e-3))))
            if count < repeat:
                timing.note = (timing.note + f" only {count} requests (slow)").strip()
            _get(client, Endpoint(label, make_path(), api), headers)  # warm-up
            for _ in range(count):
                endpoint = Endpoint(label, make_path(), api)
                start = time.perf_counter()
                reply = _get(client, endpoint, headers)
                elapsed = (time.perf_counter() - start) * 1000
                if _answered(reply):
                    timing.samples.append(elapsed)
            timings.append(timing)
            say(timing.row())
    return timings, notes


def _path(start: str, value: Callable[[], str]) -> Callable[[], str]:
    return lambda: start + value()


def _deep_ledger_page(
    client: httpx.Client, headers: dict[str, str], member_id: str, notes: list[str]
) -> tuple[str, int] | None:
    """Follow the heavy member's ledger ``next_cursor`` 100 pages deep; that page's URL."""
    path = f"/api/v1/members/{member_id}/ledger"
    reply = client.get(path, headers=headers)
    if reply.status_code != 200:
        notes.append(f"ledger deep page: {_why(reply)}")
        return None
    depth = 0
    body = reply.json()
    url = path
    for _ in range(100):
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        if not cursor:
            break
        depth += len(body.get("items", []))
        url = f"{path}?cursor={quote(cursor, safe='')}"
        reply = client.get(url, headers=headers)
        if reply.status_code != 200:
            notes.append(f"ledger deep page: cursor page answered {_why(reply)}")
            return None
        body = reply.json()
    if depth == 0:
        notes.append("ledger deep page: the first page had no next_cursor")
        return None
    return url, depth


def _sizes(database: Database) -> dict[str, int]:
    tables: list[Table] = [members, cards, postings, journal_entries, exceptions, audit_log]
    with database.read() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in tables
        }


@contextlib.contextmanager
def new_database(kind: str, scratch: Path, args: argparse.Namespace) -> Iterator[str]:
    """A fresh database's URL; dropped afterwards unless ``--keep``."""
    if not args.keep:
        with fresh_database(kind, scratch, args.pg) as target:
            yield target.url
        return
    name = f"loyaltill_hqbench_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        keep_dir = Path(tempfile.mkdtemp(prefix="loyaltill-hq-bench-kept-"))
        yield f"sqlite:///{keep_dir / name}.sqlite3"
    else:
        maintenance = create_engine(normalize_url(args.pg), isolation_level="AUTOCOMMIT")
        with maintenance.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        maintenance.dispose()
        yield (
            make_url(normalize_url(args.pg))
            .set(database=name)
            .render_as_string(hide_password=False)
        )


def seed(url: str, args: argparse.Namespace) -> tuple[Seeded, str]:
    seeding = Database(url, durable=False)
    if not seeding.is_postgres:

        @event.listens_for(seeding.engine, "connect")
        def _big_cache(dbapi_connection: Any, _record: Any) -> None:
            # A 1 GiB page cache for the bulk load (index pages stay in memory).
            dbapi_connection.execute("PRAGMA cache_size=-1000000")

    try:
        seeder = Seeder(seeding, args.members, args.seed)
        seeded = seeder.run()
        token = seeder.token()
    finally:
        seeding.dispose()
    say(
        f"  seeded in {seeded.seconds:.1f} s: {seeded.members:,} members, "
        f"{seeded.entries:,} journal entries, {seeded.postings:,} postings, "
        f"{seeded.adjustments:,} HQ adjustments, {seeded.exceptions:,} exceptions, "
        f"{seeded.audit:,} audit rows"
    )
    return seeded, token


def already_seeded(url: str) -> tuple[Seeded, str]:
    """A database an earlier ``--keep`` run seeded: its members to search for, a new token."""
    database = Database(url)
    try:
        with database.read() as conn:
            count = int(conn.execute(select(func.count()).select_from(members)).scalar_one())
            picks = random.Random(1).sample(range(2, count + 1), min(400, count - 1))
            rows = conn.execute(
                select(
                    members.c.member_id,
                    members.c.name,
                    members.c.phone,
                    members.c.email,
                    cards.c.card_number,
                )
                .join(cards, cards.c.member_id == members.c.member_id)
                .where(
                    members.c.member_id.in_([Seeder.member_id(n - 1) for n in picks]),
                    cards.c.status == "active",
                    members.c.phone.is_not(None),
                    members.c.email.is_not(None),
                )
            ).all()
        with database.write() as conn:
            token = create_token(conn, VIEWER, utc_now(), "bench")
    finally:
        database.dispose()
    sample = [
        {"id": r.member_id, "card": r.card_number, "phone": r.phone, "email": r.email,
         "name": r.name}
        for r in rows
    ]  # fmt: skip
    seeded = Seeded(count, 0, 0, 0, 0, 0, 0.0, Seeder.member_id(0), sample)
    return seeded, token


def run_one(kind: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        if args.reuse:
            url = args.reuse
            say(f"\n[{kind}] measuring the database seeded earlier: {url}")
            seeded, token = already_seeded(url)
        else:
            say(f"\n[{kind}] seeding {args.members:,} members")
            url = stack.enter_context(new_database(kind, scratch, args))
            seeded, token = seed(url, args)
            if args.keep:
                say(f"  kept (measure again with --reuse): {url}")
        database = Database(url)
        try:
            sizes = _sizes(database)
            say("  rows: " + ", ".join(f"{name} {n:,}" for name, n in sizes.items()))
            queries = measure_queries(database, args.repeat)
            table(f"[{kind}] overview queries, run directly", queries)
            http, notes = measure_http(database, seeded, token, args.repeat)
            for note in notes:
                say(f"  note: {note}")
        finally:
            database.dispose()
    return {"seeded": seeded, "queries": queries, "http": http}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hq_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=40, help="requests per endpoint")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generated data")
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded databases (prints their URLs)"
    )
    parser.add_argument(
        "--reuse", metavar="URL", help="measure a database a --keep run seeded (no seeding)"
    )
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=os.environ.get("LOYALTILL_BENCH_PG") or os.environ.get("LOYALTILL_TEST_PG"),
        help="PostgreSQL on loopback the bench may create databases in",
    )
    args = parser.parse_args(argv)
    if args.members < 2:
        parser.error("--members must be at least 2")
    args.kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if args.reuse:
        args.kinds = ["postgres" if args.reuse.startswith("postgres") else "sqlite"]
    if "postgres" in args.kinds and not args.reuse:
        if not args.pg:
            parser.error("PostgreSQL needs --pg URL (or LOYALTILL_TEST_PG)")
        check_loopback(args.pg)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="loyaltill-hq-bench-"))
    say(
        f"HQ bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"{args.members:,} members, databases: {', '.join(args.kinds)}"
    )
    results = {}
    try:
        for kind in args.kinds:
            results[kind] = run_one(kind, args, scratch)
    finally:
        with contextlib.suppress(OSError):
            scratch.rmdir()
    if len(results) > 1:
        say("\nsummary: p50 ms (p99 ms) per database")
        kinds = list(results)
        say(f"  {'':<44} " + " ".join(f"{k:>18}" for k in kinds))
        say(
            f"  {'seeding':<44} "
            + " ".join(f"{results[k]['seeded'].seconds:>16.0f} s" for k in kinds)
        )
        labels = [t.label for t in results[kinds[0]]["queries"] + results[kinds[0]]["http"]]
        for label in labels:
            cells = []
            for k in kinds:
                found = next(
                    (t for t in results[k]["queries"] + results[k]["http"] if t.label == label),
                    None,
                )
                if found is None or not found.samples:
                    cells.append(f"{'skipped':>18}")
                else:
                    p50, p99 = statistics.median(found.samples), percentile(found.samples, 99)
                    cells.append(f"{f'{p50:.1f} ({p99:.1f})':>18}")
            say(f"  {label:<44} " + " ".join(cells))


if __name__ == "__main__":
    main()
