"""The exceptions pages of the dashboard: the queue with its filters and pages, one
exception, and resolving it with the form (CSRF, roles, Post/Redirect/Get to the next open
exception of the same view)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
from sqlalchemy import update

from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.storage.schema import exceptions
from tests.server.hq.exceptions_scene import Scene, exceptions_scene
from tests.server.hq.helpers import signed_in
from tests.server.journal import card

_ROW = re.compile(r'<tr>\s*<td><a href="/exceptions/(\d+)[^"]*">#\d+</a></td>')
_FORM = re.compile(r'<form method="post" action="/exceptions/(\d+)/resolve".*?</form>', re.S)
_FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _listed(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text
    return [int(found) for found in _ROW.findall(page.text)]


def _form(page: httpx.Response) -> tuple[int, str, str]:
    """(exception id, CSRF token, the form's HTML) of the resolve form on the page."""
    assert page.status_code == 200, page.text
    found = _FORM.search(page.text)
    assert found, "the page has no resolve form"
    token = _FORM_CSRF.search(found.group(0))
    assert token, "the resolve form carries no CSRF token"
    return int(found.group(1)), token.group(1), found.group(0)


def _flash(reply: httpx.Response) -> str:
    cookie = reply.headers.get("set-cookie", "")
    found = re.search(r"lt_flash=([^;]+)", cookie)
    assert found, f"no flash message: {reply.status_code} {reply.headers}"
    return unquote(found.group(1))


def _submit(
    client: httpx.Client, scene: Scene, label: str, fields: dict[str, str], query: str = ""
) -> httpx.Response:
    exception_id = scene.ids[label]
    page = client.get(f"/exceptions/{exception_id}{query}")
    form_id, token, form = _form(page)
    assert form_id == exception_id
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    data = {**hidden, "csrf_token": token, **fields}
    return client.post(f"/exceptions/{exception_id}/resolve", data=data)


def test_the_queue_shows_counts_filters_and_pages(database: Database) -> None:
    with exceptions_scene(database) as scene, signed_in(scene.url, scene.hq.viewer) as client:
        ids = scene.ids
        page = client.get("/exceptions")
        every = [ids[k] for k in ("overdraft", "suspense", "unregistered", "card_op")] + [
            ids[k] for k in ("blocked", "twice", "mismatch", "original", "conflict")
        ]
        assert _listed(page) == every
        text = page.text
        assert re.search(r"Unknown card <strong>3</strong>", text)
        assert re.search(r"Offline overdraft <strong>1</strong>", text)
        assert re.search(r"Chain conflict <strong>1</strong>", text)
        assert re.search(r"Card enrolled twice <strong>1</strong>", text)
        assert re.search(r"All open <strong>9</strong>", text)
        # Each row links the till entry and the member.
        terminal_a = scene.tills["S001"][0]
        assert f'href="/entries/{terminal_a}/1"' in text
        assert 'href="/members/M0000000002"' in text
        assert "redeemed 400 points with a balance of 300" in text

        assert _listed(client.get("/exceptions?kind=unknown_card")) == [
            ids["suspense"],
            ids["unregistered"],
            ids["card_op"],
        ]
        s002 = [ids[k] for k in ("blocked", "twice", "mismatch", "original")]
        assert _listed(client.get("/exceptions?store=S002")) == s002
        assert _listed(client.get("/exceptions?store=S002&kind=unknown_card")) == []
        assert _listed(client.get("/exceptions?store=S001&kind=chain_conflict")) == [
            ids["conflict"]
        ]
        assert "No exceptions match this filter." in client.get("/exceptions?store=S404").text
        # An empty field of the filter form means "any".
        assert _listed(client.get("/exceptions?kind=&store=&older_than_hours=")) == every
        # Links from a filtered queue keep the filter.
        assert f'href="/exceptions/{ids["suspense"]}?kind=unknown_card"' in (
            client.get("/exceptions?kind=unknown_card").text
        )

        with database.write() as conn:
            conn.execute(
                update(exceptions)
                .where(exceptions.c.id == ids["twice"])
                .values(created_at=utc_now() - timedelta(days=2))
            )
        assert _listed(client.get("/exceptions?older_than_hours=24")) == [ids["twice"]]
        assert _listed(client.get("/exceptions?older_than_hours=168")) == []

        # Keyset pages: three at a time, every one once, "Next page" carries the cursor.
        order = [ids["twice"]] + [i for i in every if i != ids["twice"]]
        seen: list[int] = []
        url: str | None = "/exceptions?limit=3"
        while url is not None:
            page = client.get(url)
            listed = _listed(page)
            assert 1 <= len(listed) <= 3
            seen += listed
            found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
            # A relative link, as a browser resolves it against /exceptions.
            url = "/exceptions" + html.unescape(found.group(1)) if found else None
        assert seen == order

        for bad in ("kind=nonsense", "status=pending", "older_than_hours=soon", "cursor=xyz"):
            reply = client.get(f"/exceptions?{bad}")
            assert reply.status_code == 422, bad
            assert "<h1>Malformed</h1>" in reply.text


def test_a_viewer_sees_an_exception_read_only(database: Database) -> None:
    with exceptions_scene(database) as scene, signed_in(scene.url, scene.hq.viewer) as client:
        exception_id = scene.ids["overdraft"]
        page = client.get(f"/exceptions/{exception_id}")
        assert page.status_code == 200
        assert not _FORM.search(page.text)
        assert "Read only: resolving an exception needs the manager role" in page.text
        assert "redeemed 400 points with a balance of 300" in page.text
        token = _FORM_CSRF.search(page.text)  # the sign-out form's: a valid token
        assert token
        reply = client.post(
            f"/exceptions/{exception_id}/resolve",
            data={"csrf_token": token.group(1), "resolution": "accept", "reason": "looks fine"},
        )
        assert reply.status_code == 403
        assert "needs the manager role" in reply.text
        assert scene.row("overdraft").status == "open"
        assert client.get("/exceptions/999999").status_code == 404
        # A chain conflict shows the refused record as evidence.
        page = client.get(f"/exceptions/{scene.ids['conflict']}")
        assert "Evidence: the refused record" in page.text
        assert "&#34;seq&#34;: 1" in page.text or "&quot;seq&quot;: 1" in page.text


def test_a_manager_resolves_each_way_with_the_form(database: Database) -> None:
    with exceptions_scene(database) as scene, signed_in(scene.url, scene.hq.manager) as client:
        ids, server = scene.ids, scene.hq.server
        # The form offers only what applies.
        _, _, form = _form(client.get(f"/exceptions/{ids['overdraft']}"))
        assert re.findall(r'name="resolution" value="(\w+)"', form) == [
            "accept",
            "write_off",
            "adjust",
            "block_card",
        ]
        assert f'<option value="{card(2)}">' in form
        _, _, form = _form(client.get(f"/exceptions/{ids['suspense']}"))
        assert re.findall(r'name="resolution" value="(\w+)"', form) == ["accept", "write_off"]
        _, _, form = _form(client.get(f"/exceptions/{ids['card_op']}"))
        assert re.findall(r'name="resolution" value="(\w+)"', form) == ["accept"]

        # A forged or missing token is refused.
        forged = client.post(
            f"/exceptions/{ids['overdraft']}/resolve",
            data={"csrf_token": "forged", "resolution": "accept", "reason": "looks fine"},
        )
        assert forged.status_code == 403
        assert scene.row("overdraft").status == "open"

        # Write off the unknown card's points, working through the unknown-card view: the
        # next open exception of that view comes next.
        reply = _submit(
            client,
            scene,
            "suspense",
            {"resolution": "write_off", "reason": "never claimed", "points": "", "card_number": ""},
            "?kind=unknown_card",
        )
        assert reply.status_code == 303
        assert reply.headers["location"] == f"/exceptions/{ids['unregistered']}?kind=unknown_card"
        held = scene.figures["suspense_points"]
        assert _flash(reply) == (
            f"ok:Exception #{ids['suspense']} resolved: written off, {held} points held for "
            "the unknown card cleared. Here is the next open one."
        )
        shown = client.get(reply.headers["location"])
        assert f"Exception #{ids['suspense']} resolved: written off" in shown.text
        assert scene.account_total(f"suspense:card:{card(50)}") == 0
        row = scene.row("suspense")
        assert (row.status, row.resolved_by, row.resolution_kind) == ("resolved", "mo", "write_off")
        ((actor, detail),) = scene.audit("suspense")
        assert (actor, detail["via"], detail["reason"]) == ("mo", "web", "never claimed")
        scene.assert_rebuild_ok()

        # Block one of Ben's cards.
        reply = _submit(
            client,
            scene,
            "unregistered",
            {"resolution": "block_card", "reason": "copied card", "card_number": card(2)},
            "?kind=unknown_card",
        )
        assert reply.status_code == 303
        # card_op is the last open unknown card (after unregistered).
        assert reply.headers["location"] == f"/exceptions/{ids['card_op']}?kind=unknown_card"
        assert _flash(reply).startswith(
            f"ok:Exception #{ids['unregistered']} resolved: card {card(2)} blocked."
        )
        assert scene.card_status(card(2)) == "blocked"
        assert scene.row("unregistered").resolution_kind == "block_card"
        scene.assert_rebuild_ok()

        # Write off Ben's overdraft: the last open overdraft, so back to that view's queue.
        ben = server.balance("M0000000002")
        assert ben is not None
        assert ben < 0
        reply = _submit(
            client,
            scene,
            "overdraft",
            {"resolution": "write_off", "reason": "goodwill"},
            "?kind=offline_overdraft",
        )
        assert reply.headers["location"] == "/exceptions?kind=offline_overdraft"
        assert _flash(reply).endswith("No open exceptions left in this view.")
        assert server.balance("M0000000002") == 0
        scene.assert_rebuild_ok()

        # Adjust: points typed as the form sends them.
        anna = server.balance("M0000000001")
        assert anna is not None
        reply = _submit(
            client,
            scene,
            "blocked",
            {"resolution": "adjust", "reason": "goodwill", "points": "+40"},
        )
        assert reply.status_code == 303
        assert _flash(reply).startswith(
            f"ok:Exception #{ids['blocked']} resolved: adjusted, +40 points onto member "
            "M0000000001."
        )
        assert server.balance("M0000000001") == anna + 40
        row = scene.row("blocked")
        assert scene.legs(row.resolution_event_id) == [
            ("member:M0000000001", 40, "adjust"),
            ("program:adjusted", -40, "adjust"),
        ]
        scene.assert_rebuild_ok()

        # Accept: no view filter, so the next open exception of the whole queue comes next.
        reply = _submit(
            client, scene, "mismatch", {"resolution": "accept", "reason": "known promo"}
        )
        assert reply.headers["location"] == f"/exceptions/{ids['original']}"
        assert _flash(reply) == (
            f"ok:Exception #{ids['mismatch']} resolved: accepted, no points moved. "
            "Here is the next open one."
        )
        assert scene.row("mismatch").resolution_kind == "accept"
        scene.assert_rebuild_ok()

        # The resolved page says who, when, how, why and what was posted.
        page = client.get(f"/exceptions/{ids['blocked']}")
        assert not _FORM.search(page.text)
        text = page.text
        assert "<dt>Who</dt><dd>mo</dd>" in text
        assert "<dt>Why</dt><dd>goodwill</dd>" in text
        assert "<strong>Adjust</strong>" in text
        assert "member:M0000000001" in text
        assert "program:adjusted" in text
        assert '<td class="num pos">+40</td>' in text
        page = client.get(f"/exceptions/{ids['unregistered']}")
        assert f"<dt>Card blocked</dt><dd><code>{card(2)}</code></dd>" in page.text


def test_a_refused_resolution_comes_back_to_the_form_with_the_reason(
    database: Database,
) -> None:
    with exceptions_scene(database) as scene, signed_in(scene.url, scene.hq.manager) as client:
        ids = scene.ids
        cases: list[tuple[str, dict[str, Any], str]] = [
            (
                "blocked",
                {"resolution": "adjust", "reason": "no points", "points": ""},
                "needs the points",
            ),
            (
                "blocked",
                {"resolution": "adjust", "reason": "typo", "points": "12a"},
                "not a whole number",
            ),
            ("blocked", {"resolution": "accept", "reason": ""}, "a reason is required"),
            ("blocked", {"reason": "none chosen"}, "choose a resolution"),
            (
                "mismatch",
                {"resolution": "write_off", "reason": "not applicable"},
                "write off applies to",
            ),
            (
                "blocked",
                {"resolution": "block_card", "reason": "someone else's", "card_number": card(2)},
                "is not a card of member M0000000001",
            ),
        ]
        for label, fields, message in cases:
            reply = _submit(client, scene, label, fields, "?kind=card_blocked&status=all")
            assert reply.status_code == 303, (label, fields, reply.text)
            assert reply.headers["location"] == (
                f"/exceptions/{ids[label]}?kind=card_blocked&status=all"
            )
            flash = _flash(reply)
            assert flash.startswith("error:Not resolved: "), flash
            assert message in flash, (fields, flash)
            assert scene.row(label).status == "open"
        # The message is shown once, on the page the redirect leads to.
        assert "Not resolved:" in client.get(f"/exceptions/{ids['blocked']}").text
        assert "Not resolved:" not in client.get(f"/exceptions/{ids['blocked']}").text
        # Resolved in another tab meanwhile: the second submit says so.
        page = client.get(f"/exceptions/{ids['blocked']}")
        _, token, _ = _form(page)
        first = client.post(
            f"/exceptions/{ids['blocked']}/resolve",
            data={"csrf_token": token, "resolution": "accept", "reason": "first tab"},
        )
        assert first.status_code == 303
        second = client.post(
            f"/exceptions/{ids['blocked']}/resolve",
            data={"csrf_token": token, "resolution": "accept", "reason": "second tab"},
        )
        assert second.status_code == 303
        assert _flash(second) == (
            f"error:Not resolved: exception {ids['blocked']} was already resolved by mo"
        )
        assert scene.row("blocked").resolution == "first tab"
        assert len(scene.audit("blocked")) == 1
