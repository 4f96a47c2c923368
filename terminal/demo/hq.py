"""The demo's embedded HQ: a sync server on a SQLite file, seeded with the demo program,
catalog and members, with this till registered. The till then gets everything by pulling,
exactly as a real store's till does on its first start."""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from terminal.config import TillConfig
from terminal.demo.seed import blocked_demo_card, demo_members, demo_products

__all__ = ["DemoHQ", "prepare_demo_hq"]


@dataclass(frozen=True, slots=True)
class DemoHQ:
    db_url: str
    terminal_id: str
    token: str
    admin_password: str
    """The dashboard's ``admin`` password (demo only: kept in hq-registration.json, 0600)."""


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
    from syncserver.storage.terminals import add_terminal

    registration = data_dir / "hq-registration.json"
    db_url = f"sqlite:///{data_dir / 'hq.sqlite3'}"
    if registration.exists():
        saved = json.loads(registration.read_text(encoding="utf-8"))
        return DemoHQ(db_url, saved["terminal_id"], saved["token"], saved.get("admin_password", ""))
    database = Database(db_url)
    try:
        created = initialise(database)
        admin_password = created.admin.password if created.admin else ""
        rules = importlib.resources.files("shared.rules.examples").joinpath("demo_program.json")
        publish_rules(database, rules.read_bytes())
        import_catalog(database, _catalog_csv(products))
        say(f"  HQ: importing {members:,} members …")
        import_members(database, _members_csv(config, members, products))
        with database.write() as conn:
            terminal_id, token = add_terminal(conn, config.store_id, "demo till", utc_now())
    finally:
        database.dispose()
    # Created private before the secrets go in.
    registration.touch(mode=0o600)
    registration.write_text(
        json.dumps({"terminal_id": terminal_id, "token": token, "admin_password": admin_password}),
        encoding="utf-8",
    )
    return DemoHQ(db_url, terminal_id, token, admin_password)
