"""Dashboard: the loyalty program — the published rules in plain language, their history with
what changed, and (admins) the editor: check and preview a sample basket, save drafts, publish.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from shared.money import CURRENCIES, Rounding
from syncserver.api.deps import DatabaseDep, SettingsDep
from syncserver.api.limits import MAX_FORM_FIELDS
from syncserver.api.pagination import CursorQuery, int_cursor, page_of
from syncserver.api.params import (
    MAX_INT32,
    MAX_ROW_ID,
    DraftIdPath,
    DraftIdQuery,
    VersionPath,
    VersionQuery,
    parse_digits,
)
from syncserver.errors import ApiError, ConflictError, ForbiddenError, NotFoundError
from syncserver.hq.program import (
    PreviewResponse,
    clean_note,
    describe,
    diff_documents,
    money_text,
    preview,
    publish_version,
    ratio_text,
    remove_draft,
    save_draft,
)
from syncserver.hq.program_schema import SECTIONS, WEEKDAYS
from syncserver.settings import utc_now
from syncserver.storage.rules import (
    DraftRecord,
    VersionRecord,
    draft_record,
    latest_version,
    list_drafts,
    list_versions,
    previous_version,
    version_record,
)
from syncserver.storage.users import Role
from syncserver.web.program_form import (
    BASKET_FIELDS,
    BASKET_LINES,
    BLANK_DOCUMENT,
    Checked,
    FormValues,
    basket_values,
    check_basket,
    check_document,
    document_values,
    field_id,
)
from syncserver.web.session import CheckedSession, ViewerPage, WebSession, redirect
from syncserver.web.templating import render

router = APIRouter(include_in_schema=False)

HISTORY_PAGE = 20
DRAFTS_PAGE = 20


def _require_admin(session: WebSession) -> None:
    if not session.user.can(Role.ADMIN):
        raise ForbiddenError(
            "Only admins can change the program rules; you are signed in as a "
            f"{session.user.role}. You can still read the rules and their history on the "
            "Program page, or ask an admin to make the change."
        )


async def _form_values(request: Request) -> FormValues:
    return FormValues.from_form(await request.form(max_fields=MAX_FORM_FIELDS))


FormDep = Annotated[FormValues, Depends(_form_values)]


# ---------------------------------------------------------------------------------------------
# Reading


@router.get("/program", response_class=HTMLResponse)
def program_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    cursor: CursorQuery = None,
    drafts: CursorQuery = None,
) -> Response:
    history_before = int_cursor(cursor)
    drafts_before = int_cursor(drafts)
    with database.read() as conn:
        latest = latest_version(conn)
        rows = list_versions(conn, before=history_before, limit=HISTORY_PAGE + 1)
        draft_rows = list_drafts(conn, before=drafts_before, limit=DRAFTS_PAGE + 1)
    history, next_cursor = page_of(rows, HISTORY_PAGE, lambda v: [v.version])
    draft_page, next_drafts = page_of(draft_rows, DRAFTS_PAGE, lambda d: [d.id])
    return render(
        request,
        "program/index.html",
        session,
        latest=latest,
        rules=latest.rules if latest else None,
        summary=describe(latest.rules, utc_now().date()) if latest else None,
        history=history,
        next_cursor=next_cursor,
        drafts=draft_page,
        next_drafts=next_drafts,
        can_edit=session.user.can(Role.ADMIN),
    )


@router.get("/program/versions/{version}", response_class=HTMLResponse)
def version_page(
    request: Request, version: VersionPath, session: ViewerPage, database: DatabaseDep
) -> Response:
    with database.read() as conn:
        record = version_record(conn, version)
        if record is None:
            raise NotFoundError(
                f"version {version} of the program rules was never published; "
                "the Program page lists every published version"
            )
        before = previous_version(conn, version)
        latest = latest_version(conn)
    document = json.loads(record.document or "{}")
    return render(
        request,
        "program/version.html",
        session,
        record=record,
        rules=record.rules,
        summary=describe(record.rules, utc_now().date()),
        previous=before,
        changes=diff_documents(json.loads(before.document or "{}") if before else None, document),
        latest_version=latest.version if latest else None,
        can_edit=session.user.can(Role.ADMIN),
    )


# ---------------------------------------------------------------------------------------------
# The editor


def _editor(
    request: Request,
    session: WebSession,
    values: FormValues,
    latest: VersionRecord | None,
    *,
    status: int = 200,
    checked: Checked | None = None,
    basket_checked: Checked | None = None,
    result: PreviewResponse | None = None,
    published_result: PreviewResponse | None = None,
    changes: list[Any] | None = None,
    draft: DraftRecord | None = None,
    message: str | None = None,
) -> Response:
    errors: dict[str, list[str]] = {}
    problems: list[tuple[str, str, str]] = []
    for part in (checked, basket_checked):
        if part is not None:
            for name, messages in part.errors.items():
                errors.setdefault(name, []).extend(messages)
            problems += part.problems
    base = values.get("base_version")
    return render(
        request,
        "program/edit.html",
        session,
        status,
        values=values,
        blank=FormValues(),
        errors=errors,
        problems=problems,
        rule_sections=SECTIONS,
        basket_fields=BASKET_FIELDS,
        basket_lines=BASKET_LINES,
        currencies=sorted(CURRENCIES),
        roundings=[r.value for r in Rounding],
        weekdays=WEEKDAYS,
        fid=field_id,
        latest=latest,
        version=values.get("version"),
        program_locked=latest is not None,
        stale_base=latest is not None and _stale(base, latest),
        draft=draft,
        result=result,
        published_result=published_result,
        changes=changes,
        checked_ok=checked is not None and not checked.errors,
        message=message,
        money=lambda minor: money_text(minor, values.get("currency") or "EUR"),
        ratio=ratio_text,
        tiers=[
            values.get(f"tiers.{row}.code")
            for row in values.rows("tiers")
            if values.get(f"tiers.{row}.code")
        ],
    )


def _stale(base: str, latest: VersionRecord) -> bool:
    """The editor's content was made from a version older than the latest."""
    return parse_digits(base, MAX_INT32) not in (None, latest.version)


def _latest(database: DatabaseDep) -> VersionRecord | None:
    with database.read() as conn:
        return latest_version(conn)


@router.get("/program/edit", response_class=HTMLResponse)
def edit_page(
    request: Request,
    session: ViewerPage,
    database: DatabaseDep,
    draft: DraftIdQuery = None,
    from_version: VersionQuery = None,
) -> Response:
    _require_admin(session)
    loaded: DraftRecord | None = None
    with database.read() as conn:
        latest = latest_version(conn)
        if draft is not None:
            loaded = draft_record(conn, draft)
            if loaded is None:
                raise NotFoundError(f"draft {draft} no longer exists: it was published or deleted")
            document: dict[str, Any] = json.loads(loaded.document)
            base = loaded.base_version
        elif from_version is not None:
            source = version_record(conn, from_version)
            if source is None:
                raise NotFoundError(f"version {from_version} was never published")
            document, base = json.loads(source.document or "{}"), from_version
        elif latest is not None:
            document, base = json.loads(latest.document or "{}"), latest.version
        else:
            document, base = dict(BLANK_DOCUMENT), None
    document["version"] = (latest.version if latest else 0) + 1
    values = document_values(document)
    values.update(basket_values(document, utc_now()))
    values.set("base_version", "" if base is None else str(base))
    values.set("draft_id", str(loaded.id) if loaded else "")
    values.set("note", (loaded.note or "") if loaded else "")
    return _editor(request, session, values, latest, draft=loaded)


def _draft_id(values: FormValues) -> int | None:
    return parse_digits(values.get("draft_id"), MAX_ROW_ID)


def _draft_of(values: FormValues, database: DatabaseDep) -> DraftRecord | None:
    draft_id = _draft_id(values)
    if draft_id is None:
        return None
    with database.read() as conn:
        return draft_record(conn, draft_id)


@router.post("/program/preview", response_class=HTMLResponse)
def preview_form(
    request: Request, values: FormDep, session: CheckedSession, database: DatabaseDep
) -> Response:
    """Check the rules in the form and compute the sample basket's points; the page comes
    back with problems next to their inputs (htmx swaps just the editor)."""
    latest = _latest(database)
    checked = check_document(values)
    basket, basket_checked = check_basket(values, values.get("currency"))
    result = published_result = None
    if checked.rules is not None and basket is not None:
        result = preview(checked.rules, basket)
        if latest is not None and checked.rules.currency == latest.rules.currency:
            published_result = preview(latest.rules, basket)
    changes = None
    if not checked.unreadable:
        before = json.loads(latest.document or "{}") if latest else None
        changes = diff_documents(before, checked.document)
    response = _editor(
        request,
        session,
        values,
        latest,
        checked=checked,
        basket_checked=basket_checked,
        result=result,
        published_result=published_result,
        changes=changes,
        draft=_draft_of(values, database),
    )
    if result is None:
        # htmx: show the list of problems rather than the (empty) preview.
        response.headers["HX-Reswap"] = "outerHTML show:#editor:top"
    return response


def _base_version(values: FormValues) -> int | None:
    """The version the editor started from; None for an editor opened on an empty server."""
    return parse_digits(values.get("base_version"), MAX_INT32)


@router.post("/program/drafts", response_class=HTMLResponse)
def save_draft_form(
    request: Request,
    values: FormDep,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    _require_admin(session)
    checked = check_document(values)
    latest = _latest(database)
    draft = _draft_of(values, database)
    if checked.unreadable:
        return _editor(
            request,
            session,
            values,
            latest,
            status=422,
            checked=checked,
            draft=draft,
            message="The draft was not saved: fix the marked fields first.",
        )
    try:
        saved = save_draft(
            database,
            checked.document,
            session.actor,
            note=values.get("note"),
            base_version=_base_version(values),
            draft_id=_draft_id(values),
        )
    except ApiError as error:
        return redirect("/program", settings, error.message, error=True)
    problems = len(checked.problems)
    flash = f"Draft #{saved} saved."
    if problems:
        flash += (
            f" It has {problems} problem{'s' if problems > 1 else ''} to fix before publishing."
        )
    return redirect(f"/program/edit?draft={saved}", settings, flash)


@router.post("/program/publish", response_class=HTMLResponse)
def publish_form(
    request: Request,
    values: FormDep,
    session: CheckedSession,
    database: DatabaseDep,
    settings: SettingsDep,
) -> Response:
    _require_admin(session)
    checked = check_document(values)
    latest = _latest(database)
    draft = _draft_of(values, database)
    try:
        clean_note(values.get("note"))
    except ApiError as error:
        checked.labels["note"] = "Publish › Note"
        checked.add("note", error.message.removeprefix("note: "))
    if checked.errors or checked.rules is None:
        return _editor(
            request,
            session,
            values,
            latest,
            status=422,
            checked=checked,
            draft=draft,
            message="Nothing was published: fix the marked fields and publish again.",
        )
    try:
        result = publish_version(
            database,
            checked.rules,
            values.get("note"),
            session.actor,
            # The editor was opened when the latest version was the one before the version it
            # shows ("Publish as version 5"): if another was published since, nothing is.
            base_version=checked.rules.version - 1,
            draft_id=draft.id if draft else None,
        )
    except ConflictError as error:
        return _editor(
            request,
            session,
            values,
            latest,
            status=409,
            checked=checked,
            draft=draft,
            message=(
                f"Nothing was published: {error.message}. Your changes are still in the form: "
                "save them as a draft, then open the editor again to build on the latest version."
            ),
        )
    return redirect(
        "/program",
        settings,
        f"Version {result.version} published; tills receive it on their next pull.",
    )


@router.post("/program/drafts/{draft_id}/delete")
def delete_draft_form(
    draft_id: DraftIdPath, session: CheckedSession, database: DatabaseDep, settings: SettingsDep
) -> Response:
    _require_admin(session)
    try:
        remove_draft(database, draft_id, session.actor)
    except ApiError as error:
        return redirect("/program", settings, error.message, error=True)
    return redirect("/program", settings, f"Draft #{draft_id} deleted.")
