"""Seed a realistic demo store: catalog, members with cards, program rules, cashiers, offers.

Deterministic (a fixed random seed), so the README can name cards that exist.
"""

from __future__ import annotations

import importlib.resources
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from shared.codes import card_number_from_serial, gtin_check_digit
from shared.rules import ProgramRules
from shared.text import fold
from terminal.config import TillConfig
from terminal.store.cashiers import add_cashier
from terminal.store.catalog import save_rules
from terminal.store.database import TillDatabase
from terminal.store.members import index_names, phone_keys
from terminal.store.settings import get_setting, set_setting

__all__ = ["DEMO_CASHIERS", "demo_card", "demo_rules", "seed_demo"]

DEMO_CASHIERS = (("1", "Alex Meyer", "1234", "cashier"), ("9", "Sam Okafor", "9999", "supervisor"))

# (category, tax rate bp, price range in cents, names)
_CATALOG: tuple[tuple[str, int, tuple[int, int], tuple[str, ...]], ...] = (
    (
        "fruit-veg",
        700,
        (49, 499),
        (
            "Bananas",
            "Apples Elstar",
            "Strawberries 500 g",
            "Avocado",
            "Tomatoes on the vine",
            "Carrots 1 kg",
            "Blueberries",
            "Lemons",
            "Baby spinach",
            "Red peppers",
        ),
    ),
    (
        "bakery",
        700,
        (89, 549),
        (
            "Sourdough loaf",
            "Croissant",
            "Pain au chocolat",
            "Rye bread",
            "Baguette",
            "Cinnamon bun",
            "Brötchen x6",
        ),
    ),
    (
        "dairy",
        700,
        (59, 699),
        (
            "Whole milk 1 l",
            "Greek yoghurt",
            "Butter 250 g",
            "Gouda slices",
            "Crème fraîche",
            "Oat milk 1 l",
            "Eggs x10",
        ),
    ),
    (
        "own-brand",
        700,
        (79, 399),
        ("Harbour pasta 500 g", "Harbour rice 1 kg", "Harbour tomato sauce", "Harbour muesli"),
    ),
    (
        "grocery",
        700,
        (99, 899),
        (
            "Café crème beans 500 g",
            "Olive oil 750 ml",
            "Dark chocolate 70 %",
            "Honey 250 g",
            "Peanut butter",
            "Tea Earl Grey",
            "Müsli crunchy",
        ),
    ),
    (
        "drinks",
        1900,
        (69, 399),
        ("Sparkling water 1.5 l", "Orange juice 1 l", "Cola 1.5 l", "Kombucha"),
    ),
    ("alcohol", 1900, (199, 2499), ("Pilsner 6-pack", "Rioja 2021", "Crémant", "Gin 70 cl")),
    (
        "household",
        1900,
        (149, 1299),
        ("Washing-up liquid", "Kitchen roll x4", "Sponges x3", "Laundry gel"),
    ),
    ("reusable-bags", 1900, (99, 199), ("Jute bag", "Cotton tote")),
    ("baby-formula", 700, (1299, 2199), ("Infant formula 800 g",)),
    ("tobacco", 1900, (750, 1200), ("Cigarettes 20",)),
)
_DEPARTMENTS = (
    ("DEPT-GROCERY", "Grocery (open price)", "grocery", 700),
    ("DEPT-FRESH", "Fresh (open price)", "fruit-veg", 700),
    ("DEPT-GENERAL", "General (open price)", "household", 1900),
)
_FIRST = (
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Finn",
    "Greta",
    "Hamid",
    "Ines",
    "Jonas",
    "Kemal",
    "Lea",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Zoë",
    "Søren",
    "Łucja",
    "José",
)
_LAST = (
    "Müller",
    "Schmidt",
    "Dubois",
    "García",
    "Rossi",
    "Nowak",
    "Jensen",
    "Yilmaz",
    "O'Brien",
    "Novák",
    "Andersson",
    "Silva",
    "Kowalski",
    "Fischer",
    "Weber",
)


def demo_rules() -> ProgramRules:
    text = importlib.resources.files("shared.rules.examples").joinpath("demo_program.json")
    return ProgramRules.from_json(text.read_bytes())


def demo_card(config: TillConfig, serial: int) -> str:
    """Demo member number ``serial`` (1-based) has this card."""
    return card_number_from_serial(config.code_config(), serial)


def _gtin(rng: random.Random) -> str:
    body = "40" + "".join(rng.choice("0123456789") for _ in range(10))
    return body + gtin_check_digit(body)


@dataclass(frozen=True, slots=True)
class DemoProduct:
    sku: str
    description: str
    category: str
    price_minor: int
    tax_rate_bp: int
    open_price: bool


@dataclass(frozen=True, slots=True)
class DemoMember:
    member_id: str
    name: str
    phone: str
    email: str
    tier: str
    balance: int
    marketing_consent: bool
    card_number: str


DEMO_OFFERS = (
    ("O1", "Weekend fresh x2", "Double points on fruit, veg and bakery Sat-Sun", None, None),
    ("O2", "Gold: free coffee", "A free coffee with any purchase", "gold", None),
    ("O3", "Bag bonus", "10 points for every reusable bag", None, None),
)


_SEED = 20261123


def demo_products(count: int) -> list[DemoProduct]:
    """``count`` products with valid EAN-13 codes, then the open-price departments."""
    return _products(random.Random(_SEED), count)  # noqa: S311 (demo data, not secrets)


def _products(rng: random.Random, count: int) -> list[DemoProduct]:
    rows: list[DemoProduct] = []
    seen: set[str] = set()
    while len(rows) < count:
        category, tax, (low, high), names = _CATALOG[len(rows) % len(_CATALOG)]
        gtin = _gtin(rng)
        if gtin in seen:
            continue
        seen.add(gtin)
        base = names[(len(rows) // len(_CATALOG)) % len(names)]
        variant = len(rows) // (len(_CATALOG) * len(names))
        description = base if variant == 0 else f"{base} #{variant + 1}"
        rows.append(DemoProduct(gtin, description, category, rng.randint(low, high), tax, False))
    rows += [DemoProduct(sku, name, cat, 0, tax, True) for sku, name, cat, tax in _DEPARTMENTS]
    return rows


def demo_members(config: TillConfig, count: int, *, products: int = 300) -> Iterator[DemoMember]:
    """Demo member ``n`` (1-based) is ``M{n:07d}`` with card ``demo_card(config, n)``.

    Members continue the random stream after ``products`` products, so a store seeded with
    the same counts always has the same members (tests and the README name some).
    """
    rng = random.Random(_SEED)  # noqa: S311 (demo data, not secrets)
    _products(rng, products)
    for serial in range(1, count + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        balance = rng.choice((0, 120, 480, 950, 1500, 2600, 4200, 12000))
        yield DemoMember(
            member_id=f"M{serial:07d}",
            name=f"{first} {last}",
            phone=f"+49 151 {serial:08d}",
            email=f"{first}.{last}.{serial}@example.com".lower().replace("'", ""),
            tier="gold" if balance >= 10000 else "silver" if balance >= 2500 else "member",
            balance=balance,
            marketing_consent=serial % 3 == 0,
            card_number=demo_card(config, serial),
        )


def seed_cashiers_and_offers(database: TillDatabase) -> None:
    """What a till keeps locally even when HQ sends everything else."""
    with database.write() as db:
        if db.execute("SELECT COUNT(*) FROM cashiers").fetchone()[0]:
            return
        for cashier_id, name, pin, role in DEMO_CASHIERS:
            add_cashier(db, cashier_id, name, pin, role)
        db.conn.executemany(
            "INSERT OR REPLACE INTO offers (offer_id, title, description, tier, valid_until) "
            "VALUES (?, ?, ?, ?, ?)",
            DEMO_OFFERS,
        )


def seed_demo(
    database: TillDatabase,
    config: TillConfig,
    *,
    members: int = 3000,
    products: int = 300,
    progress: Callable[[str, int, int], None] | None = None,
) -> bool:
    """Fill an empty till database with the demo store directly (no HQ): rules, catalog,
    members with cards (member 4's old card blocked), cashiers and offers.

    Returns False if it was already seeded.
    """
    report = progress or (lambda _what, _done, _total: None)
    with database.read() as db:
        if get_setting(db, "demo_seeded"):
            return False
    seed_cashiers_and_offers(database)
    with database.write() as db:
        save_rules(db, demo_rules())
        catalog = demo_products(products)
        db.conn.executemany(
            "INSERT INTO products (sku, description, category, price_minor, tax_rate_bp, "
            "open_price) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (p.sku, p.description, p.category, p.price_minor, p.tax_rate_bp, int(p.open_price))
                for p in catalog
            ],
        )
        report("products", len(catalog), len(catalog))
        for chunk in _chunks(demo_members(config, members, products=products), 10_000):
            db.conn.executemany(
                "INSERT INTO members (member_key, member_id, local_member_id, name, name_fold, "
                "phone, phone_digits, phone_rkey, email, tier, server_balance, "
                "marketing_consent) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        m.member_id,
                        m.member_id,
                        m.name,
                        fold(m.name),
                        m.phone,
                        *phone_keys(m.phone, config.country),
                        m.email,
                        m.tier,
                        m.balance,
                        m.marketing_consent,
                    )
                    for m in chunk
                ],
            )
            db.conn.executemany(
                "INSERT INTO cards (card_number, member_key, status) VALUES (?, ?, 'active')",
                [(m.card_number, m.member_id) for m in chunk],
            )
            index_names(db, ((m.member_id, m.name) for m in chunk))
            report("members", int(chunk[-1].member_id[1:]), members)
        if 4 <= members < 900_000:  # larger (benchmark) stores would reuse that serial
            # Demo member 4 lost a card: the old one is blocked, a newer one is active.
            db.execute(
                "INSERT INTO cards (card_number, member_key, status, blocked_reason) "
                "VALUES (?, 'M0000004', 'blocked', 'reported lost')",
                [blocked_demo_card(config)],
            )
        set_setting(db, "demo_seeded", "1")
    return True


def _chunks(items: Iterable[DemoMember], size: int) -> Iterator[list[DemoMember]]:
    chunk: list[DemoMember] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def blocked_demo_card(config: TillConfig) -> str:
    return card_number_from_serial(config.code_config(), 900_000 + 4)
