"""The FastAPI application: one router per resource, one settings object, one database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from syncserver.api.errors import install_error_handlers
from syncserver.api.logs import log_request
from syncserver.api.metrics import RequestMetrics, install_metrics
from syncserver.api.middleware import ApiHeaders, RequestGuard
from syncserver.api.openapi import install_openapi
from syncserver.api.routes import (
    audit,
    cards,
    cashiers,
    entries,
    exceptions,
    giftcards,
    health,
    members,
    overview,
    program,
    stores,
    sync,
    terminals,
    users,
    vouchers,
)
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database
from syncserver.storage.migrate import check_current
from syncserver.web import install_dashboard

__all__ = ["create_app"]

API_DESCRIPTION = """
Two kinds of callers, each with a bearer token (`Authorization: Bearer <token>`):

* **Tills** (`syncserver terminal add`): `POST /api/v1/sync/push` and `GET /api/v1/sync/pull`
  for their own journal only. A till token gets **403** on every HQ endpoint.
* **HQ staff** (`syncserver user add` / `syncserver token create`): everything else, by role —
  `viewer` reads; `manager` also adjusts points, blocks and replaces cards and resolves
  exceptions; `admin` also manages staff, terminals and the program. An HQ token gets **403**
  on the sync endpoints. Every write is recorded in the audit log with who did it.

**Lists** take `limit` (1–500, default 50) and `cursor` and answer
`{"items": [...], "next_cursor": "…" | null}`; pass `next_cursor` back as `cursor` for the
next page. Filters are plain query parameters.

**Errors** always have one shape, `{"error": {"code": "…", "message": "…"}}`, with codes
`bad_request` (400: a body that is not JSON), `unauthorized` (401), `forbidden` (403),
`not_found` (404), `method_not_allowed` (405, with `Allow`), `conflict` (409), `too_large`
(413), `malformed` (422), `rate_limited` (429), `busy` (503) and the sync codes in
docs/protocol.md. The message says what to do next.

**Limits**: a request body is at most 1 MiB (a program rules document 4 MiB, a push 16 MiB),
refused with 413 before it is read; integers in paths and queries are bounded and texts have
maximum lengths (see each parameter); an address holding a NUL (`%00`) is a 422. Responses
are sent with `Cache-Control: no-store`.

The same capabilities are in the HQ dashboard at `/` (sign in with a staff account).
"""


def create_app(
    settings: ServerSettings | None = None,
    *,
    database: Database | None = None,
    daily_runs: bool = False,
) -> FastAPI:
    """The app for ``settings`` (or an already open ``database``, which the caller owns).

    Startup refuses a database whose schema is not current: `syncserver init` migrates.
    ``daily_runs`` (``syncserver serve``): the tier review and points expiry run once a day
    in a background thread that lives as long as the app (syncserver.ledger.periodic).
    """
    config = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(config.db, pool_size=config.pool_size)
        try:
            check_current(db)
            app.state.database = db
            runs = None
            if daily_runs:
                from syncserver.hq.setup import CLI
                from syncserver.ledger.periodic import DailyRuns

                runs = app.state.daily_runs = DailyRuns(db, config.timezone, CLI)
                runs.start()
            try:
                yield
            finally:
                if runs is not None:
                    runs.stop()
        finally:
            if database is None:
                db.dispose()

    app = FastAPIOffline(
        title="LoyalTill sync server",
        summary="Till journals in, one reconciled points ledger out.",
        description=API_DESCRIPTION,
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = config
    install_error_handlers(app)
    install_openapi(app)
    # A NUL in the address and an oversized body are refused before anything reads,
    # authenticates or routes the request. The last middleware added is the outermost: only
    # the two that add headers (the dashboard's and ApiHeaders) and RequestMetrics wrap this
    # one, so its refusals carry their headers too, and are counted.
    app.add_middleware(RequestGuard)
    app.include_router(health.router)
    metrics = install_metrics(app)
    app.include_router(sync.router)
    app.include_router(members.router)
    app.include_router(exceptions.router)
    for hq_resource in (
        cards,
        entries,
        terminals,
        cashiers,
        stores,
        program,
        audit,
        users,
        overview,
        vouchers,
        giftcards,
    ):
        app.include_router(hq_resource.router)
    install_dashboard(app)
    app.add_middleware(ApiHeaders)
    # Outermost: it counts and times every request, the refusals of the middleware above
    # included, and writes the JSON request line (``--log-format json``; uvicorn's access
    # log is then off).
    app.add_middleware(
        RequestMetrics,
        metrics=metrics,
        on_done=log_request if config.log_format == "json" else None,
    )
    return app
