"""Schema migrations (Alembic), run from package data so an installed server can migrate.

``syncserver init`` calls :func:`upgrade`; ``syncserver serve`` calls
:func:`check_current` and refuses to start on a database that is not at the newest revision.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from syncserver.storage.database import Database

__all__ = ["SchemaNotCurrentError", "check_current", "current_revision", "head_revision", "upgrade"]

SCRIPT_LOCATION = "syncserver.storage:migrations"


class SchemaNotCurrentError(RuntimeError):
    """The database is missing or behind the code: run ``syncserver init``."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found in the syncserver package")
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(database: Database) -> str:
    """Create or migrate the schema to the newest revision, in one transaction."""
    config = _config()
    with database.engine.begin() as conn:
        # env.py runs the migrations on this connection instead of opening its own, so the
        # URL (and its password) never passes through Alembic's ini-style interpolation.
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def check_current(database: Database) -> None:
    current, head = current_revision(database), head_revision()
    if current != head:
        state = "has no LoyalTill schema" if current is None else f"is at revision {current}"
        raise SchemaNotCurrentError(
            f"the database {state}, the server needs {head}: run `syncserver init` first"
        )
