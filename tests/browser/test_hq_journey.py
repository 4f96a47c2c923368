"""An HQ manager's and admin's day in the dashboard, in a real browser: sign in, find a
member by card, adjust their points, see it in the ledger history, resolve an exception,
publish a program version. Screenshots of every page are kept (artifacts/screenshots/)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from syncserver.ledger.rebuild import rebuild_check
from syncserver.storage.database import Database
from syncserver.storage.schema import audit_log, exceptions, rules_versions
from tests.browser.conftest import Screenshots
from tests.server.helpers import push
from tests.server.hq.helpers import Hq, prepare_hq, serve
from tests.server.journal import JournalWriter, card, member_ref

ANNA = card(1)  # M0000000001, 1,000 points
BEN = card(2)  # M0000000002, 300 points


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[tuple[Hq, str]]:
    """A real server on an SQLite file, one till that has pushed sales, one of which
    redeemed more than Ben had (an offline overdraft exception)."""
    database = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    try:
        prepared = prepare_hq(database)
        terminal_id, token = prepared.server.terminal("S001", "Front till")
        till = JournalWriter(terminal_id)
        till.sale(member_ref(ANNA))
        till.sale(member_ref(BEN), redeem=500)
        with serve(database, cookie_secure=True) as url:
            with httpx.Client(base_url=url, timeout=60) as client:
                assert push(client, token, terminal_id, till.records).status_code == 200
            yield prepared, url
    finally:
        database.dispose()


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_adjust_resolve_and_publish(
    hq: tuple[Hq, str], page: Page, shots: Screenshots
) -> None:
    prepared, url = hq
    database = prepared.database
    anna_before = prepared.server.balance("M0000000001")
    assert anna_before is not None
    page.goto(f"{url}/signin")
    shots(page, "sign-in")

    # Sign in (admin: may adjust, resolve and publish) and land on the overview.
    sign_in(page, url, prepared.admin.username, prepared.admin.password)
    expect(page).to_have_url(f"{url}/")
    shots(page, "overview")

    # Find Anna by her card.
    page.get_by_role("link", name="Members").click()
    # A name search lists matches (as you type, and on Enter).
    page.get_by_role("searchbox").fill("member m")
    page.keyboard.press("Enter")
    expect(page.locator("main table")).to_contain_text("M0000000002")
    shots(page, "members-by-name")
    page.get_by_role("searchbox").fill(ANNA)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/members/M0000000001$"))
    expect(page.locator("main")).to_contain_text(f"{anna_before:,}")
    shots(page, "member")

    # A manual adjustment with its reason; it shows in the ledger history with who did it.
    page.get_by_label(re.compile("^Points")).fill("250")
    page.get_by_label(re.compile("^Reason \\(required")).fill("Goodwill: yoghurt leaked in the bag")
    page.get_by_role("button", name="Adjust balance").click()
    expect(page.get_by_role("status")).to_contain_text("250")
    history = page.locator("table", has_text="Goodwill: yoghurt leaked in the bag")
    expect(history).to_contain_text(prepared.admin.username)
    expect(history).to_contain_text("+250")
    shots(page, "member-adjusted")

    # The sale behind Anna's earned points: the till's journal entry and its postings.
    history.get_by_role("link", name=re.compile(r"T\d+ #1")).click()
    expect(page.locator("main")).to_contain_text("T0001-1")  # the receipt number
    shots(page, "journal-entry")
    page.go_back()

    # Resolve Ben's overdraft: write it off.
    page.get_by_role("link", name="Exceptions").click()
    shots(page, "exceptions")
    page.get_by_role("row", name=re.compile("overdraft", re.I)).get_by_role(
        "link", name=re.compile(r"^#\d+$")
    ).click()
    shots(page, "exception")
    page.get_by_label("Write off").check()
    page.get_by_label(re.compile("^Reason")).fill("Ben was promised the discount by the manager")
    page.get_by_role("button", name=re.compile("^Resolve exception")).click()
    expect(page.get_by_role("status")).to_contain_text(re.compile("resolved", re.I))
    shots(page, "exception-resolved")

    # Publish a new program version from the form.
    page.get_by_role("link", name="Program").click()
    shots(page, "program")
    page.get_by_role("link", name=re.compile("Edit")).click()
    shots(page, "program-edit")
    # Double points on dairy: a new category multiplier row, added in the browser.
    page.get_by_role("button", name=re.compile("Add category multiplier")).click()
    added = page.locator('input[name^="earn.category_multipliers."][name$=".category"]').last
    added.fill("dairy")
    row_name = added.get_attribute("name")
    assert row_name is not None
    page.locator(f'input[name="{row_name.removesuffix(".category") + ".multiplier"}"]').fill("2")
    page.get_by_role("button", name=re.compile("Check")).click()
    expect(page.locator("main")).to_contain_text(re.compile("preview", re.I))
    shots(page, "program-preview")
    page.get_by_label("Note").fill("Double points on dairy")
    page.get_by_role("button", name=re.compile("Publish")).click()
    expect(page.get_by_role("status")).to_contain_text("published")
    shots(page, "program-published")

    for section in ("Terminals", "Audit log", "Staff"):
        page.get_by_role("link", name=section).click()
        shots(page, section.lower().replace(" ", "-"))

    # What the browser did is what the ledger holds, and it still replays exactly.
    with database.read() as conn:
        resolved = conn.execute(
            select(exceptions.c.resolved_by, exceptions.c.resolution_kind).where(
                exceptions.c.kind == "offline_overdraft"
            )
        ).one()
        versions = conn.execute(
            select(
                rules_versions.c.version, rules_versions.c.published_by, rules_versions.c.document
            )
        ).all()
        actions = set(conn.execute(select(audit_log.c.action)).scalars())
    assert tuple(resolved) == (prepared.admin.username, "write_off")
    published = {int(row.version): row for row in versions}
    newest = max(published)
    assert published[newest].published_by == prepared.admin.username
    assert json.loads(published[newest].document)["earn"]["category_multipliers"]["dairy"] == "2"
    assert {"member.adjust", "exception.resolve"} <= actions
    assert prepared.server.balance("M0000000001") == anna_before + 250
    assert rebuild_check(database).ok
