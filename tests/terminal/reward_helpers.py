"""Shared set-up for the rewards tests (till service and screens): the demo program with a
catalog of rewards, published as the next rules version and saved by the till's own code,
and HQ's stock counts applied by the till's own pull code."""

from __future__ import annotations

import json
from typing import Any

from shared.protocol import PullResponse
from shared.rules import ProgramRules
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.store.catalog import current_rules, save_rules
from terminal.store.journal import journal_tip
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from tests.terminal.helpers import products
from tests.terminal.stored_value_helpers import UNREACHABLE_HQ


def bakery_sku(database: TillDatabase) -> str:
    """The cheapest bakery product: the free-product reward's SKU."""
    return min(products(database, "bakery"), key=lambda p: p.price_minor).sku


def bakery_name(database: TillDatabase) -> str:
    """The free-product reward's product, as the catalog names it."""
    return min(products(database, "bakery"), key=lambda p: p.price_minor).description


def catalog(database: TillDatabase) -> list[dict[str, Any]]:
    """A catalog covering each kind and each reason a reward is not offered."""
    return [
        {"id": "five-off", "name": "Five off", "points": 500, "kind": "voucher_amount",
         "value_minor": 500, "delivery": "apply_now"},
        {"id": "bakery-20", "name": "20% off bakery", "points": 250, "kind": "voucher_percent",
         "percent_bp": 2000, "value_minor": 200, "categories": ["bakery"],
         "delivery": "apply_now"},
        {"id": "free-bread", "name": "Free bread", "points": 150, "kind": "free_product",
         "sku": bakery_sku(database), "delivery": "apply_now"},
        {"id": "three-voucher", "name": "Three off next time", "points": 300,
         "kind": "voucher_amount", "value_minor": 300, "valid_days": 30},
        {"id": "gold-gift", "name": "Gold gift", "points": 100, "kind": "voucher_amount",
         "value_minor": 100, "tiers": ["gold"]},
        {"id": "tote", "name": "Tote bag", "points": 200, "kind": "free_product",
         "sku": bakery_sku(database), "stock": 2},
        {"id": "big", "name": "Big one", "points": 4000, "kind": "voucher_amount",
         "value_minor": 4000},
        {"id": "later", "name": "Not yet", "points": 10, "kind": "voucher_amount",
         "value_minor": 10, "starts": "2099-01-01"},
        {"id": "double", "name": "Double points", "points": 400, "kind": "bonus_multiplier",
         "multiplier": "2", "valid_days": 14, "tiers": ["gold"]},
    ]  # fmt: skip


def publish_rewards(database: TillDatabase, rewards: list[dict[str, Any]] | None = None) -> int:
    """The demo program plus ``rewards`` (default: :func:`catalog`) as the next version,
    saved by the till's own code as a pull would; returns the version."""
    with database.read() as db:
        rules = current_rules(db)
    assert rules is not None
    document = json.loads(rules.to_json())
    document["version"] = rules.version + 1
    document["rewards"] = catalog(database) if rewards is None else rewards
    published = ProgramRules.from_json(json.dumps(document))
    with database.write() as db:
        save_rules(db, published)
    return published.version


def apply_stock(
    config: TillConfig, database: TillDatabase, counts: dict[str, int], applied_through: int
) -> None:
    """HQ's pull page with ``rewards_issued`` = ``counts``, applied by the till's pull code."""
    with database.read() as db:
        tip, _ = journal_tip(db)
    assert applied_through <= tip
    page = PullResponse(
        cursor="r1", more=False, applied_through_seq=applied_through, rewards_issued=counts
    )
    with SyncClient(UNREACHABLE_HQ, "unused") as client:
        SyncEngine(config, database, client)._apply(page)
