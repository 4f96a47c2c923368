"""The FastAPI application: one router per resource, one settings object, one database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from syncserver.api.errors import install_error_handlers
from syncserver.api.routes import (
    audit,
    cards,
    exceptions,
    health,
    members,
    overview,
    program,
    sync,
    terminals,
    users,
)
from syncserver.settings import ServerSettings
from syncserver.storage.database import Database
from syncserver.storage.migrate import check_current
from syncserver.web import install_dashboard

__all__ = ["create_app"]


def create_app(
    settings: ServerSettings | None = None, *, database: Database | None = None
) -> FastAPI:
    """The app for ``settings`` (or an already open ``database``, which the caller owns).

    Startup refuses a database whose schema is not current: `syncserver init` migrates.
    """
    config = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(config.db, pool_size=config.pool_size)
        try:
            check_current(db)
            app.state.database = db
            yield
        finally:
            if database is None:
                db.dispose()

    app = FastAPI(
        title="LoyalTill sync server",
        summary="Till journals in, one reconciled points ledger out.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = config
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(sync.router)
    app.include_router(members.router)
    app.include_router(exceptions.router)
    for hq_resource in (cards, terminals, program, audit, users, overview):
        app.include_router(hq_resource.router)
    install_dashboard(app)
    return app
