"""The member page's Tier box, tier history and points lots, and the overview's expiry forecast,
in a real browser (Chart.js drawing the forecast). Screenshots in artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from syncserver.settings import utc_now
from syncserver.storage.database import Database
from tests.browser.conftest import Screenshots
from tests.browser.test_hq_journey import sign_in
from tests.server.hq.helpers import Hq, prepare_hq, serve
from tests.server.hq.tier_scene import REVIEW_REASON, UPGRADE_REASON, seed_showcase


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[tuple[Hq, str]]:
    database = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    try:
        prepared = prepare_hq(database)
        seed_showcase(database, utc_now().date())
        with serve(database, cookie_secure=True) as url:
            yield prepared, url
    finally:
        database.dispose()


def test_tier_box_history_lots_and_the_expiry_forecast(
    hq: tuple[Hq, str], page: Page, shots: Screenshots
) -> None:
    prepared, url = hq
    sign_in(page, url, prepared.viewer.username, prepared.viewer.password)
    expect(page).to_have_url(f"{url}/")
    forecast = page.locator("#expiry-forecast")
    expect(forecast).to_contain_text("Points expiring in the next 12 months")
    expect(forecast).to_contain_text("Points expire 12 months after they are earned.")
    # Chart.js drew the forecast: the canvas has a size and pixels.
    canvas = page.locator("#expiry-chart")
    expect(canvas).to_be_visible()
    drawn = canvas.evaluate(
        "c => c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data.some(v => v !== 0)"
    )
    assert drawn
    forecast.locator("summary").click()
    expect(page.locator("#expiry-table tbody tr")).to_have_count(12)
    forecast.scroll_into_view_if_needed()
    shots(page, "overview-expiry-forecast")

    page.goto(f"{url}/members/M0000000002")
    tier = page.locator("#tier")
    expect(tier).to_contain_text("Gold")
    expect(tier).to_contain_text("on grace until 2027-04-01")
    expect(tier).to_contain_text("2,512 pts in the last 12 months")
    expect(tier).to_contain_text("Free delivery")
    expect(tier).to_contain_text(REVIEW_REASON)
    expect(tier).to_contain_text(UPGRADE_REASON)
    lots = page.locator("#lots")
    expect(lots).to_contain_text("Points lots")
    expect(lots.locator("tbody tr")).to_have_count(3)
    shots(page, "member-gold-on-grace")

    page.goto(f"{url}/members/M0000000001")
    expect(page.locator("#tier-progress")).to_contain_text("488 pts to Silver")
    shots(page, "member-on-the-way-to-silver")


def test_the_editor_and_summary_show_tier_qualification_expiry_and_perks(
    hq: tuple[Hq, str], page: Page, shots: Screenshots
) -> None:
    prepared, url = hq
    sign_in(page, url, prepared.admin.username, prepared.admin.password)
    page.goto(f"{url}/program")
    expect(page.locator("#tier-rules")).to_contain_text(
        "Tiers: by points earned in the last 12 months"
    )
    expect(page.locator("#expiry-rule")).to_contain_text(
        "Points expire 12 months after they are earned."
    )
    shots(page, "program-summary")
    page.goto(f"{url}/program/edit")
    expect(page.locator("#f-tier_qualification-grace_months")).to_have_value("3")
    expect(page.locator("#f-expiry-mode")).to_have_value("months_after_earn")
    page.locator("#f-section-tier-qualification").scroll_into_view_if_needed()
    shots(page, "program-editor")
