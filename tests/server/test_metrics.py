"""``GET /metrics``: a real till's push and pull on a real uvicorn, then a scrape, read with
Prometheus's own parser; and the scrape token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from syncserver.api.app import create_app
from syncserver.embedded import run_in_thread, serve_in_thread
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database
from tests.server.helpers import PULL, bearer, prepare, push
from tests.server.journal import JournalWriter, card, member_ref

SCRAPE_TOKEN = "scrape-secret-for-tests"
ANNA = member_ref(card(1), "M0000000001")
NOBODY = member_ref(card(99))  # a card HQ does not know: the push raises unknown_card


@contextmanager
def _client(database: Database, token: str | None = SCRAPE_TOKEN) -> Iterator[httpx.Client]:
    settings = ServerSettings(metrics_token=token)
    with (
        serve_in_thread(database, settings=settings) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def _scrape(client: httpx.Client) -> list[Sample]:
    reply = client.get("/metrics", headers=bearer(SCRAPE_TOKEN))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return [
        sample for family in text_string_to_metric_families(reply.text) for sample in family.samples
    ]


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def test_a_push_and_a_pull_are_in_the_scrape(database: Database) -> None:
    server = prepare(database)
    terminal_id, token = server.terminal()
    till = JournalWriter(terminal_id)
    till.sale(ANNA)
    till.sale(NOBODY)
    till.close_shift()
    till.sale(ANNA)
    tip = till.sale(ANNA)  # both written after the push: the till reports them unsent
    with _client(database) as client:
        reply = push(client, token, terminal_id, till.records[:3])
        assert reply.status_code == 200, reply.text
        pushed = reply.json()
        again = push(client, token, terminal_id, till.records[:1])  # resent: a duplicate
        assert again.json()["duplicates"] == 1
        gap = push(client, token, terminal_id, till.records[4:])  # seq 4 left out
        assert gap.status_code == 409, gap.text
        assert gap.json()["error"]["code"] == "gap"
        pulled = client.get(PULL, params={"tip": tip.seq}, headers=bearer(token))
        assert pulled.status_code == 200, pulled.text
        samples = _scrape(client)

    assert pushed["stored"] == 3
    assert _value(samples, "loyaltill_push_entries_total") == pushed["stored"]
    assert _value(samples, "loyaltill_push_duplicates_total") == 1
    assert _value(samples, "loyaltill_push_requests_total", outcome="ok") == 2
    kinds = {raised["kind"] for raised in pushed["exceptions"]}
    assert kinds, pushed  # the unknown card
    for kind in kinds:
        assert (_value(samples, "loyaltill_exceptions_raised_total", kind=kind) or 0) >= 1
    push_count = _value(samples, "loyaltill_push_seconds_count")
    assert push_count is not None
    assert push_count >= 3
    assert _value(samples, "loyaltill_push_requests_total", outcome="gap") == 1
    assert _value(samples, "loyaltill_pull_seconds_count") == 1

    assert _value(samples, "loyaltill_terminal_acked_seq", terminal=terminal_id) == 3
    assert _value(samples, "loyaltill_terminal_unsent_entries", terminal=terminal_id) == 2

    push_route = {"method": "POST", "route": "/api/v1/sync/push", "status": "200"}
    assert _value(samples, "loyaltill_http_requests_total", **push_route) == 2
    assert _value(samples, "loyaltill_http_request_seconds_count", route="/api/v1/sync/push") == 3
    in_use = _value(samples, "loyaltill_db_pool_in_use")
    size = _value(samples, "loyaltill_db_pool_size")
    assert in_use is not None
    assert size is not None
    assert 0 <= in_use <= 2 * size


def test_routes_are_labelled_by_template_never_by_path(database: Database) -> None:
    prepare(database, with_members=False)
    with _client(database) as client:
        for number in ("M0000000001", "M0000000002"):
            client.get(f"/api/v1/members/{number}")  # 401: no token; still routed
        client.get("/no/such/thing/at/all")
        samples = _scrape(client)
    routes = {s.labels["route"] for s in samples if s.name == "loyaltill_http_requests_total"}
    assert "/api/v1/members/{member_id}" in routes, routes
    assert "unmatched" in routes
    assert not any("M000000000" in route or "/no/such" in route for route in routes), routes


def test_without_a_token_configured_metrics_are_not_found(database: Database) -> None:
    prepare(database, with_members=False)
    with _client(database, token=None) as client:
        reply = client.get("/metrics", headers=bearer(SCRAPE_TOKEN))
        schema = client.get("/openapi.json").json()
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["code"] == "not_found"
    assert "LOYALTILL_SERVER_METRICS_TOKEN" in error["message"]
    assert "/metrics" not in schema["paths"]


def test_a_wrong_or_missing_scrape_token_is_unauthorized(database: Database) -> None:
    server = prepare(database, with_members=False)
    _terminal_id, till_token = server.terminal()
    with _client(database) as client:
        replies = [
            client.get("/metrics"),
            client.get("/metrics", headers=bearer("not-the-scrape-token")),
            client.get("/metrics", headers=bearer(till_token)),  # a till's token is not it
            client.get("/metrics", headers={"Authorization": SCRAPE_TOKEN}),  # no scheme
        ]
    for reply in replies:
        assert reply.status_code == 401, reply.text
        assert reply.json()["error"]["code"] == "unauthorized"
        assert "# HELP" not in reply.text


def test_an_unknown_method_is_labelled_other(database: Database) -> None:
    """httptools (serve's parser) answers an unknown method 400 itself; h11, uvicorn's other
    parser, passes any word through to the app."""
    prepare(database, with_members=False)
    app = create_app(ServerSettings(metrics_token=SCRAPE_TOKEN), database=database)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http="h11", log_level="warning")
    with run_in_thread(config) as url, httpx.Client(base_url=url, timeout=30) as client:
        for word in ("BREW", "BREW2", "PROPFIND"):
            client.request(word, "/healthz")
        samples = _scrape(client)
    requests = [s for s in samples if s.name == "loyaltill_http_requests_total"]
    # (The scrape itself is counted once it is answered: it is not in its own figures.)
    assert [(s.labels["method"], s.value) for s in requests] == [("other", 3)]
