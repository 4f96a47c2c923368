"""The program editor's rewards list in a real browser: a reward row added with the button
(static/program.js cloning the row template), filled in, checked, published, and the rewards
summary on /program. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from syncserver.storage.database import Database
from syncserver.storage.rules import latest_version
from tests.browser.conftest import Screenshots
from tests.browser.test_hq_journey import sign_in
from tests.server.hq.helpers import Hq, prepare_hq, serve


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[tuple[Hq, str, Database]]:
    database = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    try:
        prepared = prepare_hq(database, with_members=False)
        with serve(database, cookie_secure=True) as url:
            yield prepared, url, database
    finally:
        database.dispose()


def test_a_reward_added_in_the_editor_is_published_and_summarised(
    hq: tuple[Hq, str, Database], page: Page, shots: Screenshots
) -> None:
    prepared, url, database = hq
    sign_in(page, url, prepared.admin.username, prepared.admin.password)
    page.goto(f"{url}/program/edit")
    rewards = page.locator('[data-list="rewards"]')
    rewards.get_by_role("button", name=re.compile("Add reward")).click()
    row = rewards.locator("[data-row]").last
    row.get_by_label("Reward id").fill("bakery-10")
    row.get_by_label("Name").fill("10% off bakery")
    row.get_by_label("Price (points)").fill("300")
    row.get_by_label("Kind").select_option("voucher_percent")
    row.get_by_label("Percent off").fill("12.345")
    row.get_by_label("Categories").fill("bakery")
    row.get_by_label("Delivery").select_option("apply_now")
    page.get_by_role("button", name=re.compile("Check")).click()
    problems = page.locator("#problems")
    expect(problems).to_contain_text("1 problem to fix")
    expect(problems).to_contain_text("not a percentage such as 10 or 12.5")
    row = page.locator('[data-list="rewards"] [data-row]').last
    row.scroll_into_view_if_needed()
    shots(page, "reward-row-with-a-problem")

    row.get_by_label("Percent off").fill("12.5")
    page.get_by_role("button", name=re.compile("Check")).click()
    expect(page.get_by_role("status").first).to_contain_text("The rules are valid")
    page.get_by_label("Note").fill("A first reward: 12.5% off bakery")
    page.get_by_role("button", name=re.compile("Publish")).click()
    expect(page.get_by_role("status").first).to_contain_text("published")
    summary = page.locator("#rewards")
    expect(summary).to_contain_text("Rewards: 12.5% off bakery for 300 pts, taken off the sale.")
    summary.scroll_into_view_if_needed()
    shots(page, "program-rewards-summary")
    with database.read() as conn:
        latest = latest_version(conn)
    assert latest is not None
    (reward,) = latest.rules.rewards
    assert (reward.kind, reward.percent_bp, reward.categories) == (
        "voucher_percent",
        1250,
        ("bakery",),
    )
