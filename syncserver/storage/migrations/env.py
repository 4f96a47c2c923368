"""Alembic environment: migrations run on the connection :mod:`syncserver.storage.migrate`
passes in ``config.attributes`` (there is no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from syncserver.storage.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `syncserver init` (syncserver.storage.migrate)")
run_migrations(connection)
