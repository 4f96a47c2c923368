"""Beyond the offline redemption cap the till asks HQ for the live balance (docs/design.md,
offline redemption) — and refuses clearly when HQ cannot answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.journal import TenderMethod
from syncserver.embedded import serve_in_thread
from syncserver.hq.imports import import_catalog, import_members
from syncserver.storage.database import Database
from terminal.config import TillConfig
from terminal.demo.seed import seed_cashiers_and_offers
from terminal.store import open_database
from terminal.sync.client import SyncClient
from terminal.sync.engine import SyncEngine
from terminal.till.errors import RedemptionRefusedError
from terminal.till.service import Till
from tests.server.helpers import bearer, members_csv, prepare
from tests.server.journal import card

CATALOG = (
    "sku,description,category,price_minor,tax_rate_bp\n4006381333931,Gin 70 cl,alcohol,5000,1900\n"
)


def test_a_redemption_beyond_the_cap_is_approved_by_hq_or_refused_without_it(
    database: Database, tmp_path: Path
) -> None:
    server = prepare(database, with_members=False)
    import_members(database, members_csv([("M0000000009", card(9), 5000, "member")]))
    import_catalog(database, CATALOG)
    terminal_id, token = server.terminal()
    with serve_in_thread(database) as url:
        config = TillConfig(
            data_dir=tmp_path / "till",
            terminal_id=terminal_id,
            server_url=url,
            server_token=token,
            timezone="Europe/Berlin",
        )
        till_db = open_database(config.database_path)
        seed_cashiers_and_offers(till_db)
        client = SyncClient(url, token)
        engine = SyncEngine(config, till_db, client)
        engine.sync_once()
        till = Till(config, till_db, hq=client.member)
        till.sign_in("1", "1234")

        basket = till.new_basket()
        till.add_product(basket, "4006381333931", 2)
        till.attach_member(basket, card(9))
        quote = till.redeem(basket, 1500)  # the demo program's offline cap is 1,000 a day
        assert quote.points == 1500
        assert basket.hq_approved_balance == 5000
        till.add_tender(basket, TenderMethod.CARD, None)
        done = till.complete_sale(basket)
        engine.sync_once()
        expected = 5000 - 1500 + done.entry.payload.points_earned  # type: ignore[union-attr]
        assert server.balance("M0000000009") == expected
        assert till.member_view(card(9)).balance == expected

        unknown = httpx.get(
            f"{url}/api/v1/sync/member",
            params={"card": card(77)},
            headers=bearer(token),
            timeout=60,
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "not_found"
        assert (
            httpx.get(f"{url}/api/v1/sync/member", params={"card": card(9)}, timeout=60).status_code
            == 401
        )

    # HQ is gone: beyond today's offline cap (1,500 already redeemed today) is refused
    # with the reason, and nothing is applied to the basket.
    basket = till.new_basket()
    till.add_product(basket, "4006381333931", 2)
    till.attach_member(basket, card(9))
    with pytest.raises(RedemptionRefusedError, match="HQ cannot be reached: at most 0 pts"):
        till.redeem(basket, 200)
    assert basket.redemption is None
    client.close()
    till_db.close()
