"""HQ's gift cards: the dashboard's gift cards page (search by number or its last digits, one
card with its balance and history, block, move the balance to a new card), the overview's
money liability and breakage, a member's store credit on their page, and
``/api/v1/giftcards``, with every role and on SQLite and PostgreSQL.

The cards come from till entries pushed through the real push (a card sold at one till,
spent at another, a refund to store credit) and HQ's own actions."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import update

from shared.codes import generate_gift_card_number
from shared.journal import Sale, Tender, TenderMethod
from shared.protocol import PushRequest
from syncserver.hq.giftcard_views import giftcard_account
from syncserver.hq.overview import DORMANT_MONTHS, OverviewCache, load_overview
from syncserver.hq.setup import CLI
from syncserver.hq.voucher_views import account_history, classify_code, search_vouchers
from syncserver.hq.vouchers import issue_vouchers
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import stored_values
from syncserver.sync.push import push
from terminal.config import TillConfig
from tests.server.helpers import bearer
from tests.server.hq.helpers import Hq, csrf_of, prepare_hq, serve, signed_in
from tests.server.hq.test_query_plans import assert_index, assert_no_full_scan, plans
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")


@dataclass
class Scene:
    hq: Hq
    card: str
    """Sold for €25.00 at till A, €10.00 spent at till B: €15.00 left."""
    spare: str
    """A card HQ has not seen (the new card of a move)."""
    till_a: str
    till_b: str
    till_token: str


def _numbers(count: int) -> list[str]:
    rng = random.Random(31)
    config = TillConfig().code_config()
    return [generate_gift_card_number(config, rng) for _ in range(count)]


def _send(database: Database, till: JournalWriter) -> None:
    reply = push(
        database,
        till.terminal_id,
        PushRequest(terminal_id=till.terminal_id, entries=till.since(0)),
        utc_now,
    )
    assert reply.exceptions == [], reply.exceptions


def giftcard_scene(database: Database) -> Scene:
    hq = prepare_hq(database)
    number, spare = _numbers(2)
    till_a, token = hq.server.terminal(name="A")
    till_b, _ = hq.server.terminal(name="B")
    a, b = JournalWriter(till_a), JournalWriter(till_b)
    a.giftcard_load(number, 2500)
    sale = a.sale(ANNA)
    _send(database, a)
    b.sale(
        None,
        tenders=(
            Tender(method=TenderMethod.GIFT_CARD, amount_minor=1000, reference=number),
            Tender(method=TenderMethod.CASH, amount_minor=_basket_total() - 1000),
        ),
    )
    _send(database, b)
    # Anna returns a line from A's sale to store credit.
    refund = 100
    a.ret(
        sale,
        ANNA,
        refund=refund,
        tenders=(Tender(method=TenderMethod.STORE_CREDIT, amount_minor=refund),),
    )
    reply = push(database, till_a, PushRequest(terminal_id=till_a, entries=a.since(2)), utc_now)
    assert reply.exceptions == [], reply.exceptions
    return Scene(hq, number, spare, till_a, till_b, token)


def _basket_total() -> int:
    """What the default basket of a sale without a member costs."""
    sale = JournalWriter("T9999").sale(None).payload
    assert isinstance(sale, Sale)
    return sale.total_minor


def test_search_the_card_page_and_history(database: Database) -> None:
    scene = giftcard_scene(database)
    hq = scene.hq
    spaced = " ".join(scene.card[i : i + 4] for i in range(0, len(scene.card), 4))
    with serve(database) as url, signed_in(url, hq.viewer) as viewer:
        listing = viewer.get("/giftcards")
        by_number = viewer.get("/giftcards", params={"q": spaced})
        by_end = viewer.get("/giftcards", params={"q": scene.card[-4:]})
        too_short = viewer.get("/giftcards", params={"q": "12"})
        page = viewer.get(f"/giftcards/{scene.card}")
        unknown = viewer.get(f"/giftcards/{scene.spare}")
        bad_check = viewer.get(f"/giftcards/{scene.card[:-1]}{(int(scene.card[-1]) + 1) % 10}")
        member = viewer.get("/members/M0000000001")

    assert listing.status_code == 200
    assert scene.card in listing.text
    assert by_number.status_code == 303
    assert by_number.headers["location"] == f"/giftcards/{scene.card}"
    assert by_end.status_code == 200
    assert scene.card in by_end.text
    assert "at least its last 4 digits" in too_short.text
    text = page.text
    assert page.status_code == 200
    assert '<div class="value " id="card-balance">€15.00</div>' in text
    assert 'action="/giftcards/' not in text  # a viewer has no forms
    assert "need the <strong>manager</strong> role" in text
    # History: the sale at B (−€10.00, €15.00 after) and the sale of the card at A.
    assert f"till {scene.till_b} #1" in text
    assert f"till {scene.till_a} #1" in text
    assert f"receipt {scene.till_b}-1" in text
    assert f"receipt {scene.till_a}-G1" in text
    assert "-€10.00" in text
    assert "€25.00" in text
    assert unknown.status_code == 404
    assert f"no gift card {scene.spare}" in unknown.text
    assert bad_check.status_code == 404
    assert "not a whole gift card number" in bad_check.text
    assert 'id="store-credit"' in member.text
    assert '<strong class="">€1.00</strong>' in member.text


def test_block_and_move_by_role_then_the_overview(database: Database) -> None:
    scene = giftcard_scene(database)
    hq = scene.hq
    (code,) = issue_vouchers(database, count=1, value_minor=500, actor=CLI)
    assert code
    with serve(database) as url:
        with signed_in(url, hq.viewer) as viewer:
            token = csrf_of(viewer.get("/giftcards").text)
            viewer_block = viewer.post(
                f"/giftcards/{scene.card}/block", data={"csrf_token": token, "reason": "lost"}
            )
        with signed_in(url, hq.manager) as manager:
            page = manager.get(f"/giftcards/{scene.card}").text
            token = csrf_of(page)
            no_csrf = manager.post(f"/giftcards/{scene.card}/block", data={"reason": "lost"})
            no_reason = manager.post(
                f"/giftcards/{scene.card}/block", data={"csrf_token": token, "reason": ""}
            )
            blocked = manager.post(
                f"/giftcards/{scene.card}/block",
                data={"csrf_token": token, "reason": "reported lost"},
            )
            after_block = manager.get(blocked.headers["location"]).text
            again = manager.post(
                f"/giftcards/{scene.card}/block",
                data={"csrf_token": token, "reason": "reported lost"},
            )
            bad_new = manager.post(
                f"/giftcards/{scene.card}/move",
                data={"csrf_token": token, "new_number": "1234567890123", "reason": "lost"},
            )
            moved = manager.post(
                f"/giftcards/{scene.card}/move",
                data={"csrf_token": token, "new_number": scene.spare, "reason": "reported lost"},
            )
            new_page = manager.get(moved.headers["location"]).text
            old_page = manager.get(f"/giftcards/{scene.card}").text
            overview = manager.get("/").text

    assert viewer_block.status_code == 403
    assert 'action="/giftcards/' in page  # a manager has the forms
    assert no_csrf.status_code == 403
    assert no_reason.status_code == 422
    assert 'id="block-error"' in no_reason.text
    assert blocked.status_code == 303
    assert "Blocked gift card" in after_block
    assert "reported lost" in after_block
    assert again.status_code == 409
    assert "already blocked" in again.text
    assert bad_new.status_code == 422
    assert "not a valid gift card number" in bad_new.text
    assert 'value="1234567890123"' in bad_new.text  # what was typed comes back
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/giftcards/{scene.spare}"
    assert '<div class="value " id="card-balance">€15.00</div>' in new_page
    assert "Moved the balance" in new_page
    assert '<div class="value " id="card-balance">€0.00</div>' in old_page
    assert f'href="/giftcards/{scene.spare}"' in old_page
    # Money owed: €15.00 on cards + €1.00 store credit + the €5.00 voucher.
    assert 'id="stat-money-eur"' in overview
    assert "€21.00" in overview
    assert 'id="stat-breakage-eur"' in overview
    report = rebuild_check(database)
    assert report.ok, report.differences


def test_breakage_counts_dormant_cards_and_says_which(database: Database) -> None:
    scene = giftcard_scene(database)
    long_ago = (utc_now() - timedelta(days=31 * (DORMANT_MONTHS + 1))).isoformat()
    with database.write() as conn:
        conn.execute(
            update(stored_values)
            .where(stored_values.c.account == f"giftcard:{scene.card}")
            .values(last_used_at=long_ago, activated_at=long_ago)
        )
    overview = load_overview(database, OverviewCache(background=False))
    (money,) = overview.figures.money
    assert money.currency == "EUR"
    assert (money.gift_cards_minor, money.store_credit_minor) == (1500, 100)
    assert (money.dormant_minor, money.dormant_cards) == (1500, 1)
    assert money.open_vouchers_minor == 0
    assert money.voucher_breakage_minor == 0
    with serve(database) as url, signed_in(url, scene.hq.viewer) as viewer:
        page = viewer.get("/").text
    assert "€15.00</strong> on 1" in page
    assert "unused for 24 months or more" in page


def test_the_giftcards_api(database: Database) -> None:
    scene = giftcard_scene(database)
    hq = scene.hq
    with serve(database) as url, httpx.Client(base_url=url, timeout=60) as api:
        viewer, manager = hq.viewer.headers, hq.manager.headers
        one = api.get(f"/api/v1/giftcards/{scene.card}", headers=viewer)
        history = api.get(f"/api/v1/giftcards/{scene.card}/history", headers=viewer).json()
        first = api.get(
            f"/api/v1/giftcards/{scene.card}/history", params={"limit": 1}, headers=viewer
        ).json()
        second = api.get(
            f"/api/v1/giftcards/{scene.card}/history",
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers=viewer,
        ).json()
        search = api.get("/api/v1/giftcards", params={"q": scene.card[-6:]}, headers=viewer)
        unknown = api.get(f"/api/v1/giftcards/{scene.spare}", headers=viewer)
        garbled = api.get("/api/v1/giftcards/12ab", headers=viewer)
        till = api.get(f"/api/v1/giftcards/{scene.card}", headers=bearer(scene.till_token))
        viewer_block = api.post(
            f"/api/v1/giftcards/{scene.card}/block", json={"reason": "lost"}, headers=viewer
        )
        blocked = api.post(
            f"/api/v1/giftcards/{scene.card}/block", json={"reason": "lost card"}, headers=manager
        )
        same = api.post(
            f"/api/v1/giftcards/{scene.card}/move",
            json={"new_number": scene.card, "reason": "lost card"},
            headers=manager,
        )
        moved = api.post(
            f"/api/v1/giftcards/{scene.card}/move",
            json={"new_number": scene.spare, "reason": "lost card"},
            headers=manager,
        )
        overview = api.get("/api/v1/overview", headers=viewer).json()

    assert one.status_code == 200
    card_view = one.json()
    assert (card_view["balance_minor"], card_view["status"]) == (1500, "active")
    assert card_view["balance_text"] == "€15.00"
    items = history["items"]
    assert [i["amount_minor"] for i in items] == [-1000, 2500]
    assert [i["balance_after_minor"] for i in items] == [1500, 2500]
    assert items[0]["till"]["terminal_id"] == scene.till_b
    assert items[0]["till"]["receipt_no"] == f"{scene.till_b}-1"
    assert first["items"] + second["items"] == items
    assert second["next_cursor"] is None
    assert [c["card_number"] for c in search.json()["items"]] == [scene.card]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert garbled.status_code == 422
    assert till.status_code == 403
    assert viewer_block.status_code == 403
    assert blocked.status_code == 200
    assert blocked.json()["status"] == "blocked"
    assert same.status_code == 422
    assert moved.status_code == 200, moved.text
    assert moved.json()["old"]["balance_minor"] == 0
    assert moved.json()["new"]["balance_minor"] == 1500
    (money,) = overview["money_liability"]
    assert money["gift_cards"]["minor"] == 1500
    assert money["store_credit"]["minor"] == 100
    assert money["total"]["text"] == "€16.00"


def test_a_cards_history_and_a_code_lookup_are_index_ranges(database: Database) -> None:
    scene = giftcard_scene(database)
    history = plans(
        database, lambda conn: account_history(conn, giftcard_account(scene.card), 25, None)
    )
    assert_index(database, history[0], "postings", "ix_postings_account_id")
    lookup = plans(
        database,
        lambda conn: search_vouchers(
            conn,
            classify_code("v2222 2222 2222"),
            status=None,
            member_id=None,
            today=utc_now().date(),
            limit=50,
            cursor=None,
        ),
    )
    assert_no_full_scan(database, lookup[0], ("vouchers",))
