"""Prometheus metrics at ``GET /metrics`` (docs/operations.md), behind a scrape token.

Each app has its own ``CollectorRegistry`` on ``app.state.metrics`` (the tests build many apps
in one process; the global default registry would mix their figures and refuse duplicate
names). One ``syncserver serve`` process is one registry: several processes are scraped each
on its own port.

Counters and histograms are recorded as requests happen (``RequestMetrics`` middleware, the
sync routes). What is already stored — each till's acknowledged seq and reported tip — and the
connection pool's state are read when scraped (``_ScrapeTimeCollector``): exact after a
restart, the same from every process, and no gauge left behind for a revoked till.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable, Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.protocol import PushResponse
from syncserver.api.errors import error_response
from syncserver.errors import ApiError
from syncserver.storage.database import Database
from syncserver.storage.schema import terminals

__all__ = ["PREFIX", "Metrics", "RequestMetrics", "install_metrics", "route_of"]

log = logging.getLogger(__name__)

PREFIX = "loyaltill_"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: a push of a few entries takes milliseconds, a catch-up push of thousands seconds."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled as themselves; any other (a client may send any word) is ``other``."""

UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404): never the raw path, which anyone
can vary to grow the metric without bound."""


class Metrics:
    """The app's registry and the figures recorded into it."""

    def __init__(self, database: Callable[[], Database | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.push_requests = Counter(
            f"{PREFIX}push_requests",
            "Pushes by an authenticated till, by outcome (ok, or the error code answered).",
            ["outcome"],
            registry=r,
        )
        self.push_entries = Counter(
            f"{PREFIX}push_entries", "Journal entries stored by pushes.", registry=r
        )
        self.push_duplicates = Counter(
            f"{PREFIX}push_duplicates",
            "Pushed entries HQ already held (resent after a lost reply).",
            registry=r,
        )
        self.push_seconds = Histogram(
            f"{PREFIX}push_seconds",
            "Time to store and reconcile a push, whatever its outcome.",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.exceptions_raised = Counter(
            f"{PREFIX}exceptions_raised",
            "HQ exceptions raised by pushed entries, by kind.",
            ["kind"],
            registry=r,
        )
        self.pull_seconds = Histogram(
            f"{PREFIX}pull_seconds",
            "Time to read a pull page (answered pulls only).",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.http_requests = Counter(
            f"{PREFIX}http_requests",
            "HTTP requests by method, matched route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            f"{PREFIX}http_request_seconds",
            "HTTP request time by matched route template (until the response is sent).",
            ["route"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        r.register(_ScrapeTimeCollector(database))

    def record_push(self, reply: PushResponse, seconds: float) -> None:
        self.push_requests.labels(outcome="ok").inc()
        self.push_entries.inc(reply.stored)
        self.push_duplicates.inc(reply.duplicates)
        for raised in reply.exceptions:
            self.exceptions_raised.labels(kind=raised.kind).inc()
        self.push_seconds.observe(seconds)

    def record_failed_push(self, error: BaseException, seconds: float) -> None:
        # The code the till is answered (refused, conflict, gap, busy, …); anything else
        # became a 500.
        outcome = error.code if isinstance(error, ApiError) else "error"
        self.push_requests.labels(outcome=outcome).inc()
        self.push_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ScrapeTimeCollector(Collector):
    """Figures read when scraped: the pool, and each active till's acknowledged seq and
    what it reported still unsent."""

    def __init__(self, database: Callable[[], Database | None]) -> None:
        self._database = database

    def describe(self) -> list[Metric]:
        # Describing without collecting: registering must not touch the database.
        return []

    def collect(self) -> Iterator[Metric]:
        database = self._database()
        if database is None:  # before startup or after shutdown
            return
        pool = database.engine.pool
        checked_out: Callable[[], int] | None = getattr(pool, "checkedout", None)
        size: Callable[[], int] | None = getattr(pool, "size", None)
        if checked_out is not None and size is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}db_pool_in_use",
                "Database connections of this process's pool checked out now.",
                value=int(checked_out()),
            )
            yield GaugeMetricFamily(
                f"{PREFIX}db_pool_size",
                "This process's pool size (as many more may open at peak).",
                value=int(size()),
            )
        yield from _terminal_gauges(database)


def _terminal_gauges(database: Database) -> Iterable[Metric]:
    acked = GaugeMetricFamily(
        f"{PREFIX}terminal_acked_seq",
        "The last seq of a till's journal HQ has stored.",
        labels=["terminal"],
    )
    unsent = GaugeMetricFamily(
        f"{PREFIX}terminal_unsent_entries",
        "Entries a till reported still unsent (its reported tip minus the acknowledged seq); "
        "only tills that report their tip.",
        labels=["terminal"],
    )
    try:
        with database.read() as conn:
            rows = conn.execute(
                select(terminals.c.terminal_id, terminals.c.acked_seq, terminals.c.tip_seq)
                .where(terminals.c.revoked_at.is_(None))
                .order_by(terminals.c.terminal_id)
            ).all()
    except Exception as error:
        # A busy or unreachable database costs the scrape these figures, not the others:
        # the counters say the most when the database is in trouble.
        log.warning("metrics: could not read the tills' figures: %r", error)
        return []
    for terminal_id, acked_seq, tip_seq in rows:
        acked.add_metric([terminal_id], int(acked_seq))
        if tip_seq is not None:
            # A push may have overtaken the tip reported on the last pull.
            unsent.add_metric([terminal_id], max(int(tip_seq) - int(acked_seq), 0))
    return [acked, unsent]


def route_of(scope: Scope) -> str:
    """The matched route's template (``/api/v1/members/{member_id}``), set on the scope by
    the router; ``unmatched`` when no route matched."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class RequestMetrics:
    """Counts and times every HTTP request by route template, including the ones refused by
    the middleware inside it (RequestGuard's 413 and 422); then hands the request's figures
    to ``on_done`` (the JSON request log), if any."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        on_done: Callable[[Scope, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.on_done = on_done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The routes note the till and what a push stored here (Request.state is this dict).
        scope.setdefault("state", {})
        status = 500  # unless a response starts: an error escaping the app becomes a 500
        started = time.perf_counter()

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            method = str(scope["method"])
            self.metrics.http_requests.labels(
                method=method if method in _METHODS else "other", route=route, status=str(status)
            ).inc()
            self.metrics.http_seconds.labels(route=route).observe(seconds)
            if self.on_done is not None:
                self.on_done(scope, status, seconds)


_METRICS_OFF = (
    "metrics are off: set LOYALTILL_SERVER_METRICS_TOKEN to a secret and have the scraper "
    "send Authorization: Bearer <that secret> (docs/operations.md)"
)
_WRONG_SCRAPER = (
    "send the scrape token set in LOYALTILL_SERVER_METRICS_TOKEN as Authorization: Bearer <token>"
)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request) -> Response:
    """This process's metrics in the Prometheus text format."""
    # Answered with error_response directly: /metrics is not under /api/, and the dashboard
    # would otherwise answer its errors as HTML pages; a scraper reads JSON.
    token: str | None = request.app.state.settings.metrics_token
    if not token:
        return error_response(404, "not_found", _METRICS_OFF)
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    # Compared in constant time: the answer's timing must not tell a guesser how much of
    # the token it got right.
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        return error_response(401, "unauthorized", _WRONG_SCRAPER)
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI) -> Metrics:
    """The app's registry on ``app.state.metrics`` and its ``/metrics`` route."""
    metrics = Metrics(lambda: getattr(app.state, "database", None))
    app.state.metrics = metrics
    app.include_router(router)
    return metrics
