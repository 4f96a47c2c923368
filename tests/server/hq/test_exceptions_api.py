"""The exceptions API: the queue (filters, keyset pages), one exception, and every way of
resolving one — each checked in the ledger (postings, balances), on the exception, in the
audit log, and by ``ledger rebuild --check``."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from shared.journal import JournalEntry
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions
from tests.server.hq.exceptions_scene import BEN, BIG_BASKET, Scene, earned, exceptions_scene
from tests.server.journal import card

API = "/api/v1/exceptions"


def _resolve(scene: Scene, label: str, body: dict[str, Any], who: str = "manager") -> Any:
    staff = getattr(scene.hq, who)
    return scene.client.post(f"{API}/{scene.ids[label]}/resolve", json=body, headers=staff.headers)


def _ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()


def _error(reply: httpx.Response) -> tuple[int, str, str]:
    error = reply.json()["error"]
    return reply.status_code, error["code"], error["message"]


def _check_resolved(scene: Scene, label: str, resolution: str, reason: str, reply: Any) -> None:
    row = scene.row(label)
    assert row.status == "resolved"
    assert row.resolved_by == "mo"
    assert row.resolution_kind == resolution
    assert row.resolution == reason
    assert row.resolution_event_id == reply["hq_event_id"]
    assert row.resolved_at is not None
    assert reply["exception"]["status"] == "resolved"
    assert reply["exception"]["resolution"] == resolution
    assert reply["exception"]["resolution_reason"] == reason
    assert reply["exception"]["resolved_by"] == "mo"
    ((actor, detail),) = scene.audit(label)
    assert actor == "mo"
    assert detail["resolution"] == resolution
    assert detail["reason"] == reason
    assert detail["hq_event_id"] == reply["hq_event_id"]
    assert detail["via"] == "api"
    scene.assert_rebuild_ok()


def test_every_resolution_posts_what_it_says(database: Database) -> None:
    with exceptions_scene(database) as scene:
        server = scene.hq.server
        owed = -scene.figures["ben_after_overdraft"]
        assert owed > 0
        assert server.balance("M0000000002") == -owed + earned_on_unregistered(scene)

        # A viewer may read, not resolve.
        assert _ok(
            scene.client.get(f"{API}/{scene.ids['overdraft']}", headers=scene.hq.viewer.headers)
        )
        denied = _resolve(scene, "overdraft", {"resolution": "accept", "reason": "fine"}, "viewer")
        assert _error(denied)[:2] == (403, "forbidden")
        assert scene.row("overdraft").status == "open"

        # Write off an overdraft: Ben is credited what he still owes, from written_off.
        view = _ok(
            scene.client.get(f"{API}/{scene.ids['overdraft']}", headers=scene.hq.manager.headers)
        )
        assert view["applicable"] == ["accept", "write_off", "adjust", "block_card"]
        assert view["member_cards"] == [card(2)]
        ben_before = server.balance("M0000000002")
        assert ben_before is not None
        expected = min(owed, -ben_before)
        assert view["write_off_points"] == expected
        reply = _ok(_resolve(scene, "overdraft", {"resolution": "write_off", "reason": "goodwill"}))
        assert reply["points"] == expected
        assert scene.legs(reply["hq_event_id"]) == [
            ("member:M0000000002", expected, "write_off"),
            ("program:written_off", -expected, "write_off"),
        ]
        assert server.balance("M0000000002") == ben_before + expected
        _check_resolved(scene, "overdraft", "write_off", "goodwill", reply)
        resolved = _ok(
            scene.client.get(f"{API}/{scene.ids['overdraft']}", headers=scene.hq.viewer.headers)
        )
        assert resolved["applicable"] == []
        assert resolved["resolution_postings"] == [
            {"line": 1, "account": "member:M0000000002", "amount": expected, "kind": "write_off"},
            {"line": 2, "account": "program:written_off", "amount": -expected, "kind": "write_off"},
        ]

        # Already resolved: 409, and nothing more is posted.
        again = _resolve(scene, "overdraft", {"resolution": "accept", "reason": "twice"})
        assert _error(again) == (
            409,
            "conflict",
            f"exception {scene.ids['overdraft']} was already resolved by mo",
        )
        assert len(scene.audit("overdraft")) == 1

        # Write off points held for an unknown card: the suspense account is cleared.
        held = scene.figures["suspense_points"]
        account = f"suspense:card:{card(50)}"
        assert scene.account_total(account) == held
        view = _ok(
            scene.client.get(f"{API}/{scene.ids['suspense']}", headers=scene.hq.manager.headers)
        )
        assert view["applicable"] == ["accept", "write_off"]
        assert (view["write_off_points"], view["write_off_account"]) == (-held, account)
        reply = _ok(
            _resolve(scene, "suspense", {"resolution": "write_off", "reason": "never claimed"})
        )
        assert reply["points"] == -held
        assert scene.legs(reply["hq_event_id"]) == [
            (account, -held, "write_off"),
            ("program:written_off", held, "write_off"),
        ]
        assert scene.account_total(account) == 0
        _check_resolved(scene, "suspense", "write_off", "never claimed", reply)

        # Adjust: signed points onto the exception's member, against program:adjusted.
        anna_before = server.balance("M0000000001")
        assert anna_before is not None
        reply = _ok(
            _resolve(
                scene, "blocked", {"resolution": "adjust", "reason": "took back", "points": -25}
            )
        )
        assert reply["points"] == -25
        assert scene.legs(reply["hq_event_id"]) == [
            ("member:M0000000001", -25, "adjust"),
            ("program:adjusted", 25, "adjust"),
        ]
        assert server.balance("M0000000001") == anna_before - 25
        _check_resolved(scene, "blocked", "adjust", "took back", reply)

        # Block card: one of the member's cards is blocked, no points move.
        assert scene.card_status(card(2)) == "active"
        reply = _ok(
            _resolve(
                scene,
                "unregistered",
                {"resolution": "block_card", "reason": "card 51 is a copy", "card_number": card(2)},
            )
        )
        assert reply["points"] == 0
        assert scene.legs(reply["hq_event_id"]) == []
        assert scene.card_status(card(2)) == "blocked"
        detail = _ok(
            scene.client.get(f"{API}/{scene.ids['unregistered']}", headers=scene.hq.viewer.headers)
        )
        assert detail["blocked_card"] == card(2)
        _check_resolved(scene, "unregistered", "block_card", "card 51 is a copy", reply)
        # Tills learn of the block on their next pull.
        _, token = scene.tills["S001"]
        pulled = scene.client.get("/api/v1/sync/pull", headers={"Authorization": f"Bearer {token}"})
        ben = [m for m in pulled.json()["members"] if m["member_id"] == "M0000000002"]
        assert [(c["card_number"], c["status"]) for c in ben[0]["cards"]] == [(card(2), "blocked")]

        # A chain conflict can only be accepted; its evidence is the refused record.
        view = _ok(
            scene.client.get(f"{API}/{scene.ids['conflict']}", headers=scene.hq.viewer.headers)
        )
        assert view["applicable"] == ["accept"]
        assert view["member_id"] is None
        evidence = json.loads(view["evidence"])
        assert (evidence["terminal_id"], evidence["seq"]) == (scene.tills["S001"][0], 1)
        reply = _ok(_resolve(scene, "conflict", {"resolution": "accept", "reason": "test till"}))
        assert scene.legs(reply["hq_event_id"]) == []
        _check_resolved(scene, "conflict", "accept", "test till", reply)

        # Accept: the till's postings stand; the decision is an HQ event with no postings.
        anna_before = server.balance("M0000000001")
        reply = _ok(_resolve(scene, "mismatch", {"resolution": "accept", "reason": "known promo"}))
        assert reply["points"] == 0
        assert scene.legs(reply["hq_event_id"]) == []
        assert server.balance("M0000000001") == anna_before
        _check_resolved(scene, "mismatch", "accept", "known promo", reply)


def earned_on_unregistered(scene: Scene) -> int:
    """What A#3 (Ben's id, unregistered card 51) earned Ben: the exception's amount."""
    return int(scene.row("unregistered").amount)


def test_a_resolution_that_does_not_apply_is_refused_clearly(database: Database) -> None:
    with exceptions_scene(database) as scene:
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("mismatch", {"resolution": "write_off", "reason": "nope"}, "write off applies to"),
            ("suspense", {"resolution": "adjust", "reason": "nope", "points": 5}, "no member"),
            (
                "suspense",
                {"resolution": "block_card", "reason": "nope", "card_number": card(1)},
                "no member",
            ),
            (
                "card_op",
                {"resolution": "write_off", "reason": "nothing held"},
                "no points are held",
            ),
            ("blocked", {"resolution": "adjust", "reason": "zero"}, "needs the points"),
            (
                "blocked",
                {"resolution": "adjust", "reason": "huge", "points": 10**9},
                "body.points: Input should be less than or equal to 10000000",
            ),
            ("blocked", {"resolution": "block_card", "reason": "other's"}, "choose the card"),
            (
                "blocked",
                {"resolution": "block_card", "reason": "other's", "card_number": card(2)},
                f"card {card(2)} is not a card of member M0000000001",
            ),
            ("blocked", {"resolution": "accept", "reason": "x"}, "a reason is required"),
            (
                "blocked",
                {"resolution": "accept", "reason": "ok", "points": 3},
                "points: only adjust",
            ),
            (
                "blocked",
                {"resolution": "accept", "reason": "ok", "card_number": card(1)},
                "card_number: only block_card",
            ),
            ("conflict", {"resolution": "write_off", "reason": "nope"}, "write off applies to"),
            ("conflict", {"resolution": "adjust", "reason": "nope", "points": 1}, "no member"),
            ("blocked", {"resolution": "forgive", "reason": "ok"}, "resolution"),
            ("blocked", {"resolution": "accept"}, "reason"),
        ]
        for label, body, message in cases:
            status, code, text = _error(_resolve(scene, label, body))
            assert (status, code) == (422, "malformed"), (label, body, text)
            assert message in text, (label, body, text)
        # Anna's old card 1 is blocked already (replaced): a conflict with the card's state.
        status, code, text = _error(
            _resolve(
                scene,
                "blocked",
                {"resolution": "block_card", "reason": "r", "card_number": card(1)},
            )
        )
        assert (status, code) == (422, "malformed")  # "r" is too short: the reason comes first
        status, code, text = _error(
            _resolve(
                scene,
                "blocked",
                {"resolution": "block_card", "reason": "lost", "card_number": card(1)},
            )
        )
        assert (status, code) == (409, "conflict")
        assert f"card {card(1)} is already blocked" in text
        missing = scene.client.post(
            f"{API}/999999/resolve",
            json={"resolution": "accept", "reason": "gone"},
            headers=scene.hq.manager.headers,
        )
        assert _error(missing)[:2] == (404, "not_found")
        assert _error(scene.client.get(f"{API}/999999", headers=scene.hq.viewer.headers))[:2] == (
            404,
            "not_found",
        )
        # Nothing was resolved, nothing was posted, nothing audited.
        for label in scene.ids:
            assert scene.row(label).status == "open"
            assert scene.audit(label) == []
        scene.assert_rebuild_ok()


def test_write_offs_follow_what_is_still_owed_or_held(database: Database) -> None:
    with exceptions_scene(database) as scene:
        server = scene.hq.server
        till = scene.writers["S001"]
        # Ben earns enough to repay his overdraft: nothing is left to write off.
        repay = [till.sale(BEN, BIG_BASKET) for _ in range(20)]
        scene.push("S001", till, since=5)
        ben = server.balance("M0000000002")
        assert ben is not None
        assert ben >= 0, (ben, [earned(e) for e in repay])
        view = _ok(
            scene.client.get(f"{API}/{scene.ids['overdraft']}", headers=scene.hq.manager.headers)
        )
        assert "write_off" not in view["applicable"]
        status, code, text = _error(
            _resolve(scene, "overdraft", {"resolution": "write_off", "reason": "repaid"})
        )
        assert (status, code) == (422, "malformed")
        assert "no longer below zero" in text
        assert "accept the exception instead" in text

        # The unknown-card sale was voided: its suspense points are gone already.
        suspense_sale = till.records[1]
        assert suspense_sale["seq"] == 2
        till.void(JournalEntry.model_validate(suspense_sale))
        scene.push("S001", till, since=25)
        assert scene.account_total(f"suspense:card:{card(50)}") == 0
        view = _ok(
            scene.client.get(f"{API}/{scene.ids['suspense']}", headers=scene.hq.manager.headers)
        )
        assert view["applicable"] == ["accept"]
        status, code, text = _error(
            _resolve(scene, "suspense", {"resolution": "write_off", "reason": "voided"})
        )
        assert (status, code) == (422, "malformed")
        assert "no points are held" in text
        accepted = _ok(_resolve(scene, "suspense", {"resolution": "accept", "reason": "voided"}))
        assert scene.legs(accepted["hq_event_id"]) == []
        scene.assert_rebuild_ok()


def test_a_partly_repaid_overdraft_writes_off_the_rest(database: Database) -> None:
    with exceptions_scene(database) as scene:
        server = scene.hq.server
        till = scene.writers["S001"]
        before = server.balance("M0000000002")
        assert before is not None
        assert before < 0
        repay = till.sale(BEN)
        scene.push("S001", till, since=5)
        after = server.balance("M0000000002")
        assert after == before + earned(repay)
        assert after is not None
        assert after < 0, "the small sale must not repay it all"
        reply = _ok(_resolve(scene, "overdraft", {"resolution": "write_off", "reason": "rest"}))
        assert reply["points"] == -after
        assert server.balance("M0000000002") == 0
        scene.assert_rebuild_ok()


def test_the_queue_filters_and_pages(database: Database) -> None:
    with exceptions_scene(database) as scene:
        viewer = scene.hq.viewer.headers

        def ids(**params: Any) -> list[int]:
            page = _ok(scene.client.get(API, params=params, headers=viewer))
            assert page["next_cursor"] is None
            return [item["id"] for item in page["items"]]

        every = [scene.ids[k] for k in ("overdraft", "suspense", "unregistered", "card_op")] + [
            scene.ids[k] for k in ("blocked", "twice", "mismatch", "original", "conflict")
        ]
        assert ids() == every  # open ones, oldest first
        first = _ok(scene.client.get(API, headers=viewer))["items"][0]
        assert first == {
            **first,
            "kind": "offline_overdraft",
            "status": "open",
            "terminal_id": scene.tills["S001"][0],
            "store_id": "S001",
            "seq": 1,
            "member_id": "M0000000002",
            "amount": -scene.figures["ben_after_overdraft"],
            "resolved_by": None,
            "resolution": None,
        }
        assert ids(kind="unknown_card") == [
            scene.ids[k] for k in ("suspense", "unregistered", "card_op")
        ]
        assert ids(store="S002") == [
            scene.ids[k] for k in ("blocked", "twice", "mismatch", "original")
        ]
        assert ids(store="S002", kind="unknown_card") == []
        assert ids(store="S404") == []
        assert ids(store="S001", kind="chain_conflict") == [scene.ids["conflict"]]

        # Resolve two; the status filter splits them.
        for label in ("twice", "card_op"):
            _ok(_resolve(scene, label, {"resolution": "accept", "reason": "checked"}))
        resolved = [scene.ids["card_op"], scene.ids["twice"]]
        assert ids(status="resolved") == resolved
        assert ids() == [i for i in every if i not in resolved]
        assert ids(status="all") == every

        # Age: raised more than 1 hour / 24 hours ago.
        now = utc_now()
        with database.write() as conn:
            for label, age in (("original", timedelta(days=3)), ("suspense", timedelta(hours=2))):
                conn.execute(
                    update(exceptions)
                    .where(exceptions.c.id == scene.ids[label])
                    .values(created_at=now - age)
                )
        assert ids(older_than_hours=24) == [scene.ids["original"]]
        assert ids(older_than_hours=1) == [scene.ids["original"], scene.ids["suspense"]]
        assert ids(older_than_hours=1, kind="unknown_card") == [scene.ids["suspense"]]
        # Oldest first, also when ages differ from ids.
        order = ids(status="all")
        assert order[:2] == [scene.ids["original"], scene.ids["suspense"]]

        # Keyset pages of 3: every exception once, in order, whatever the page size.
        for size in (1, 2, 3, 7):
            seen: list[int] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"status": "all", "limit": size}
                if cursor:
                    params["cursor"] = cursor
                page = _ok(scene.client.get(API, params=params, headers=viewer))
                assert len(page["items"]) <= size
                seen += [item["id"] for item in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == order, size

        for params in (
            {"cursor": "garbage"},
            {"status": "pending"},
            {"kind": "nonsense"},
            {"limit": 0},
            {"older_than_hours": 0},
        ):
            assert _error(scene.client.get(API, params=params, headers=viewer))[:2] == (
                422,
                "malformed",
            ), params
        terminal_token = scene.tills["S001"][1]
        till = scene.client.get(API, headers={"Authorization": f"Bearer {terminal_token}"})
        assert _error(till)[:2] == (403, "forbidden")
        assert _error(scene.client.get(API))[:2] == (401, "unauthorized")


def test_of_staff_resolving_at_once_exactly_one_wins(database: Database) -> None:
    with exceptions_scene(database) as scene:
        before = scene.hq.server.balance("M0000000002")
        assert before is not None

        def attempt(n: int) -> int:
            body = {"resolution": "adjust", "reason": f"attempt {n}", "points": 10}
            with httpx.Client(base_url=scene.url, timeout=30) as client:
                reply = client.post(
                    f"{API}/{scene.ids['overdraft']}/resolve",
                    json=body,
                    headers=scene.hq.manager.headers,
                )
            return reply.status_code

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = sorted(pool.map(attempt, range(6)))
        assert statuses == [200] + [409] * 5
        assert scene.hq.server.balance("M0000000002") == before + 10
        assert len(scene.audit("overdraft")) == 1
        scene.assert_rebuild_ok()
