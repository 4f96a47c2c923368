"""Dashboard: the overview (home page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from syncserver.api.deps import DatabaseDep
from syncserver.api.routes.overview import overview_view
from syncserver.hq.overview import CACHE_MAX_AGE
from syncserver.hq.tiers import month_label
from syncserver.web.session import ViewerPage
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: ViewerPage, database: DatabaseDep) -> HTMLResponse:
    view = overview_view(database)
    # The charts read exactly what GET /api/v1/overview answers as "days" and
    # "expiry_forecast".
    dumped = view.model_dump(mode="json")
    return render(
        request,
        "overview.html",
        session,
        view=view,
        chart=dumped["days"],
        expiry_chart=dumped["expiry_forecast"],
        month_label=month_label,
        refresh_seconds=int(CACHE_MAX_AGE.total_seconds()),
    )
