"""The member panel says the member's tier by name with its perks, progress to the next tier,
the next points to expire and grace (issue 12), on the real seeded till with HQ's figures
applied by the till's pull code."""

from __future__ import annotations

from terminal.demo.seed import demo_card
from terminal.store.catalog import save_rules
from terminal.ui.widgets.member_panel import MemberPanel
from tests.terminal.test_tiers_at_till import MEMBER, PERKS, pull, tier_rules
from tests.ui.helpers import scan


async def test_the_panel_shows_tier_name_perks_progress_and_expiry(
    make_app, config, database, key_clock
) -> None:
    with database.write() as db:
        save_rules(db, tier_rules())
    pull(config, database, tier="silver", qualifying_points=9512)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, MEMBER))
        text = app.screen.query_one(MemberPanel).text
    assert "Silver · card" in text
    assert "silver" not in text  # the name, never the code
    assert all(perk in text for perk in PERKS)
    assert "488 pts to Gold by 31 Dec" in text
    assert "300 pts expire on 31 Dec" in text
    assert "On grace" not in text


async def test_the_panel_says_when_the_member_is_on_grace(
    make_app, config, database, key_clock
) -> None:
    with database.write() as db:
        save_rules(db, tier_rules())
    pull(config, database, tier="silver", qualifying_points=700, grace_until="2027-03-31")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await scan(pilot, key_clock, demo_card(config, MEMBER))
        text = app.screen.query_one(MemberPanel).text
    assert "On grace until 31 Mar 2027" in text
    assert "9,300 pts to Gold by 31 Dec" in text
