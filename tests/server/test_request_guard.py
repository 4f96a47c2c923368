"""No text with a NUL (or another control character) reaches the database, whichever way it
comes in: the address (one check before any route), a JSON body (one pydantic text type) or a
dashboard form (one check on every form). PostgreSQL cannot store or compare a NUL: each of
these was a 500 there. And every API answer is marked no-store and nosniff.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from syncserver.api.app import create_app
from syncserver.api.middleware import has_nul
from syncserver.embedded import run_in_thread
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database, DatabaseBusyError
from tests.server.hq.exceptions_scene import Scene, exceptions_scene
from tests.server.hq.helpers import csrf_of, signed_in
from tests.server.journal import card


def test_a_nul_anywhere_in_the_address_is_found() -> None:
    def scope(path: str, raw: bytes, query: bytes) -> dict[str, Any]:
        return {"type": "http", "path": path, "raw_path": raw, "query_string": query}

    assert has_nul(scope("/members/M1\x00", b"/members/M1%00", b""))
    assert has_nul(scope("/members", b"/members", b"q=a%00b"))
    assert has_nul(scope("/members", b"/members", b"q=a\x00b"))
    assert has_nul(scope("/members/M1\x00", b"", b""))
    assert not has_nul(scope("/members", b"/members", b"q=100%25"))
    assert not has_nul(scope("/members", b"/members", b"q=%2500"))  # the text "%00", no NUL


def test_a_nul_in_the_address_is_a_422_for_the_api_and_the_dashboard(database: Database) -> None:
    with exceptions_scene(database) as scene:
        viewer = scene.hq.viewer.headers
        for path in (
            "/api/v1/members?q=a%00b",
            "/api/v1/members?name=%00",
            "/api/v1/exceptions?store=%00",
            "/api/v1/members/M1%00",
            "/api/v1/cards/%00",
            "/api/v1/terminals?store=S%00",
            "/api/v1/audit?actor=%00",
            "/healthz?x=%00",
        ):
            reply = scene.client.get(path, headers=viewer)
            assert reply.status_code == 422, (path, reply.text)
            assert reply.json()["error"]["code"] == "malformed", path
            assert "NUL" in reply.json()["error"]["message"]
        with signed_in(scene.url, scene.hq.viewer) as browser:
            for path in ("/members?q=a%00b", "/exceptions?store=%00", "/members/M1%00"):
                page = browser.get(path)
                assert page.status_code == 422, path
                assert page.headers["content-type"].startswith("text/html")
                assert "NUL" in page.text


def _post(scene: Scene, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    # json.dumps escapes what UTF-8 cannot carry (a lone surrogate becomes \\ud800), as a
    # client in another language may send it.
    content = json.dumps(body).encode("ascii")
    return scene.client.post(
        path, content=content, headers={**headers, "Content-Type": "application/json"}
    )


UNPRINTABLE = ("S\x00", "S\x07", "\x85", "ok\ud800")
"""A NUL, a bell, a C1 control, a lone surrogate."""


def test_text_in_json_bodies_is_printable(database: Database) -> None:
    with exceptions_scene(database) as scene:
        admin, manager = scene.hq.admin.headers, scene.hq.manager.headers
        # One scene for every character: starting a server per character cost more than
        # the checks themselves.
        cases = [case for text in UNPRINTABLE for case in _text_cases(scene, text, admin, manager)]
        for path, body, headers, field in cases:
            reply = _post(scene, path, body, headers)
            assert reply.status_code == 422, (path, field, reply.text)
            error = reply.json()["error"]
            assert (error["code"], f"body.{field}" in error["message"]) == ("malformed", True)
            # A lone surrogate is already not a string to pydantic; the rest is ours.
            assert "control character" in error["message"] or "unicode" in error["message"]


def _text_cases(
    scene: Any, text: str, admin: dict[str, str], manager: dict[str, str]
) -> list[tuple[str, dict[str, Any], dict[str, str], str]]:
    """(path, body, headers, field) of every JSON body with a text field, holding ``text``."""
    return [
        ("/api/v1/terminals", {"store_id": text, "name": "Till"}, admin, "store_id"),
        ("/api/v1/terminals", {"store_id": "S1", "name": text}, admin, "name"),
        ("/api/v1/users", {"username": text, "role": "viewer"}, admin, "username"),
        ("/api/v1/users/vi/tokens", {"label": text}, admin, "label"),
        (f"/api/v1/cards/{card(2)}/block", {"reason": f"lost {text}"}, manager, "reason"),
        (
            f"/api/v1/cards/{card(2)}/replace",
            {"new_card_number": text, "reason": "lost it"},
            manager,
            "new_card_number",
        ),
        (
            "/api/v1/members/M0000000001/adjustments",
            {"points": 5, "reason": f"why {text}"},
            manager,
            "reason",
        ),
        (
            f"/api/v1/exceptions/{scene.ids['overdraft']}/resolve",
            {"resolution": "accept", "reason": f"fine {text}"},
            manager,
            "reason",
        ),
    ]


def test_reasons_keep_their_line_breaks(database: Database) -> None:
    with exceptions_scene(database) as scene:
        reply = _post(
            scene,
            "/api/v1/members/M0000000001/adjustments",
            {"points": 5, "reason": "goodwill:\n\tmissing receipt\r\n"},
            scene.hq.manager.headers,
        )
    assert reply.status_code == 201, reply.text


def test_a_control_character_in_any_dashboard_form_is_a_422(database: Database) -> None:
    with exceptions_scene(database) as scene, signed_in(scene.url, scene.hq.admin) as admin:
        token = csrf_of(admin.get("/terminals").text)
        for path, form, field in (
            ("/terminals", {"store_id": "S001", "name": "Till\x00"}, "name"),
            ("/users", {"username": "new\x00", "role": "viewer"}, "username"),
            ("/members/M0000000001/adjust", {"points": "5", "reason": "a\x00b"}, "reason"),
            (
                f"/exceptions/{scene.ids['overdraft']}/resolve",
                {"resolution": "accept", "reason": "ok\x1b[31m"},
                "reason",
            ),
            ("/program/drafts", {"program_id": "p\x00", "version": "4"}, "program_id"),
        ):
            page = admin.post(path, data={"csrf_token": token, **form})
            assert page.status_code == 422, (path, page.text)
            assert page.headers["content-type"].startswith("text/html")
            assert f"the field &#39;{field}&#39; contains the control character" in page.text
        # Line breaks in a text area are text.
        fine = admin.post(
            "/members/M0000000001/adjust",
            data={"csrf_token": token, "points": "5", "reason": "goodwill\r\nmissing receipt"},
        )
        assert fine.status_code == 303, fine.text


def test_a_sample_basket_the_engine_refuses_is_a_422(database: Database) -> None:
    """Each was a 500: the till's own models (shared) refused what the sample basket let in."""
    with exceptions_scene(database) as scene:
        for line, where in (
            ({"sku": "A\x95B", "category": "x", "unit_price_minor": 1}, "sku"),
            (
                {"sku": "A", "category": "x", "quantity": 100_000, "unit_price_minor": 10**10},
                "unit_price_minor",
            ),
        ):
            reply = _post(
                scene,
                "/api/v1/program/preview",
                {"basket": {"lines": [line]}},
                scene.hq.viewer.headers,
            )
            assert reply.status_code == 422, reply.text
            assert where in reply.json()["error"]["message"]


def test_a_busy_database_is_a_503_the_client_may_retry(database: Database) -> None:
    app = create_app(ServerSettings(cookie_secure=False), database=database)
    _busy_route(app)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        reply = client.get("/api/v1/busy-test")
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == "busy"
    assert "retry" in reply.json()["error"]["message"]


def _busy_route(app: FastAPI) -> None:
    @app.get("/api/v1/busy-test")
    def busy() -> None:
        raise DatabaseBusyError("the database stayed busy after 6 attempts")


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """A real uvicorn on loopback for an app a test has added a route to."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    with run_in_thread(config, startup_timeout_s=60) as url:
        yield url


def test_api_answers_are_no_store_and_nosniff(database: Database) -> None:
    with exceptions_scene(database) as scene:
        client, viewer = scene.client, scene.hq.viewer.headers
        for method, path, headers, status in (
            ("GET", "/api/v1/members/M0000000001", viewer, 200),
            ("GET", "/api/v1/members", viewer, 200),
            ("GET", "/api/v1/members", {}, 401),
            ("GET", "/api/v1/members/M0000009999", viewer, 404),
            ("GET", "/api/v1/members?limit=0", viewer, 422),
            ("GET", "/api/v1/members?q=%00", viewer, 422),
            ("PUT", "/api/v1/members", viewer, 405),
        ):
            reply = client.request(method, path, headers=headers)
            assert reply.status_code == status, (method, path, reply.text)
            assert reply.headers["cache-control"] == "no-store", path
            assert reply.headers["x-content-type-options"] == "nosniff", path
        for path in ("/openapi.json", "/healthz", "/static/app.css", "/signin"):
            assert client.get(path).headers["x-content-type-options"] == "nosniff", path
        with signed_in(scene.url, scene.hq.viewer) as browser:
            page = browser.get("/members/M0000000001")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-content-type-options"] == "nosniff"


def test_the_page_headers_are_on_refusals_before_any_route_too(database: Database) -> None:
    """A page refused by the guard (a NUL, a body too large) still forbids framing, scripts
    from elsewhere and caching."""
    with exceptions_scene(database) as scene:
        reply = scene.client.get("/members?q=%00")
    assert reply.status_code in (303, 422)  # not signed in: to the sign-in page, or the error
    assert reply.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
