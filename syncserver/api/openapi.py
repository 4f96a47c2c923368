"""The OpenAPI document says every response the API really gives.

Routes declare their own errors (404, 409 …); the ones that any request can meet are added
here to every operation, so a new route cannot forget them and clients (and schemathesis)
can rely on the document:

* 405 (with ``Allow``) for another method on the path, 413 for a body over the route's limit
  and 422 for a NUL in the address (``syncserver.api.middleware``), 503 when the database is
  busy or unreachable;
* 400 for a body that cannot be read as JSON, on operations that take a body;
* 401 and 403 on operations behind a bearer token; 404 on operations with path parameters.

Every error response is the one ``ErrorBody`` shape: FastAPI's own ``HTTPValidationError``
never leaves the server (``syncserver.api.errors``), so it is not in the document either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from shared.protocol import ErrorBody

__all__ = ["ERROR_STATUSES", "document_errors", "install_openapi"]

ERROR_STATUSES: dict[int, str] = {
    400: "The body could not be read as JSON (not UTF-8, not JSON, nested too deeply).",
    401: "No bearer token, or one HQ does not know or has revoked.",
    403: "The token's holder may not do this (a till on an HQ endpoint, too low a role …).",
    404: "What the path names does not exist.",
    405: "The path does not take this method; ``Allow`` lists the ones it takes.",
    409: "The request is valid but the state does not allow it (see the message).",
    413: "The body is larger than this endpoint takes (docs/security.md, Limits).",
    422: "A parameter or the body is not valid (the message names it), or the address holds a NUL.",
    429: "Too many attempts: wait and try again.",
    503: "The database is busy or unreachable: retry in a few seconds.",
}
"""Every error status the API answers with, and what it means."""

_EVERY_OPERATION = (405, 413, 422, 503)
_REF = "#/components/schemas/ErrorBody"
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "Bearer: how to authenticate.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    405: {
        "Allow": {
            "description": "The methods this path takes, e.g. GET, HEAD.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}


def _statuses(operation: dict[str, Any]) -> set[int]:
    statuses = set(_EVERY_OPERATION)
    if "requestBody" in operation:
        statuses.add(400)
    if operation.get("security"):
        statuses |= {401, 403}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses.add(404)
    for status in operation.get("responses", {}):
        if status.isdigit() and int(status) >= 400:
            statuses.add(int(status))
    return statuses


def _references(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        if value.get("$ref") == f"#/components/schemas/{name}":
            return True
        return any(_references(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, name) for v in value)
    return False


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every operation's error responses in the ``ErrorBody`` shape (in place)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in schemas:
        generated = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas["ErrorBody"] = generated
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(operation)):
                response: dict[str, Any] = {
                    "description": ERROR_STATUSES.get(status, "An error."),
                    "content": {"application/json": {"schema": {"$ref": _REF}}},
                }
                if status in _HEADERS:
                    response["headers"] = _HEADERS[status]
                responses[str(status)] = response
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and not _references(
            {k: v for k, v in spec.items() if k != "components"}, unused
        ):
            others = {k: v for k, v in schemas.items() if k != unused}
            if not _references(others, unused):
                del schemas[unused]
    return spec


def install_openapi(app: FastAPI) -> None:
    """Post-process the document FastAPI builds, once, on first use."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
