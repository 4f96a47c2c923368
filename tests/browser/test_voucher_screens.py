"""Vouchers and gift cards at HQ in a real browser: a manager finds a voucher by a code typed
in lower case without dashes, issues vouchers and downloads the codes, and blocks a lost gift
card then moves its balance to a new card. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.journal import VoucherUse
from shared.protocol import PushRequest
from syncserver.hq.setup import CLI
from syncserver.hq.vouchers import issue_vouchers
from syncserver.settings import utc_now
from syncserver.storage.database import Database
from syncserver.sync.push import push
from tests.browser.conftest import Screenshots
from tests.browser.test_hq_journey import sign_in
from tests.server.hq.helpers import Hq, serve
from tests.server.hq.test_giftcard_pages import giftcard_scene
from tests.server.journal import JournalWriter, card, member_ref


@dataclass
class Showcase:
    hq: Hq
    url: str
    used_code: str
    card: str
    spare: str


@pytest.fixture
def showcase(tmp_path: Path) -> Iterator[Showcase]:
    database = Database(f"sqlite:///{tmp_path / 'hq.sqlite3'}")
    try:
        cards = giftcard_scene(database)
        vouchers = vouchers_on(database, cards.hq)
        with serve(database, cookie_secure=True) as url:
            yield Showcase(cards.hq, url, vouchers, cards.card, cards.spare)
    finally:
        database.dispose()


def vouchers_on(database: Database, hq: Hq) -> str:
    """Issue vouchers and redeem one at a new till; the redeemed code."""
    _, used = issue_vouchers(database, count=2, value_minor=500, actor=CLI)
    terminal_id, _ = hq.server.terminal(name="C")
    till = JournalWriter(terminal_id)
    till.sale(
        member_ref(card(2), "M0000000002"),
        vouchers=(VoucherUse(code=used, discount_minor=500),),
    )
    push(
        database, terminal_id, PushRequest(terminal_id=terminal_id, entries=till.since(0)), utc_now
    )
    return used


def test_find_a_voucher_by_code_and_issue_some(
    showcase: Showcase, page: Page, shots: Screenshots
) -> None:
    hq, url = showcase.hq, showcase.url
    sign_in(page, url, hq.manager.username, hq.manager.password)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Vouchers").click()
    expect(page.locator("h1")).to_have_text("Vouchers")
    shots(page, "vouchers-list")
    sloppy = showcase.used_code.replace("-", "").lower()
    page.get_by_label("Code").fill(sloppy)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{url}/vouchers/{showcase.used_code}")
    expect(page.locator("#voucher-code")).to_have_text(showcase.used_code)
    expect(page.locator("#voucher-status")).to_contain_text("redeemed")
    expect(page.locator("#voucher-redeemed")).to_contain_text("took off €5.00")
    expect(page.locator("#postings-table tbody tr")).to_have_count(2)
    shots(page, "voucher-redeemed")

    page.goto(f"{url}/vouchers/issue")
    page.get_by_label("Amount", exact=True).fill("5.00")
    page.get_by_label("How many codes").fill("4")
    page.get_by_label("Minimum spend").fill("20.00")
    page.get_by_role("button", name="Issue vouchers").click()
    expect(page.locator("#issued-codes tbody tr")).to_have_count(4)
    shots(page, "vouchers-issued")
    with page.expect_download() as download_info:
        page.locator("#download").click()
    download = download_info.value
    lines = Path(download.path()).read_text().splitlines()
    shown = page.locator("#issued-codes tbody code").all_inner_texts()
    assert lines == shown
    assert len(lines) == 4


def test_block_a_lost_gift_card_and_move_its_balance(
    showcase: Showcase, page: Page, shots: Screenshots
) -> None:
    hq, url = showcase.hq, showcase.url
    sign_in(page, url, hq.manager.username, hq.manager.password)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Gift cards").click()
    page.get_by_label("Card number or its last digits").fill(showcase.card[-4:])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=showcase.card).click()
    expect(page.locator("#card-balance")).to_have_text("€15.00")
    shots(page, "giftcard-active")

    block = page.locator("#block")
    block.get_by_label("Reason").fill("reported lost at the counter")
    block.get_by_role("button", name="Block card").click()
    expect(page.locator(".flash")).to_contain_text(f"Blocked gift card {showcase.card}")
    expect(page.locator("#card-status")).to_contain_text("blocked")
    expect(page.locator("#blocked-note")).to_contain_text("reported lost at the counter")
    shots(page, "giftcard-blocked")

    move = page.locator("#move")
    move.get_by_label("New card number").fill(showcase.spare)
    move.get_by_label("Reason").fill("replacement for the lost card")
    move.get_by_role("button", name="Move balance").click()
    expect(page).to_have_url(f"{url}/giftcards/{showcase.spare}")
    expect(page.locator("#card-balance")).to_have_text("€15.00")
    expect(page.locator("#postings-table")).to_contain_text("giftcard move")
    shots(page, "giftcard-moved")
