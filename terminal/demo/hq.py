"""The demo's embedded HQ: a sync server on a SQLite file, seeded with the demo program,
catalog, members and cashiers, with this till registered. The till then gets everything by
pulling, exactly as a real store's till does on its first start."""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from terminal.config import TillConfig
from terminal.demo.seed import DEMO_CASHIERS, blocked_demo_card, demo_members, demo_products

if TYPE_CHECKING:
    from syncserver.storage.database import Database

__all__ = ["DemoHQ", "prepare_demo_hq"]


@dataclass(frozen=True, slots=True)
class DemoHQ:
    db_url: str
    terminal_id: str
    token: str
    admin_password: str
    """The dashboard's ``admin`` password (demo only: kept in hq-registration.json, 0600)."""
    api_token: str = ""
    """A staff API token of ``admin`` for ``/api/v1`` (kept there too)."""


def _members_csv(config: TillConfig, members: int, products: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "member_id",
            "name",
            "phone",
            "email",
            "tier",
            "card_number",
            "balance",
            "marketing_consent",
        ]
    )
    for member in demo_members(config, members, products=products):
        # Member 4 starts on the card they will report lost (the demo till replaces it).
        card = blocked_demo_card(config) if member.member_id == "M0000004" else member.card_number
        writer.writerow(
            [
                member.member_id,
                member.name,
                member.phone,
                member.email,
                member.tier,
                card,
                member.balance,
                int(member.marketing_consent),
            ]
        )
    return out.getvalue()


def _catalog_csv(products: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "description", "category", "price_minor", "tax_rate_bp", "open_price"])
    for p in demo_products(products):
        writer.writerow(
            [p.sku, p.description, p.category, p.price_minor, p.tax_rate_bp, int(p.open_price)]
        )
    return out.getvalue()


def _seed_cashiers(database: Database, config: TillConfig) -> None:
    """The demo cashiers at HQ too: the till seeds the same ones locally (it may start before
    HQ answers), and HQ's copies, pulled, agree with them and show on the Cashiers page."""
    from syncserver.hq.cashiers import add_cashier
    from syncserver.hq.setup import CLI

    # The store exists: prepare_demo_hq adds it first (cashiers belong to a store HQ knows).
    for cashier_id, name, pin, role in DEMO_CASHIERS:
        add_cashier(
            database,
            CLI,
            store_id=config.store_id,
            cashier_id=cashier_id,
            name=name,
            pin=pin,
            role=role,
        )


def prepare_demo_hq(
    data_dir: Path,
    config: TillConfig,
    *,
    members: int,
    products: int,
    say: Callable[[str], None],
) -> DemoHQ:
    """Create (once) the demo HQ database and this till's registration."""
    from syncserver.hq.imports import import_catalog, import_members
    from syncserver.hq.rules import publish_rules
    from syncserver.hq.setup import initialise
    from syncserver.settings import utc_now
    from syncserver.storage.database import Database
    from syncserver.storage.stores import add_store
    from syncserver.storage.terminals import add_terminal

    registration = data_dir / "hq-registration.json"
    db_url = f"sqlite:///{data_dir / 'hq.sqlite3'}"
    if registration.exists():
        saved = json.loads(registration.read_text(encoding="utf-8"))
        if not saved.get("api_token"):  # a demo set up before the token was handed out
            saved["api_token"] = _new_api_token(db_url)
            registration.write_text(json.dumps(saved), encoding="utf-8")
        return DemoHQ(
            db_url,
            saved["terminal_id"],
            saved["token"],
            saved.get("admin_password", ""),
            saved["api_token"],
        )
    database = Database(db_url)
    try:
        created = initialise(database)
        admin_password = created.admin.password if created.admin else ""
        api_token = created.admin.token if created.admin else ""
        examples = importlib.resources.files("shared.rules.examples")
        program = examples.joinpath("demo_program.json").read_bytes()
        publish_rules(database, program)
        # Version 2 adds a rewards catalog, as a manager would in the program editor: the
        # till starts on version 1 (seeded) and pulls it, so rewards show from the first sale.
        document = json.loads(program)
        document["version"] = document["version"] + 1
        document["rewards"] = json.loads(examples.joinpath("demo_rewards.json").read_bytes())
        publish_rules(database, json.dumps(document), note="Rewards catalog for the demo")
        import_catalog(database, _catalog_csv(products))
        say(f"  HQ: importing {members:,} members …")
        import_members(database, _members_csv(config, members, products))
        with database.write() as conn:
            terminal_id, token = add_terminal(conn, config.store_id, "demo till", utc_now())
            # The store too, as `syncserver store add` makes it: HQ shows its times in its zone.
            add_store(
                conn,
                store_id=config.store_id,
                name=config.store_name,
                address=config.store_address,
                timezone=config.timezone,
                country=config.country,
                tax_id=config.store_tax_id,
                now=utc_now(),
            )
        _seed_cashiers(database, config)
    finally:
        database.dispose()
    # Created private before the secrets go in.
    registration.touch(mode=0o600)
    saved = {
        "terminal_id": terminal_id,
        "token": token,
        "admin_password": admin_password,
        "api_token": api_token or _new_api_token(db_url),
    }
    registration.write_text(json.dumps(saved), encoding="utf-8")
    return DemoHQ(db_url, terminal_id, token, admin_password, saved["api_token"])


def _new_api_token(db_url: str) -> str:
    """Another staff API token for ``admin`` (audited, as ``syncserver token create``)."""
    from syncserver.hq.setup import ADMIN, new_api_token
    from syncserver.storage.database import Database

    database = Database(db_url)
    try:
        return new_api_token(database, ADMIN, label="till demo")
    finally:
        database.dispose()
