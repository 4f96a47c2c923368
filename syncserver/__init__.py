"""The sync server: FastAPI app (``api``), master ledger and reconciliation (``ledger``),
push/pull (``sync``), storage on SQLite or PostgreSQL (``storage``) and the admin CLI (``cli``).
See docs/protocol.md and docs/ledger.md."""
