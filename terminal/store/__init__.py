"""The till's local SQLite store (sqlite-utils): journal, caches, queues and settings."""

from terminal.store.database import TillDatabase, open_database

__all__ = ["TillDatabase", "open_database"]
