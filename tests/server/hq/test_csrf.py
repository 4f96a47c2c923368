"""Every dashboard form refuses a CSRF token that is not the session's with a 403 — a
non-ASCII one included. ``hmac.compare_digest`` raises TypeError for a str with a non-ASCII
character, which was a 500 on all the dashboard's forms; the tokens are compared as bytes.

The forms are found from the routes themselves (every POST that depends on
``checked_session``), so a new form is covered the day it is added.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from syncserver.storage.database import Database
from syncserver.web import pages
from syncserver.web.session import checked_session
from tests.server.hq.exceptions_scene import exceptions_scene
from tests.server.hq.helpers import csrf_of, signed_in
from tests.server.journal import card

PATH_VALUES = {
    "member_id": "M0000000001",
    "card": card(2),
    "exception_id": "1",
    "terminal_id": "T0001",
    "username": "vi",
    "draft_id": "1",
    "cashier_id": "7",
    "store_id": "S001",
    "code": "V-2222-2222-2222",
    "number": "6039000000000000000",
}


def _depends_on(dependant: Any, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def checked_forms() -> list[str]:
    """The path of every dashboard POST that checks the CSRF token, path parameters filled."""
    found = []
    for name in dir(pages):
        router = getattr(getattr(pages, name), "router", None)
        for route in getattr(router, "routes", ()):
            if (
                isinstance(route, APIRoute)
                and "POST" in (route.methods or ())
                and _depends_on(route.dependant, checked_session)
            ):
                found.append(route.path.format(**PATH_VALUES))
    return sorted(found)


def test_every_form_is_found() -> None:
    forms = checked_forms()
    assert len(forms) >= 13, forms
    assert "/members/M0000000001/adjust" in forms
    assert "/program/drafts/1/delete" in forms


def test_a_non_ascii_or_wrong_csrf_token_is_a_403_on_every_form(database: Database) -> None:
    with exceptions_scene(database) as scene, signed_in(scene.url, scene.hq.admin) as admin:
        real = csrf_of(admin.get("/terminals").text)
        for path in checked_forms():
            cases: tuple[tuple[dict[str, str], dict[bytes, bytes]], ...] = (
                ({"csrf_token": "é" + real[1:]}, {}),  # a form field (UTF-8)
                ({"csrf_token": "\u2603" * 3}, {}),
                ({}, {b"X-CSRF-Token": ("é" + real[1:]).encode("latin-1")}),  # htmx's header
                ({"csrf_token": real[:-1]}, {}),
                ({}, {}),
            )
            for form, headers in cases:
                reply = admin.post(path, data=form, headers=headers)
                assert reply.status_code == 403, (path, form, headers, reply.text[:300])
                assert "this form has expired or came from another site" in reply.text
