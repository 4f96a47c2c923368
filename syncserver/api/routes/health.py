"""Liveness and readiness for load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from syncserver.api.deps import DatabaseDep
from syncserver.errors import BusyError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(database: DatabaseDep) -> dict[str, str]:
    """``ok`` when this process can reach its database."""
    try:
        with database.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        raise BusyError(f"database unreachable: {type(error).__name__}") from None
    return {"status": "ok", "database": database.dialect}
