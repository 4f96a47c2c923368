"""Every input the server takes is bounded at the boundary (issue 10, section 4).

The structural tests walk every operation — the JSON API's OpenAPI document, and the
dashboard's pages, which are left out of that document — and fail on any integer without a
maximum or text without a length limit or pattern, so a new route cannot bring the class of
bug back. The probes then send what schemathesis found (numbers past 2^63, "²", cursors made
by hand) and want a 422 in the error shape, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from syncserver.api.app import create_app
from syncserver.api.pagination import encode_cursor
from syncserver.api.params import parse_digits
from syncserver.storage.database import Database
from syncserver.web import pages
from syncserver.web.pages import (
    audit,
    cashiers,
    entries,
    exceptions,
    giftcards,
    members,
    overview,
    program,
    signin,
    stores,
    terminals,
    users,
    vouchers,
)
from tests.server.hq.exceptions_scene import exceptions_scene
from tests.server.hq.helpers import csrf_of, signed_in

HUGE = "99999999999999999999"  # past 2^64: OverflowError on SQLite, out of range on PostgreSQL
NUL_KEY = encode_cursor(["a\x00b"])  # a cursor whose text holds a NUL


def _problems(spec: dict[str, Any]) -> Iterator[str]:
    schemas = spec.get("components", {}).get("schemas", {})

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def walk(schema: dict[str, Any], where: str, depth: int = 0) -> Iterator[str]:
        if depth > 20:  # a recursive schema: what it holds was checked on the way down
            return
        schema = resolve(schema)
        for key in ("anyOf", "oneOf", "allOf"):
            for part in schema.get(key, []):
                yield from walk(part, where, depth + 1)
        kind = schema.get("type")
        if kind == "integer" and not {"maximum", "exclusiveMaximum"} & set(schema):
            yield f"{where}: an integer without a maximum"
        if kind == "string" and not {"maxLength", "pattern", "enum", "const", "format"} & set(
            schema
        ):
            yield f"{where}: a text without a maximum length or pattern"
        for name, part in schema.get("properties", {}).items():
            yield from walk(part, f"{where}.{name}", depth + 1)
        if isinstance(schema.get("additionalProperties"), dict):
            yield from walk(schema["additionalProperties"], f"{where}.*", depth + 1)
        if isinstance(schema.get("propertyNames"), dict):
            yield from walk(schema["propertyNames"], f"{where}.<key>", depth + 1)
        if isinstance(schema.get("items"), dict):
            yield from walk(schema["items"], f"{where}[]", depth + 1)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{label} {parameter['in']} {parameter['name']}"
                yield from walk(parameter["schema"], where)
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                yield from walk(content.get("schema", {}), f"{label} body ({media})")


def _dashboard_spec(*modules: Any) -> dict[str, Any]:
    """The dashboard's pages as an OpenAPI document (they are left out of the API's)."""
    routes = [
        APIRoute(route.path, route.endpoint, methods=sorted(route.methods or ()))
        for module in modules
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]
    return get_openapi(title="dashboard", version="1", routes=routes)


DASHBOARD = (
    audit,
    cashiers,
    entries,
    exceptions,
    giftcards,
    members,
    overview,
    program,
    signin,
    stores,
    terminals,
    users,
    vouchers,
)


def test_every_api_input_is_bounded() -> None:
    problems = set(_problems(create_app().openapi()))
    assert not problems, "\n".join(sorted(problems))


def test_every_dashboard_input_is_bounded() -> None:
    spec = _dashboard_spec(*DASHBOARD)
    assert len(spec["paths"]) >= 15, sorted(spec["paths"])
    problems = list(_problems(spec))
    assert not problems, "\n".join(problems)


def test_every_dashboard_page_module_is_walked() -> None:
    walked = {module.__name__ for module in DASHBOARD}
    found = {
        f"{pages.__name__}.{name}" for name in dir(pages) if hasattr(getattr(pages, name), "router")
    }
    assert found <= walked, found - walked


def test_digits_are_ascii_and_bounded() -> None:
    assert "²".isdigit()  # why str.isdigit() is not used: int("²") raises
    for text in ("²", "١٢", "1_000", "+5", "-1", "1.0", "", " ", "0x10", HUGE):
        assert parse_digits(text, 2**62) is None, text
    assert parse_digits(" 42 ", 100) == 42
    assert parse_digits("101", 100) is None
    assert parse_digits("0" * 19, 1) == 0


def test_numbers_and_cursors_past_any_column_are_a_422(database: Database) -> None:
    """What schemathesis found, and hand-made cursors, on both databases: a 422 naming the
    parameter, in the error shape (HTML for pages), never a 500."""
    with exceptions_scene(database) as scene:
        hq, url = scene.hq, scene.url
        client = scene.client
        viewer = hq.viewer.headers
        till = {"Authorization": f"Bearer {scene.tills['S001'][1]}"}
        for path, headers in (
            (f"/api/v1/entries/T0001/{HUGE}", viewer),
            (f"/api/v1/program/versions/{HUGE}", viewer),
            (f"/api/v1/exceptions/{HUGE}", viewer),
            (f"/api/v1/sync/pull?since={HUGE}", till),
            ("/api/v1/sync/pull?since=%C2%B2", till),
            (f"/api/v1/audit?cursor={encode_cursor([10**30])}", viewer),
            (f"/api/v1/exceptions?cursor={encode_cursor(['2026-01-01T00:00:00', 10**30])}", viewer),
            (f"/api/v1/members?cursor={NUL_KEY}", viewer),
            (f"/api/v1/members/M0000000001/ledger?cursor={encode_cursor([{'x': 1}])}", viewer),
            (f"/api/v1/terminals?cursor={encode_cursor([[1, 2]])}", viewer),
            ("/api/v1/users?cursor=not*base64", hq.admin.headers),
        ):
            reply = client.get(path, headers=headers)
            assert reply.status_code == 422, (path, reply.text)
            assert reply.json()["error"]["code"] == "malformed", path
        with signed_in(url, hq.admin) as admin:
            token = csrf_of(admin.get("/program").text)
            for method, path in (
                ("GET", f"/program/edit?draft={HUGE}"),
                ("GET", f"/program/edit?from_version={HUGE}"),
                ("GET", f"/program/versions/{HUGE}"),
                ("GET", f"/entries/T0001/{HUGE}"),
                ("GET", f"/exceptions/{HUGE}"),
                ("GET", "/exceptions?older_than_hours=%C2%B2"),
                ("GET", f"/exceptions?older_than_hours={HUGE}"),
                ("GET", f"/program?cursor={encode_cursor([10**30])}"),
                ("GET", f"/program?drafts={encode_cursor(['x'])}"),
                ("POST", f"/program/drafts/{HUGE}/delete"),
            ):
                form = {"csrf_token": token} if method == "POST" else None
                reply = admin.request(method, path, data=form)
                assert reply.status_code == 422, (method, path, reply.text)
                assert reply.headers["content-type"].startswith("text/html"), path
            # Digits in the editor's hidden fields are read as ASCII digits only.
            for field in ("base_version", "draft_id"):
                for value in ("²", HUGE):
                    reply = admin.post("/program/preview", data={"csrf_token": token, field: value})
                    assert reply.status_code < 500, (field, value, reply.text)


def test_a_body_that_is_not_json_is_a_400_in_the_error_shape(database: Database) -> None:
    with exceptions_scene(database) as scene:
        reply = scene.client.post(
            "/api/v1/terminals",
            content=b'{"store_id": "\xc3\x28"}',  # not UTF-8: json.loads cannot decode it
            headers={**scene.hq.admin.headers, "Content-Type": "application/json"},
        )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "bad_request"
    assert "send UTF-8 JSON" in error["message"]


def test_another_method_is_a_405_with_allow_in_the_error_shape(database: Database) -> None:
    with (
        exceptions_scene(database) as scene,
        httpx.Client(base_url=scene.url, timeout=60) as client,
    ):
        for method, path, allowed in (
            ("PUT", "/api/v1/terminals", "GET, POST"),
            ("DELETE", "/api/v1/members/M0000000001", "GET"),
            ("PATCH", "/healthz", "GET"),
        ):
            reply = client.request(method, path)
            assert reply.status_code == 405, (method, path)
            assert reply.headers["allow"] == allowed
            assert reply.json()["error"]["code"] == "method_not_allowed"
            assert allowed.replace(", ", " or ") in reply.json()["error"]["message"]
        page = client.put("/members")
        assert (page.status_code, page.headers["allow"]) == (405, "GET")
        assert page.headers["content-type"].startswith("text/html")


def test_hand_made_cursors_of_lists_owned_elsewhere_are_a_422(database: Database) -> None:
    with exceptions_scene(database) as scene:
        viewer = scene.hq.viewer.headers
        for path in (
            f"/api/v1/members/M0000000001/ledger?cursor={encode_cursor([HUGE])}",
            f"/api/v1/exceptions?cursor={encode_cursor(['0001-01-01T00:00:00+14:00', 1])}",
        ):
            # A fresh client for each: a 500 closes the connection.
            with httpx.Client(base_url=scene.url, timeout=60) as client:
                reply = client.get(path, headers=viewer)
            assert reply.status_code == 422, (path, reply.text)
