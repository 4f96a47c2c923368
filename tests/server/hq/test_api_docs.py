"""The API is documented at /docs from the server itself, and every HQ endpoint declares the
one error shape and the pagination convention."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from syncserver.api.app import create_app
from syncserver.storage.database import Database
from tests.server.hq.helpers import prepare_hq, serve

HQ_RESOURCES = (
    "overview",
    "members",
    "cards",
    "entries",
    "exceptions",
    "terminals",
    "stores",
    "program",
    "audit",
    "users",
)


def test_the_docs_page_needs_no_internet(database: Database) -> None:
    prepare_hq(database, with_members=False)
    with serve(database) as url, httpx.Client(base_url=url, timeout=60) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page.text)
        assert assets, page.text
        for asset in assets:
            assert asset.startswith("/"), f"{asset} would be fetched from another site"
            assert client.get(asset).status_code == 200, asset


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app().openapi()


def test_every_hq_resource_is_documented(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    for resource in HQ_RESOURCES:
        assert any(path.startswith(f"/api/v1/{resource}") for path in paths), resource


def test_hq_endpoints_declare_the_error_shape_and_lists_are_pages(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/sync/"):
            continue
        if path == "/api/v1/terminals/claim":
            continue  # the till's own call, with a set-up code instead of a token
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            for status in ("401", "403"):
                assert status in responses, f"{where} does not document {status}"
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorBody"), where
            ok = responses.get("200", {}).get("content", {}).get("application/json", {})
            ref = ok.get("schema", {}).get("$ref", "")
            if ref.rsplit("/", 1)[-1].startswith("Page_"):
                names = {p["name"] for p in operation.get("parameters", [])}
                assert {"limit", "cursor"} <= names, f"{where} is a page without limit/cursor"


def test_every_operation_documents_the_errors_it_can_answer(spec: dict[str, Any]) -> None:
    """schemathesis checks answers against these (tests/server/test_api_fuzz.py); this says
    which ones every operation must list, whatever its route declared."""
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            expected = {405, 413, 422, 503}
            if "requestBody" in operation:
                expected.add(400)
            if operation.get("security"):
                expected |= {401, 403}
            if "{" in path:
                expected.add(404)
            responses = operation["responses"]
            for status in expected:
                documented = responses.get(str(status))
                assert documented is not None, f"{where} does not document {status}"
                schema = documented["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorBody"), f"{where} {status}"
            assert responses["405"]["headers"]["Allow"]["required"] is True, where
            if "401" in responses:
                assert "WWW-Authenticate" in responses["401"]["headers"], where
