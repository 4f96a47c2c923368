"""Applying a pulled page at the till, a few statements for the whole page: members found by
HQ's id or (enrolled here offline) by their local id keep their key, new members are keyed by
HQ's id, search keys and tier figures are written with the row, a card this till blocked in
an unsent entry stays blocked, and a tier claimed here is cleared only once HQ speaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.codes import card_number_from_serial
from shared.protocol import CardState, ExpiringPoints, MemberState, PullResponse, QualifyingState
from terminal.config import TillConfig
from terminal.store import TillDatabase
from terminal.store.members import claim_tier, member_standing
from terminal.sync.engine import SyncEngine
from terminal.till.service import Till


@pytest.fixture
def config(tmp_path: Path) -> TillConfig:
    """The shared till fixtures (tests/terminal/conftest.py), in a German store."""
    return TillConfig(
        data_dir=tmp_path / "till", timezone="Europe/Berlin", terminal_id="T1", country="DE"
    )


def _apply(config: TillConfig, database: TillDatabase, *members: MemberState) -> None:
    """A page with ``members`` that includes none of this till's entries (all unsent)."""
    page = PullResponse(cursor="99", more=False, applied_through_seq=0, members=list(members))
    with database.write() as db:
        SyncEngine(config, database, client=None)._apply_page(db, page)  # type: ignore[arg-type]


def _hq_members(database: TillDatabase, count: int) -> list[tuple[str, str, str]]:
    """(member_key, member_id, active card) of demo members HQ already sent."""
    with database.read() as db:
        rows = db.execute(
            "SELECT m.member_key, m.member_id, c.card_number FROM members m "
            "JOIN cards c ON c.member_key = m.member_key AND c.status = 'active' "
            "WHERE m.member_id IS NOT NULL ORDER BY m.member_key LIMIT ?",
            [count],
        ).fetchall()
    return [(str(key), str(member_id), str(card)) for key, member_id, card in rows]


def _names(till: Till, query: str) -> list[str]:
    return [member.name for member, _ in till.find_members(query)]


def test_a_page_of_known_new_and_offline_enrolled_members(
    till: Till, config: TillConfig, database: TillDatabase
) -> None:
    offline_card = card_number_from_serial(config.code_config(), 700_101)
    entry, _ = till.enrol(
        name="Zofia Kowalska",
        phone="0170 7654321",
        email=None,
        marketing_consent=False,
        card_number=offline_card,
    )
    local_id = entry.payload.local_member_id  # type: ignore[union-attr]
    (renamed_key, renamed_id, renamed_card), (blocked_key, blocked_id, lost_card) = _hq_members(
        database, 2
    )
    new_card = card_number_from_serial(config.code_config(), 700_102)
    till.replace_card(lost_card, new_card)  # not yet at HQ: HQ still calls the old card active
    fresh_card = card_number_from_serial(config.code_config(), 700_103)
    _apply(
        config,
        database,
        MemberState(  # HQ's record of the member enrolled here, renamed meanwhile
            member_id="M0000000900",
            local_member_id=local_id,
            name="Zofia Kowalska-Nowak",
            phone="+49 170 7654321",
            balance=40,
            cards=[CardState(card_number=offline_card, status="active")],
        ),
        MemberState(
            member_id=renamed_id,
            name="Bartłomiej Szczęsny",
            phone="+48 601 234 567",
            email="Bartek@Example.PL",
            balance=7,
            cards=[CardState(card_number=renamed_card, status="active")],
        ),
        MemberState(
            member_id=blocked_id,
            name="Hamid Lost",
            balance=0,
            cards=[CardState(card_number=lost_card, status="active")],
        ),
        MemberState(  # new here
            member_id="M0000000901",
            name="Jan Nowy",
            phone="0151 2223334",
            balance=5,
            cards=[CardState(card_number=fresh_card, status="active")],
            qualifying=QualifyingState(as_of="2026-11-23", window_start="2026-01-01", points=9),
            expiring=[ExpiringPoints(expires_on="2026-12-31", points=5)],
        ),
    )
    with database.read() as db:
        offline = db.execute(
            "SELECT member_key, member_id, server_balance FROM members WHERE local_member_id = ?",
            [local_id],
        ).fetchall()
        cards = dict(db.execute("SELECT card_number, member_key FROM cards").fetchall())
        lost = db.execute(
            "SELECT status, member_key FROM cards WHERE card_number = ?", [lost_card]
        ).fetchone()
        new = db.execute(
            "SELECT member_key, email, phone_digits FROM members WHERE member_id = 'M0000000901'"
        ).fetchone()
        renamed = db.execute(
            "SELECT member_key, email, phone_digits FROM members WHERE member_id = ?",
            [renamed_id],
        ).fetchone()
        jan = member_standing(db, "M0000000901")
    # The member enrolled offline keeps its local key: its card and unsent entries stay on it.
    assert offline == [(f"L:{local_id}", "M0000000900", 40)]
    assert cards[offline_card] == f"L:{local_id}"
    # A known member keeps its key and gets HQ's profile and new search keys.
    assert renamed == (renamed_key, "bartek@example.pl", "48601234567")
    # The card replaced here stays blocked until HQ hears of it; the member keeps its new card.
    assert lost == ("blocked", blocked_key)
    assert cards[new_card] == blocked_key
    # A new member is keyed by HQ's id, with its phone key (this till's country) and figures.
    assert new == ("M0000000901", None, "491512223334")
    assert cards[fresh_card] == "M0000000901"
    assert jan is not None
    assert jan.qualifying.points == 9
    assert [(str(day), points) for day, points in jan.expiring] == [("2026-12-31", 5)]
    assert _names(till, "kowalska-nowak") == ["Zofia Kowalska-Nowak"]
    assert _names(till, "zofia") == ["Zofia Kowalska-Nowak"]
    assert _names(till, "szczesny") == ["Bartłomiej Szczęsny"]
    assert _names(till, "nowy") == ["Jan Nowy"]
    assert _names(till, "0151 2223334") == ["Jan Nowy"]


def test_a_tier_claimed_here_is_cleared_only_when_hq_speaks(
    config: TillConfig, database: TillDatabase
) -> None:
    (applied_key, applied_id, _), (agreed_key, agreed_id, _), (pending_key, pending_id, _) = (
        _hq_members(database, 3)
    )
    with database.write() as db:
        claim_tier(db, applied_key, "gold", 0)  # HQ has applied the claiming sale (seq 0)
        claim_tier(db, agreed_key, "gold", 10**6)  # not applied, but HQ now says gold
        claim_tier(db, pending_key, "gold", 10**6)  # not applied, HQ still says silver
    _apply(
        config,
        database,
        MemberState(member_id=applied_id, name="A", tier="silver", balance=0),
        MemberState(member_id=agreed_id, name="B", tier="gold", balance=0),
        MemberState(member_id=pending_id, name="C", tier="silver", balance=0),
    )
    with database.read() as db:
        claims = {
            key: (standing.tier, standing.tier_claimed, standing.tier_claimed_seq)
            for key in (applied_key, agreed_key, pending_key)
            if (standing := member_standing(db, key)) is not None
        }
    assert claims == {
        applied_key: ("silver", None, None),
        agreed_key: ("gold", None, None),
        pending_key: ("silver", "gold", 10**6),
    }
