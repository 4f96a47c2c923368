"""The program's JSON API: the current version, the history, a sample basket's points (the
shared engine's own arithmetic), publishing (admin only, audited, versions only go forward),
and the CLI's publishing still recorded as ``cli``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn
from syncserver.api.pagination import encode_cursor
from syncserver.hq.rules import RulesConflictError, publish_rules
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, rules_versions
from tests.server.helpers import PULL, bearer, demo_rules_json
from tests.server.hq.helpers import prepare_hq, serve

API = "/api/v1/program"

BASKET: dict[str, Any] = {
    "store_id": "quayside",
    "local_time": "2025-06-07T19:15:00",  # Saturday at the Quayside opening, late bakery on
    "tier": "gold",
    "order_discount_minor": 300,
    "lines": [
        {"sku": "STRAWB", "category": "fruit-veg", "quantity": 2, "unit_price_minor": 299},
        {"sku": "SOURDOUGH", "category": "bakery", "quantity": 1, "unit_price_minor": 420},
        {"sku": "4011", "category": "fruit-veg", "quantity": 3, "unit_price_minor": 45},
        {"sku": "CIG-20", "category": "tobacco", "quantity": 1, "unit_price_minor": 850},
        {"sku": "8710398527431", "category": "dairy", "quantity": 2, "unit_price_minor": 199},
    ],
}


def _engine(rules: ProgramRules, basket: dict[str, Any]) -> dict[str, Any]:
    """What shared compute_earn says about ``basket``, as JSON."""
    lines = [
        BasketLine(
            line_no=n,
            sku=line["sku"],
            category=line["category"],
            quantity=line["quantity"],
            net_minor=line["quantity"] * line["unit_price_minor"],
        )
        for n, line in enumerate(basket["lines"], start=1)
    ]
    context = EarnContext(
        store_id=basket["store_id"],
        local_time=datetime.fromisoformat(basket["local_time"]),
        tier=basket["tier"],
    )
    result = compute_earn(
        rules, lines, context, order_discount_minor=basket.get("order_discount_minor", 0)
    )
    return result.model_dump(mode="json")


def _next_version(**earn: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(demo_rules_json())
    document["version"] = 4
    document["earn"].update(earn)
    return document


def test_current_version_history_and_one_version(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        current = client.get(API, headers=hq.viewer.headers)
        assert current.status_code == 200
        body = current.json()
        assert (body["version"], body["program_id"]) == (3, "harbour-grocers-rewards")
        assert body["published_by"] == "cli"  # `syncserver program load` / publish_rules
        assert ProgramRules.model_validate(body["document"]) == ProgramRules.from_json(
            demo_rules_json()
        )
        for version in (4, 5, 6):
            document = _next_version(per_order_points=version)
            document["version"] = version
            reply = client.post(
                f"{API}/versions",
                json={"document": document, "note": f"visit bonus {version}"},
                headers=hq.admin.headers,
            )
            assert reply.status_code == 201, reply.text
        first = client.get(f"{API}/versions", params={"limit": 2}, headers=hq.viewer.headers)
        assert [v["version"] for v in first.json()["items"]] == [6, 5]
        assert first.json()["items"][0]["note"] == "visit bonus 6"
        assert "document" not in first.json()["items"][0]
        rest = client.get(
            f"{API}/versions",
            params={"limit": 2, "cursor": first.json()["next_cursor"]},
            headers=hq.viewer.headers,
        ).json()
        assert [v["version"] for v in rest["items"]] == [4, 3]
        assert rest["next_cursor"] is None  # the last page
        bad = client.get(f"{API}/versions", params={"cursor": "nope"}, headers=hq.viewer.headers)
        assert bad.status_code == 422
        five = client.get(f"{API}/versions/5", headers=hq.viewer.headers).json()
        assert (five["version"], five["published_by"], five["note"]) == (5, "ada", "visit bonus 5")
        assert five["document"]["earn"]["per_order_points"] == 5
        assert client.get(API, headers=hq.viewer.headers).json()["version"] == 6
        missing = client.get(f"{API}/versions/99", headers=hq.viewer.headers)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


def test_preview_is_the_shared_engine(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    published = ProgramRules.from_json(demo_rules_json())
    draft = _next_version(points_per_unit="3/2", category_multipliers={"bakery": "4"})
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        current = client.post(f"{API}/preview", json={"basket": BASKET}, headers=hq.viewer.headers)
        assert current.status_code == 200, current.text
        body = current.json()
        assert body["earn"] == _engine(published, BASKET)
        assert body["earn"]["total_points"] > 0
        assert body["basket_total_minor"] == 598 + 420 + 135 + 850 + 398
        assert body["receipt"][-1] == f"Total: {body['earn']['total_points']:,} pts"
        tried = client.post(
            f"{API}/preview", json={"document": draft, "basket": BASKET}, headers=hq.viewer.headers
        )
        assert tried.status_code == 200, tried.text
        expected = _engine(ProgramRules.model_validate(draft), BASKET)
        assert tried.json()["earn"] == expected
        assert expected["total_points"] != body["earn"]["total_points"]

        # Bad input is refused with the path of what is wrong.
        draft["earn"]["spend_unit_minor"] = 100.0
        invalid = client.post(
            f"{API}/preview", json={"document": draft, "basket": BASKET}, headers=hq.viewer.headers
        )
        assert invalid.status_code == 422
        assert "document.earn.spend_unit_minor" in invalid.json()["error"]["message"]
        floats = {**BASKET, "lines": [{**BASKET["lines"][0], "unit_price_minor": 2.99}]}
        refused = client.post(f"{API}/preview", json={"basket": floats}, headers=hq.viewer.headers)
        assert refused.status_code == 422
        assert "basket.lines.0.unit_price_minor" in refused.json()["error"]["message"]
        empty = client.post(
            f"{API}/preview", json={"basket": {"lines": []}}, headers=hq.viewer.headers
        )
        assert empty.status_code == 422
        # A till's token reads no HQ data.
        _, till = hq.server.terminal()
        assert (
            client.post(f"{API}/preview", json={"basket": BASKET}, headers=bearer(till)).status_code
            == 403
        )


def test_publishing_is_for_admins_and_the_server_numbers_the_versions(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    _, till = hq.server.terminal()
    document = _next_version(category_multipliers={"fruit-veg": "3"})
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        cursor = client.get(PULL, params={"since": 0}, headers=bearer(till)).json()["cursor"]
        body = {"document": document, "note": "Fruit and veg x3"}
        for who in (hq.viewer, hq.manager):
            refused = client.post(f"{API}/versions", json=body, headers=who.headers)
            assert refused.status_code == 403
            assert "needs the admin role" in refused.json()["error"]["message"]
        assert client.post(f"{API}/versions", json=body, headers=bearer(till)).status_code == 403
        assert client.post(f"{API}/versions", json=body).status_code == 401

        no_note = client.post(
            f"{API}/versions", json={"document": document, "note": " "}, headers=hq.admin.headers
        )
        assert no_note.status_code == 422
        assert "note" in no_note.json()["error"]["message"]
        broken = json.loads(json.dumps(document))
        broken["campaigns"][0]["multiplier"] = "0.5"
        invalid = client.post(
            f"{API}/versions", json={**body, "document": broken}, headers=hq.admin.headers
        )
        assert invalid.status_code == 422
        assert "document.campaigns.0.multiplier" in invalid.json()["error"]["message"]

        def publish(version: Any, bonus: int, **extra: Any) -> httpx.Response:
            changed = _next_version(per_order_points=bonus)
            changed["version"] = version
            return client.post(
                f"{API}/versions",
                json={"document": changed, "note": f"bonus {bonus}", **extra},
                headers=hq.admin.headers,
            )

        created = client.post(f"{API}/versions", json=body, headers=hq.admin.headers)
        assert created.status_code == 201, created.text
        assert (created.json()["version"], created.json()["published_by"]) == (4, "ada")
        # A retried publish (same rules) publishes nothing.
        again = client.post(f"{API}/versions", json=body, headers=hq.admin.headers)
        assert again.status_code == 409
        assert "exactly version 4's: nothing to publish" in again.json()["error"]["message"]
        # The number in the document is HQ's to choose: older, or past any column, alike.
        assert publish(2, bonus=20).json()["version"] == 5
        huge = publish(99999999999999999999, bonus=30)
        assert huge.status_code == 201, huge.text
        assert (huge.json()["version"], huge.json()["document"]["version"]) == (6, 6)
        # base_version: the change was made from version 5, but 6 is the latest now.
        stale = publish(1, bonus=40, base_version=5)
        assert stale.status_code == 409
        message = stale.json()["error"]["message"]
        assert "version 6 is already published by ada" in message
        assert "publish your change as version 7" in message
        assert publish(1, bonus=40, base_version=6).json()["version"] == 7
        other = client.post(
            f"{API}/versions",
            json={**body, "document": {**document, "program_id": "other"}},
            headers=hq.admin.headers,
        )
        assert other.status_code == 409
        assert (
            "this server runs program 'harbour-grocers-rewards'" in other.json()["error"]["message"]
        )

        pulled = client.get(PULL, params={"since": cursor}, headers=bearer(till)).json()
    assert [r["version"] for r in pulled["rules"]] == [4, 5, 6, 7]
    assert pulled["rules"][0]["earn"]["category_multipliers"]["fruit-veg"] == "3"
    with database.read() as conn:
        versions = conn.execute(select(rules_versions.c.version)).scalars().all()
        audits = conn.execute(
            select(audit_log).where(audit_log.c.action == "program.publish")
        ).all()
    assert sorted(versions) == [3, 4, 5, 6, 7]
    assert [(a.actor, a.target_id) for a in audits] == [
        ("cli", "3"),
        ("ada", "4"),
        ("ada", "5"),
        ("ada", "6"),
        ("ada", "7"),
    ]
    detail = json.loads(audits[1].detail)
    assert (detail["via"], detail["note"]) == ("api", "Fruit and veg x3")


def test_published_at_is_utc_on_every_database(database: Database) -> None:
    """SQLite hands timestamps back without a zone; the API's are always aware UTC (the
    response schema says date-time with an offset)."""
    hq = prepare_hq(database, with_members=False)
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        current = client.get(API, headers=hq.viewer.headers).json()
        listed = client.get(f"{API}/versions", headers=hq.viewer.headers).json()["items"]
        one = client.get(f"{API}/versions/3", headers=hq.viewer.headers).json()
    for stamp in (current["published_at"], listed[0]["published_at"], one["published_at"]):
        moment = datetime.fromisoformat(stamp)
        assert moment.utcoffset() == timedelta(0), stamp


def test_version_numbers_and_cursors_past_any_column_are_422(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    huge_cursor = encode_cursor([10**30])
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        for path in (
            f"{API}/versions/99999999999999999999",
            f"{API}/versions/2147483648",
            f"{API}/versions?cursor={huge_cursor}",
            f"{API}/versions?cursor={encode_cursor(['x'])}",
        ):
            reply = client.get(path, headers=hq.viewer.headers)
            assert reply.status_code == 422, (path, reply.text)
            assert reply.json()["error"]["code"] == "malformed"


def test_the_cli_path_keeps_its_signature_and_is_audited(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    document = _next_version(per_order_points=7)
    # Loading the same file twice is harmless and records nothing the second time.
    assert publish_rules(database, json.dumps(document)).published is True
    assert publish_rules(database, json.dumps(document)).published is False
    with database.read() as conn:
        row = conn.execute(select(rules_versions).where(rules_versions.c.version == 4)).one()
        audits = conn.execute(
            select(audit_log.c.actor, audit_log.c.target_id).where(
                audit_log.c.action == "program.publish"
            )
        ).all()
    assert (row.published_by, row.note) == ("cli", None)
    assert [tuple(a) for a in audits] == [("cli", "3"), ("cli", "4")]
    assert hq.admin.username == "ada"


def test_many_campaigns_on_one_line_still_have_a_breakdown(database: Database) -> None:
    hq = prepare_hq(database, with_members=False)
    document = _next_version()
    document["campaigns"] = [
        {"id": f"week-{n}", "name": f"Week {n}", "multiplier": "2", "categories": ["bakery"]}
        for n in range(80)
    ]
    basket = {"lines": [{"sku": "SOURDOUGH", "category": "bakery", "unit_price_minor": 420}]}
    with serve(database) as url, httpx.Client(base_url=url, timeout=30) as client:
        reply = client.post(
            f"{API}/preview",
            json={"document": document, "basket": basket},
            headers=hq.viewer.headers,
        )
    assert reply.status_code != 500  # a 422 since the preview catches it; a crash before
    assert reply.status_code == 200, reply.text


def test_reloading_a_file_published_before_an_upgrade_is_still_harmless(
    database: Database,
) -> None:
    """A version stored before fields with defaults existed (tiers' qualification, expiry,
    rewards …) is the same program as the same file loaded again after the upgrade."""
    prepare_hq(database, with_members=False)
    document = _next_version(per_order_points=7)
    assert publish_rules(database, json.dumps(document)).published is True
    with database.write() as conn:  # as an HQ before the upgrade stored it: no new keys
        stored = json.loads(
            conn.execute(
                select(rules_versions.c.document).where(rules_versions.c.version == 4)
            ).scalar_one()
        )
        for key in ("rewards", "tier_qualification", "expiry"):
            stored.pop(key, None)
        conn.execute(
            rules_versions.update()
            .where(rules_versions.c.version == 4)
            .values(document=json.dumps(stored))
        )
    assert publish_rules(database, json.dumps(document)).published is False
    changed = _next_version(per_order_points=8)
    with pytest.raises(RulesConflictError, match="already published with different content"):
        publish_rules(database, json.dumps(changed))
