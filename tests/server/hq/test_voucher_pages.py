"""HQ's vouchers: the dashboard's vouchers page (search by code in any case and with or
without dashes, filters, one voucher with its redemption and postings, the issue form and
its download, void) and ``/api/v1/vouchers``, with every role and on SQLite and PostgreSQL.

The vouchers come from HQ's own issue action and a till sale pushed through the real push:
what the pages show is HQ's reading of what the ledger wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from shared.journal import VoucherUse
from shared.protocol import PushRequest
from syncserver.hq.setup import CLI
from syncserver.hq.vouchers import issue_vouchers
from syncserver.ledger.rebuild import rebuild_check
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.sync.push import push
from tests.server.helpers import bearer
from tests.server.hq.helpers import Hq, csrf_of, prepare_hq, serve, signed_in
from tests.server.journal import JournalWriter, card, member_ref

ANNA = member_ref(card(1), "M0000000001")


@dataclass
class Scene:
    hq: Hq
    open_code: str
    """A €5.00 voucher for anyone, unused."""
    anna_code: str
    """A 10 % voucher (at most €20.00, on €20.00 or more) only for Anna, unused."""
    used_code: str
    """A €5.00 voucher redeemed on till ``terminal_id``'s sale #1."""
    terminal_id: str
    till_token: str


def voucher_scene(database: Database) -> Scene:
    hq = prepare_hq(database)
    open_code, used_code = issue_vouchers(database, count=2, value_minor=500, actor=CLI)
    (anna_code,) = issue_vouchers(
        database,
        count=1,
        value_minor=2000,
        percent_bp=1000,
        min_spend_minor=2000,
        member_id="M0000000001",
        actor=CLI,
    )
    terminal_id, token = hq.server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA, vouchers=(VoucherUse(code=used_code, discount_minor=500),))
    reply = push(
        database,
        terminal_id,
        PushRequest(terminal_id=terminal_id, entries=till.since(0)),
        utc_now,
    )
    assert reply.exceptions == [], reply.exceptions
    return Scene(hq, open_code, anna_code, used_code, terminal_id, token)


def _typed_sloppily(code: str) -> str:
    """A code as someone types it: lower case, no dashes."""
    return code.replace("-", "").lower()


def _mistyped(code: str) -> str:
    """The code with two neighbouring symbols swapped (the check symbol catches it)."""
    symbols = code.replace("-", "")[1:]
    i = next(i for i in range(len(symbols) - 1) if symbols[i] != symbols[i + 1])
    swapped = symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :]
    return "V" + swapped


def test_search_by_code_filters_and_the_voucher_page(database: Database) -> None:
    scene = voucher_scene(database)
    hq = scene.hq
    with serve(database) as url, signed_in(url, hq.viewer) as viewer:
        listing = viewer.get("/vouchers")
        by_code = viewer.get("/vouchers", params={"q": _typed_sloppily(scene.used_code)})
        by_start = viewer.get("/vouchers", params={"q": scene.anna_code[:6].lower()})
        mistyped = viewer.get("/vouchers", params={"q": _mistyped(scene.used_code)})
        redeemed = viewer.get("/vouchers", params={"status": "redeemed"})
        annas = viewer.get("/vouchers", params={"member": "M0000000001"})
        bad_status = viewer.get("/vouchers", params={"status": "lost"})
        used_page = viewer.get(f"/vouchers/{scene.used_code}")
        sloppy_page = viewer.get(f"/vouchers/{_typed_sloppily(scene.anna_code)}")
        unknown = viewer.get("/vouchers/V-2222-2222-2222")
        not_a_code = viewer.get("/vouchers/hello")
        member_page = viewer.get("/members/M0000000001")

    assert listing.status_code == 200
    for code in (scene.open_code, scene.anna_code, scene.used_code):
        assert code in listing.text
    assert 'id="issue-link"' not in listing.text  # a viewer cannot issue
    # A whole code typed any way opens its page.
    assert by_code.status_code == 303
    assert by_code.headers["location"] == f"/vouchers/{scene.used_code}"
    assert scene.anna_code in by_start.text
    assert mistyped.status_code == 200
    assert "fails its check symbol" in mistyped.text
    assert scene.used_code in redeemed.text
    assert scene.open_code not in redeemed.text
    assert scene.anna_code in annas.text
    assert scene.open_code not in annas.text
    assert bad_status.status_code == 422
    assert "is not one of issued, redeemed, expired, voided" in bad_status.text

    # The redeemed voucher: where it was used (store, till, receipt) and its postings.
    page = used_page.text
    assert used_page.status_code == 200
    assert "€5.00 off" in page
    assert f'href="/entries/{scene.terminal_id}/1"' in page
    assert f"receipt {scene.terminal_id}-1" in page
    assert "took off <strong>€5.00</strong>" in page
    assert "voucher redeem" in page
    assert "voucher issue" in page
    assert "by <strong>cli</strong>" in page
    assert 'action="/vouchers/' not in page  # not voidable, and a viewer anyway
    # Anna's percent voucher, found from a sloppily typed code in the address.
    assert sloppy_page.status_code == 200
    assert "10 % off (at most €20.00)" in sloppy_page.text
    assert "€20.00" in sloppy_page.text
    assert "M0000000001" in sloppy_page.text
    assert unknown.status_code == 404
    assert "no voucher V-2222-2222-2222" in unknown.text
    assert not_a_code.status_code == 404
    assert "is not a voucher code" in not_a_code.text
    # The member's page lists their vouchers.
    assert 'id="member-vouchers"' in member_page.text
    assert scene.anna_code in member_page.text
    assert scene.used_code not in member_page.text


def test_issue_download_and_void_by_role(database: Database) -> None:
    scene = voucher_scene(database)
    hq = scene.hq
    with serve(database) as url:
        with signed_in(url, hq.viewer) as viewer:
            token = csrf_of(viewer.get("/vouchers").text)
            viewer_form = viewer.get("/vouchers/issue")
            viewer_issue = viewer.post(
                "/vouchers/issue", data={"csrf_token": token, "value": "5.00", "count": "2"}
            )
            viewer_void = viewer.post(
                f"/vouchers/{scene.open_code}/void",
                data={"csrf_token": token, "reason": "printed twice"},
            )
            viewer_page = viewer.get(f"/vouchers/{scene.open_code}").text
        with signed_in(url, hq.manager) as manager:
            form = manager.get("/vouchers/issue")
            token = csrf_of(form.text)
            issued = manager.post(
                "/vouchers/issue",
                data={
                    "csrf_token": token,
                    "kind": "amount",
                    "value": "7.50",
                    "count": "3",
                    "min_spend": "30",
                    "expires_on": "2099-12-31",
                },
            )
            codes = re.findall(r"<code>(V-[0-9A-Z-]{14})</code>", issued.text)
            download = manager.post(
                "/vouchers/download", data={"csrf_token": token, "codes": "\n".join(codes)}
            )
            no_csrf = manager.post("/vouchers/issue", data={"value": "5.00", "count": "1"})
            too_many = manager.post(
                "/vouchers/issue", data={"csrf_token": token, "value": "5", "count": "10001"}
            )
            bad_amount = manager.post(
                "/vouchers/issue", data={"csrf_token": token, "value": "5.001", "count": "1"}
            )
            percent = manager.post(
                "/vouchers/issue",
                data={"csrf_token": token, "kind": "percent", "percent": "12.5", "count": "1"},
            )
            manager_page = manager.get(f"/vouchers/{scene.open_code}").text
            no_reason = manager.post(
                f"/vouchers/{scene.open_code}/void", data={"csrf_token": token, "reason": ""}
            )
            voided = manager.post(
                f"/vouchers/{scene.open_code}/void",
                data={"csrf_token": token, "reason": "printed twice"},
            )
            after = manager.get(voided.headers["location"])
            again = manager.post(
                f"/vouchers/{scene.open_code}/void",
                data={"csrf_token": token, "reason": "printed twice"},
            )
            used = manager.post(
                f"/vouchers/{scene.used_code}/void",
                data={"csrf_token": token, "reason": "too late"},
            )
            audit = manager.get("/audit").text

    assert viewer_form.status_code == 403
    assert viewer_issue.status_code == 403
    assert "manager" in viewer_issue.text
    assert viewer_void.status_code == 403
    assert 'action="/vouchers/' not in viewer_page

    assert form.status_code == 200
    assert 'id="issue-form"' in form.text
    assert issued.status_code == 201, issued.text
    assert len(set(codes)) == 3
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert "attachment" in download.headers["content-disposition"]
    assert download.text.splitlines() == codes
    assert no_csrf.status_code == 403
    assert too_many.status_code == 422
    assert "1 to 10,000" in too_many.text
    assert 'value="10001"' in too_many.text  # what was typed comes back
    assert bad_amount.status_code == 422
    assert "more than 2 decimals" in bad_amount.text
    assert percent.status_code == 201

    assert 'action="/vouchers/' in manager_page  # the void form
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    assert voided.status_code == 303
    assert "Voided voucher" in after.text
    assert "voided" in after.text
    assert "voucher void" in after.text
    assert again.status_code == 409
    assert "only an unused one is voided" in again.text
    assert used.status_code == 409
    assert "printed twice" in audit or "void" in audit
    report = rebuild_check(database)
    assert report.ok, report


def test_the_vouchers_api(database: Database) -> None:
    scene = voucher_scene(database)
    hq = scene.hq
    with serve(database) as url, httpx.Client(base_url=url, timeout=60) as api:
        viewer, manager = hq.viewer.headers, hq.manager.headers
        listing = api.get("/api/v1/vouchers", headers=viewer).json()
        page_one = api.get("/api/v1/vouchers", params={"limit": 2}, headers=viewer).json()
        page_two = api.get(
            "/api/v1/vouchers",
            params={"limit": 2, "cursor": page_one["next_cursor"]},
            headers=viewer,
        ).json()
        by_code = api.get(
            "/api/v1/vouchers", params={"q": _typed_sloppily(scene.used_code)}, headers=viewer
        ).json()
        mistyped = api.get(
            "/api/v1/vouchers", params={"q": _mistyped(scene.used_code)}, headers=viewer
        )
        bad_status = api.get("/api/v1/vouchers", params={"status": "lost"}, headers=viewer)
        one = api.get(f"/api/v1/vouchers/{_typed_sloppily(scene.used_code)}", headers=viewer)
        unknown = api.get("/api/v1/vouchers/V-2222-2222-2222", headers=viewer)
        till = api.get("/api/v1/vouchers", headers=bearer(scene.till_token))
        nobody = api.get("/api/v1/vouchers")
        viewer_issue = api.post(
            "/api/v1/vouchers", json={"count": 1, "value_minor": 500}, headers=viewer
        )
        issued = api.post(
            "/api/v1/vouchers",
            json={"count": 2, "value_minor": 0, "percent_bp": 1500, "member_id": "M0000000002"},
            headers=manager,
        )
        no_value = api.post(
            "/api/v1/vouchers", json={"count": 1, "value_minor": 0}, headers=manager
        )
        too_many = api.post(
            "/api/v1/vouchers", json={"count": 10_001, "value_minor": 1}, headers=manager
        )
        void = api.post(
            f"/api/v1/vouchers/{scene.open_code}/void",
            json={"reason": "sent by mistake"},
            headers=manager,
        )
        void_again = api.post(
            f"/api/v1/vouchers/{scene.open_code}/void",
            json={"reason": "sent by mistake"},
            headers=manager,
        )
        viewer_void = api.post(
            f"/api/v1/vouchers/{scene.anna_code}/void", json={"reason": "nope"}, headers=viewer
        )

    assert {v["code"] for v in listing["items"]} == {
        scene.open_code,
        scene.anna_code,
        scene.used_code,
    }
    assert len(page_one["items"]) == 2
    assert page_two["next_cursor"] is None
    assert [v["code"] for v in page_one["items"] + page_two["items"]] == sorted(
        v["code"] for v in listing["items"]
    )
    assert [v["code"] for v in by_code["items"]] == [scene.used_code]
    assert mistyped.status_code == 422
    assert mistyped.json()["error"]["code"] == "malformed"
    assert bad_status.status_code == 422
    assert one.status_code == 200
    detail = one.json()
    assert detail["status"] == "redeemed"
    assert detail["discount_minor"] == 500
    assert detail["redeemed"]["terminal_id"] == scene.terminal_id
    assert detail["redeemed"]["receipt_no"] == f"{scene.terminal_id}-1"
    assert detail["issued_by"]["actor"] == "cli"
    assert sum(p["amount_minor"] for p in detail["postings"]) == 0  # issued, then used
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"].startswith("no voucher V-2222-2222-2222")
    assert till.status_code == 403
    assert nobody.status_code == 401
    assert viewer_issue.status_code == 403
    assert issued.status_code == 201, issued.text
    assert issued.json()["count"] == 2
    assert len(set(issued.json()["codes"])) == 2
    assert no_value.status_code == 422
    assert too_many.status_code == 422
    assert void.status_code == 200
    assert void.json()["status"] == "voided"
    assert void_again.status_code == 409
    assert void_again.json()["error"]["code"] == "conflict"
    assert viewer_void.status_code == 403
