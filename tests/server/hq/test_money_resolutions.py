"""HQ resolves the money exceptions (vouchers, gift cards, store credit): accept, write off
(to ``program:money_written_off`` in the entry's currency), recover from the card, block the
gift card — never points; points resolutions refused on money exceptions and the other way
round; the API and the dashboard show money as money and link the card or voucher; roles;
``ledger rebuild --check`` green after each — on SQLite and PostgreSQL.

Every exception comes from real till entries pushed to a real server (uvicorn on loopback).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from shared.codes import generate_gift_card_number, generate_voucher_code
from shared.journal import Tender, TenderMethod, VoucherUse
from syncserver.hq.setup import CLI
from syncserver.hq.vouchers import issue_vouchers
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions, postings, stored_values
from terminal.config import TillConfig
from tests.server.helpers import push
from tests.server.hq.helpers import Hq, csrf_of, prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter, card, member_ref
from tests.server.test_giftcards import assert_balanced_and_replayed

API = "/api/v1/exceptions"
ONE_ITEM = [("4000000000017", "grocery", 1, 2000)]
_RNG = random.Random(7)


def _gift_card() -> str:
    return generate_gift_card_number(TillConfig().code_config(), _RNG)


def _gift(number: str, amount: int) -> Tender:
    return Tender(method=TenderMethod.GIFT_CARD, amount_minor=amount, reference=number)


def _credit(amount: int) -> Tender:
    return Tender(method=TenderMethod.STORE_CREDIT, amount_minor=amount)


@dataclass
class Scene:
    hq: Hq
    url: str
    client: httpx.Client
    ids: dict[str, int] = field(default_factory=dict)
    """label -> exception id"""
    cards: dict[str, str] = field(default_factory=dict)
    """label -> gift card number"""
    codes: dict[str, str] = field(default_factory=dict)
    """label -> voucher code"""
    till_a: JournalWriter | None = None
    token_a: str = ""

    @property
    def database(self) -> Database:
        return self.hq.database

    def resolve(self, label: str, body: dict[str, Any], who: str = "manager") -> httpx.Response:
        staff = getattr(self.hq, who)
        return self.client.post(
            f"{API}/{self.ids[label]}/resolve", json=body, headers=staff.headers
        )

    def detail(self, label: str) -> Any:
        reply = self.client.get(f"{API}/{self.ids[label]}", headers=self.hq.viewer.headers)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def balance(self, account: str) -> int:
        with self.database.read() as conn:
            return int(
                conn.execute(
                    select(stored_values.c.balance_minor).where(stored_values.c.account == account)
                ).scalar_one()
            )

    def card_status(self, number: str) -> str:
        with self.database.read() as conn:
            return str(
                conn.execute(
                    select(stored_values.c.status).where(
                        stored_values.c.account == f"giftcard:{number}"
                    )
                ).scalar_one()
            )

    def total(self, account: str) -> int:
        with self.database.read() as conn:
            rows = conn.execute(select(postings.c.amount).where(postings.c.account == account))
            return sum(int(r[0]) for r in rows)


def _legs(database: Database, hq_event_id: int) -> list[tuple[str, int, str, str]]:
    with database.read() as conn:
        rows = conn.execute(
            select(postings.c.account, postings.c.amount, postings.c.kind, postings.c.unit)
            .where(postings.c.hq_event_id == hq_event_id)
            .order_by(postings.c.line)
        ).all()
    return [(r.account, int(r.amount), r.kind, r.unit) for r in rows]


def _pushed(client: httpx.Client, token: str, till: JournalWriter, since: int) -> list[str]:
    reply = push(client, token, till.terminal_id, till.since(since))
    assert reply.status_code == 200, reply.text
    return [e["kind"] for e in reply.json()["exceptions"]]


def _exception_id(database: Database, terminal_id: str, seq: int, kind: str) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(exceptions.c.id).where(
                    exceptions.c.terminal_id == terminal_id,
                    exceptions.c.seq == seq,
                    exceptions.c.kind == kind,
                )
            ).scalar_one()
        )


@contextmanager
def money_scene(database: Database) -> Iterator[Scene]:
    """Two tills (A, B), both offline, then A pushes and B pushes:

    - ``reused``: voucher 1 (€5.00) redeemed at A#2 and at B#1 → voucher_reused, €5.00
    - ``invalid``: B#2 takes €3.00 off with a code HQ never issued → voucher_invalid
    - ``overdraft``: card sold €25.00 (A#1), €20.00 spent at A#3 and at B#3 → −€15.00
    - ``unknown_spend``: B#4 pays €3.00 with a card HQ never saw → giftcard_blocked, −€3.00
    - ``unknown_topup``: A#4 tops up €5.00 a card HQ never saw → giftcard_blocked, +€5.00
    - ``twice``: card sold €10.00 at A#5 and €7.00 at B#5 → giftcard_activated_twice
    - ``unbacked``: B#6 pays €12.00 in store credit without a member → store_credit_unbacked
    - ``points``: A#6 a sale on card 50 no member owns → unknown_card (points)
    """
    hq = prepare_hq(database)
    with serve(database) as url, httpx.Client(base_url=url, timeout=60) as client:
        scene = Scene(hq, url, client)
        a_id, a_token = hq.server.terminal("S001", "Till A")
        b_id, b_token = hq.server.terminal("S002", "Till B")
        till_a, till_b = JournalWriter(a_id), JournalWriter(b_id)
        (code,) = issue_vouchers(database, count=1, value_minor=500, actor=CLI)
        stray = generate_voucher_code(_RNG)
        overdrawn, unknown, topped, twice = (_gift_card() for _ in range(4))
        scene.cards.update(
            overdraft=overdrawn, unknown_spend=unknown, unknown_topup=topped, twice=twice
        )
        scene.codes.update(reused=code, invalid=stray)

        till_a.giftcard_load(overdrawn, 2500)
        till_a.sale(None, vouchers=(VoucherUse(code=code, discount_minor=500),))
        till_a.sale(None, ONE_ITEM, tenders=(_gift(overdrawn, 2000),))
        till_a.giftcard_load(topped, 500, activation=False)
        till_a.giftcard_load(twice, 1000)
        till_a.sale(member_ref(card(50)))
        till_b.sale(None, vouchers=(VoucherUse(code=code, discount_minor=500),))
        till_b.sale(None, vouchers=(VoucherUse(code=stray, discount_minor=300),))
        till_b.sale(None, ONE_ITEM, tenders=(_gift(overdrawn, 2000),))
        till_b.sale(None, [("4000000000017", "grocery", 1, 300)], tenders=(_gift(unknown, 300),))
        till_b.giftcard_load(twice, 700)
        till_b.sale(None, tenders=(_credit(1200),))

        assert _pushed(client, a_token, till_a, 0) == ["giftcard_blocked", "unknown_card"]
        assert _pushed(client, b_token, till_b, 0) == [
            "voucher_reused",
            "voucher_invalid",
            "giftcard_overdraft",
            "giftcard_blocked",
            "giftcard_activated_twice",
            "store_credit_unbacked",
        ]
        for label, terminal_id, seq, kind in (
            ("reused", b_id, 1, "voucher_reused"),
            ("invalid", b_id, 2, "voucher_invalid"),
            ("overdraft", b_id, 3, "giftcard_overdraft"),
            ("unknown_spend", b_id, 4, "giftcard_blocked"),
            ("unknown_topup", a_id, 4, "giftcard_blocked"),
            ("twice", b_id, 5, "giftcard_activated_twice"),
            ("unbacked", b_id, 6, "store_credit_unbacked"),
            ("points", a_id, 6, "unknown_card"),
        ):
            scene.ids[label] = _exception_id(database, terminal_id, seq, kind)
        scene.till_a, scene.token_a = till_a, a_token
        yield scene


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()


def _error(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()["error"]["message"]


def _resolved_row(scene: Scene, label: str) -> Any:
    with scene.database.read() as conn:
        return conn.execute(select(exceptions).where(exceptions.c.id == scene.ids[label])).one()


APPLICABLE = {
    "reused": ["accept", "write_off"],
    "invalid": ["accept", "write_off"],
    "overdraft": ["accept", "write_off", "recover", "block_card"],
    "unknown_spend": ["accept", "write_off", "recover", "block_card"],
    "unknown_topup": ["accept", "block_card"],
    "twice": ["accept", "block_card"],
    "unbacked": ["accept", "write_off"],
}


def test_the_api_shows_money_and_only_the_resolutions_that_fit(database: Database) -> None:
    with money_scene(database) as scene:
        for label, names in APPLICABLE.items():
            detail = scene.detail(label)
            assert detail["applicable"] == names, label
            assert detail["currency"] == "EUR"
            assert detail["write_off_points"] is None
        overdraft = scene.detail("overdraft")
        number = scene.cards["overdraft"]
        assert (overdraft["amount"], overdraft["amount_text"]) == (1500, "€15.00")
        assert overdraft["write_off_minor"] == 1500
        assert overdraft["recover_minor"] == 1500
        assert overdraft["money_balance_minor"] == -1500
        assert overdraft["write_off_account"] == f"giftcard:{number}"
        assert (overdraft["gift_card"], overdraft["gift_card_url"]) == (
            number,
            f"/giftcards/{number}",
        )
        reused = scene.detail("reused")
        code = scene.codes["reused"]
        assert (reused["amount_text"], reused["voucher_code"]) == ("€5.00", code)
        assert reused["voucher_url"] == f"/vouchers/{code}"
        assert reused["write_off_minor"] == 500
        assert reused["write_off_account"] == f"suspense:voucher:{code}"
        assert scene.detail("invalid")["voucher_code"] == scene.codes["invalid"]
        unbacked = scene.detail("unbacked")
        assert (unbacked["write_off_minor"], unbacked["write_off_account"]) == (
            1200,
            "suspense:store_credit",
        )
        queue = _ok(
            scene.client.get(
                API, params={"kind": "giftcard_overdraft"}, headers=scene.hq.viewer.headers
            )
        )
        assert [i["amount_text"] for i in queue["items"]] == ["€15.00"]
        points = scene.detail("points")
        assert points["currency"] is None
        assert points["amount_text"].endswith(" points")
        assert "recover" not in points["applicable"]


def test_accept_each_money_kind_moves_nothing(database: Database) -> None:
    with money_scene(database) as scene:
        for label in APPLICABLE:
            reason = f"accepted {label}: the loss stands"
            reply = _ok(scene.resolve(label, {"resolution": "accept", "reason": reason}))
            assert (reply["points"], reply["money_minor"], reply["currency"]) == (0, 0, "EUR")
            assert _legs(database, reply["hq_event_id"]) == []
            row = _resolved_row(scene, label)
            assert (row.status, row.resolution_kind, row.resolution, row.resolved_by) == (
                "resolved",
                "accept",
                reason,
                "mo",
            )
            assert_balanced_and_replayed(database)
        assert scene.balance(f"giftcard:{scene.cards['overdraft']}") == -1500
        assert scene.total(f"suspense:voucher:{scene.codes['reused']}") == -500


def test_write_off_moves_money_to_the_money_write_off_account(database: Database) -> None:
    with money_scene(database) as scene:
        code, stray = scene.codes["reused"], scene.codes["invalid"]
        number, unknown = scene.cards["overdraft"], scene.cards["unknown_spend"]
        expected = {
            "reused": (f"suspense:voucher:{code}", 500),
            "invalid": (f"suspense:voucher:{stray}", 300),
            "overdraft": (f"giftcard:{number}", 1500),
            "unknown_spend": (f"giftcard:{unknown}", 300),
            "unbacked": ("suspense:store_credit", 1200),
        }
        for label, (account, amount) in expected.items():
            reply = _ok(
                scene.resolve(label, {"resolution": "write_off", "reason": "customer goodwill"})
            )
            assert (reply["points"], reply["money_minor"], reply["currency"]) == (0, amount, "EUR")
            assert _legs(database, reply["hq_event_id"]) == [
                (account, amount, "write_off", "EUR"),
                ("program:money_written_off", -amount, "write_off", "EUR"),
            ]
            assert scene.total(account) == 0, label
            assert _resolved_row(scene, label).resolution_kind == "write_off"
            assert_balanced_and_replayed(database)
        assert scene.balance(f"giftcard:{number}") == 0
        assert scene.total("program:money_written_off") == -3800
        assert scene.total("program:written_off") == 0  # no points moved


def test_recover_leaves_the_card_negative_until_its_next_top_up(database: Database) -> None:
    with money_scene(database) as scene:
        number = scene.cards["overdraft"]
        reply = _ok(
            scene.resolve("overdraft", {"resolution": "recover", "reason": "next top-up pays"})
        )
        assert (reply["money_minor"], reply["currency"]) == (0, "EUR")
        assert _legs(database, reply["hq_event_id"]) == []
        assert scene.balance(f"giftcard:{number}") == -1500
        assert scene.card_status(number) == "active"
        assert_balanced_and_replayed(database)
        till_a = scene.till_a
        assert till_a is not None
        till_a.giftcard_load(number, 2000, activation=False)
        assert _pushed(scene.client, scene.token_a, till_a, 6) == []
        assert scene.balance(f"giftcard:{number}") == 500
        assert_balanced_and_replayed(database)


def test_block_the_gift_card(database: Database) -> None:
    with money_scene(database) as scene:
        for label in ("overdraft", "unknown_spend", "twice"):
            number = scene.cards[label]
            reply = _ok(scene.resolve(label, {"resolution": "block_card", "reason": "lost card"}))
            assert reply["gift_card_blocked"] == number
            assert _legs(database, reply["hq_event_id"]) == []
            assert scene.card_status(number) == "blocked"
            assert_balanced_and_replayed(database)
        # Naming the card is allowed, but it must be the exception's.
        wrong = scene.resolve(
            "unknown_topup",
            {"resolution": "block_card", "reason": "lost", "card_number": scene.cards["twice"]},
        )
        status, message = _error(wrong)
        assert status == 422
        assert "not the gift card of this exception" in message
        number = scene.cards["unknown_topup"]
        right = scene.resolve(
            "unknown_topup", {"resolution": "block_card", "reason": "lost", "card_number": number}
        )
        assert _ok(right)["gift_card_blocked"] == number
        assert scene.card_status(number) == "blocked"
        assert scene.detail("overdraft")["blocked_card"] == scene.cards["overdraft"]
        assert_balanced_and_replayed(database)


def test_points_resolutions_are_refused_on_money_and_the_other_way_round(
    database: Database,
) -> None:
    with money_scene(database) as scene:
        refusals: list[tuple[str, dict[str, Any], str]] = [
            ("overdraft", {"resolution": "adjust", "points": 100}, "not points"),
            ("reused", {"resolution": "adjust", "points": 5}, "about money (€5.00)"),
            ("reused", {"resolution": "recover"}, "recover applies to a gift card"),
            ("reused", {"resolution": "block_card"}, "names no gift card"),
            ("unbacked", {"resolution": "block_card"}, "names no gift card"),
            ("twice", {"resolution": "write_off"}, "write off does not apply"),
            ("unknown_topup", {"resolution": "recover"}, "not below zero"),
            ("points", {"resolution": "recover"}, "is about points"),
        ]
        for label, body, words in refusals:
            status, message = _error(scene.resolve(label, {**body, "reason": "trying it"}))
            assert status == 422, (label, body, message)
            assert words in message, (label, message)
            assert "\n" not in message
            assert _resolved_row(scene, label).status == "open"
        assert_balanced_and_replayed(database)


def test_a_manager_resolves_a_viewer_cannot(database: Database) -> None:
    with money_scene(database) as scene:
        denied = scene.resolve("overdraft", {"resolution": "accept", "reason": "ok"}, "viewer")
        assert denied.status_code == 403
        assert _resolved_row(scene, "overdraft").status == "open"
        _ok(scene.resolve("overdraft", {"resolution": "recover", "reason": "top-up pays"}))
        again = scene.resolve("overdraft", {"resolution": "accept", "reason": "again"})
        assert again.status_code == 409
        assert "already resolved by mo" in again.json()["error"]["message"]
        assert_balanced_and_replayed(database)


def test_the_dashboard_shows_money_links_and_resolves(database: Database) -> None:
    with money_scene(database) as scene:
        number, code = scene.cards["overdraft"], scene.codes["reused"]
        with signed_in(scene.url, scene.hq.viewer) as viewer:
            queue = viewer.get("/exceptions", params={"kind": "giftcard_overdraft"})
            assert queue.status_code == 200
            assert "€15.00" in queue.text
            page = viewer.get(f"/exceptions/{scene.ids['overdraft']}")
            assert page.status_code == 200
            assert f'href="/giftcards/{number}"' in page.text
            assert "Read only" in page.text
            assert 'value="recover"' not in page.text
            voucher = viewer.get(f"/exceptions/{scene.ids['reused']}")
            assert f'href="/vouchers/{code}"' in voucher.text
        with signed_in(scene.url, scene.hq.manager) as manager:
            page = manager.get(f"/exceptions/{scene.ids['overdraft']}")
            for name in ("accept", "write_off", "recover", "block_card"):
                assert f'value="{name}"' in page.text
            assert 'value="adjust"' not in page.text
            assert "€15.00" in page.text
            assert "program:money_written_off" in page.text
            twice = manager.get(f"/exceptions/{scene.ids['twice']}")
            assert 'value="write_off"' not in twice.text
            assert 'value="recover"' not in twice.text
            assert 'value="block_card"' in twice.text
            posted = manager.post(
                f"/exceptions/{scene.ids['overdraft']}/resolve",
                data={
                    "csrf_token": csrf_of(page.text),
                    "resolution": "write_off",
                    "reason": "goodwill for a loyal customer",
                },
            )
            assert posted.status_code == 303, posted.text
            done = manager.get(f"/exceptions/{scene.ids['overdraft']}")
            assert "+€15.00" in done.text
            assert "-€15.00" in done.text
            assert "program:money_written_off" in done.text
            refused = manager.post(
                f"/exceptions/{scene.ids['twice']}/resolve",
                data={"csrf_token": csrf_of(twice.text), "resolution": "recover", "reason": "no"},
            )
            assert refused.status_code == 303
            assert _resolved_row(scene, "twice").status == "open"
        assert scene.balance(f"giftcard:{number}") == 0
        assert_balanced_and_replayed(database)


def test_a_members_store_credit_overdraft_is_written_off_onto_the_credit(
    database: Database,
) -> None:
    with money_scene(database) as scene:
        till_a = scene.till_a
        assert till_a is not None
        anna = member_ref(card(1), "M0000000001")
        till_a.sale(anna, [("4000000000017", "grocery", 1, 800)], tenders=(_credit(800),))
        assert _pushed(scene.client, scene.token_a, till_a, 6) == ["giftcard_overdraft"]
        scene.ids["credit"] = _exception_id(database, till_a.terminal_id, 7, "giftcard_overdraft")
        detail = scene.detail("credit")
        assert detail["applicable"] == ["accept", "write_off", "recover"]  # no gift card
        assert (detail["amount_text"], detail["gift_card"]) == ("€8.00", None)
        assert detail["write_off_account"] == "credit:M0000000001"
        status, message = _error(
            scene.resolve("credit", {"resolution": "block_card", "reason": "x" * 3})
        )
        assert status == 422
        assert "names no gift card" in message
        reply = _ok(scene.resolve("credit", {"resolution": "write_off", "reason": "goodwill"}))
        assert _legs(database, reply["hq_event_id"]) == [
            ("credit:M0000000001", 800, "write_off", "EUR"),
            ("program:money_written_off", -800, "write_off", "EUR"),
        ]
        assert scene.balance("credit:M0000000001") == 0
        assert_balanced_and_replayed(database)
