from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.journal import (
    GENESIS_HASH,
    BreakKind,
    CanonicalJSONError,
    JournalEntry,
    JournalInvariantError,
    Sale,
    Tender,
    TenderMethod,
    canonical_json,
    entry_hash,
    format_utc,
    verify_chain,
)
from tests.shared.journal_samples import T0, entry_uuid, make_chain, records, sample_sale

# --- canonical JSON -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é€"]}) == (
        '{"a":[true,null,"é€"],"b":1}'.encode()
    )


@given(json_values, st.randoms(use_true_random=False))
def test_canonical_json_is_stable_under_key_order_and_round_trips(
    value: Any, rnd: random.Random
) -> None:
    def shuffled(node: Any) -> Any:
        if isinstance(node, dict):
            items = list(node.items())
            rnd.shuffle(items)
            return {key: shuffled(item) for key, item in items}
        if isinstance(node, list):
            return [shuffled(item) for item in node]
        return node

    encoded = canonical_json(value)
    assert canonical_json(shuffled(value)) == encoded
    assert json.loads(encoded) == value


@pytest.mark.parametrize("bad", [1.0, {"a": [0.5]}, {1: "x"}, float("nan"), b"bytes"])
def test_canonical_json_refuses_non_canonical_values(bad: Any) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json(bad)


def test_timestamps_are_utc_with_z() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_utc(datetime(2026, 11, 23, 10, 30, tzinfo=cet)) == "2026-11-23T09:30:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_utc(datetime(2026, 11, 23, 10, 30))


# --- entries --------------------------------------------------------------------------


def test_entries_round_trip_through_their_record() -> None:
    for entry in make_chain(8):
        record = entry.to_record()
        assert json.loads(entry.to_canonical_json()) == record
        assert JournalEntry.model_validate(record) == entry
        assert JournalEntry.model_validate_json(json.dumps(record)) == entry
        assert record["occurred_at"].endswith("Z")
        assert entry_hash(record) == record["hash"]


def test_first_entry_links_to_genesis_and_the_rest_chain() -> None:
    chain = make_chain(3)
    assert [e.seq for e in chain] == [1, 2, 3]
    assert chain[0].prev_hash == GENESIS_HASH
    assert chain[1].prev_hash == chain[0].hash
    assert chain[2].prev_hash == chain[1].hash


def test_a_tampered_record_is_refused() -> None:
    record = make_chain(4)[3].to_record()  # seq 4 is a sale
    record["payload"]["total_minor"] += 1
    with pytest.raises(ValidationError, match="hash does not match"):
        JournalEntry.model_validate(record)


def test_a_float_amount_is_refused() -> None:
    record = make_chain(4)[3].to_record()  # seq 4 is a sale
    record["payload"]["lines"][0]["unit_price_minor"] = 101.0
    record["hash"] = "0" * 64
    with pytest.raises(ValidationError, match="floats are not allowed"):
        JournalEntry.model_validate(record)


def test_sale_invariants() -> None:
    sale = sample_sale(1)
    data = sale.model_dump()
    data["total_minor"] += 1
    with pytest.raises(ValidationError, match="total"):
        Sale.model_validate(data)
    data = sale.model_dump()
    data["tenders"] = [Tender(method=TenderMethod.CARD, amount_minor=sale.total_minor + 50)]
    with pytest.raises(ValidationError, match="change can only be given out of cash"):
        Sale.model_validate(data)
    data = sale.model_dump()
    data["lines"][0]["net_minor"] += 1
    with pytest.raises(ValidationError, match="net"):
        Sale.model_validate(data)
    assert issubclass(JournalInvariantError, ValueError)


def test_create_refuses_another_tills_predecessor() -> None:
    first = make_chain(1, terminal_id="T1")[0]
    with pytest.raises(ValueError, match="same till"):
        JournalEntry.create(
            previous=first,
            terminal_id="T2",
            entry_id=entry_uuid(99),
            occurred_at=T0,
            utc_offset_min=0,
            cashier_id=None,
            payload=sample_sale(2),
        )


# --- chain verifier -------------------------------------------------------------------


def test_a_whole_chain_verifies() -> None:
    report = verify_chain(records(make_chain(12)))
    assert report.ok
    assert report.checked == 12
    assert report.last_seq == 12


def test_verification_can_resume_after_a_verified_prefix() -> None:
    chain = make_chain(6)
    report = verify_chain(records(chain[3:]), start_seq=4, start_hash=chain[2].hash)
    assert report.ok
    assert report.last_hash == chain[-1].hash


def _reseal(record: dict[str, Any]) -> dict[str, Any]:
    record["hash"] = entry_hash(record)
    return record


def _forged(seq: int, prev_hash: str, template: dict[str, Any]) -> dict[str, Any]:
    forged = copy.deepcopy(template)
    forged.update(seq=seq, prev_hash=prev_hash, entry_id=entry_uuid(777_777))
    return _reseal(forged)


chains = st.integers(min_value=3, max_value=25)


@given(chains, st.data())
def test_an_edit_is_named(length: int, data: st.DataObject) -> None:
    recs = records(make_chain(length))
    index = data.draw(st.integers(0, length - 1))
    recs[index]["cashier_id"] = "C99"
    report = verify_chain(recs)
    assert report.first_break is not None
    assert report.first_break.kind is BreakKind.EDITED
    assert report.first_break.seq == index + 1
    assert report.checked == index


@given(chains, st.data())
def test_an_edit_with_a_recomputed_hash_is_named(length: int, data: st.DataObject) -> None:
    recs = records(make_chain(length))
    index = data.draw(st.integers(0, length - 2))  # the newest entry is the server's to catch
    recs[index]["cashier_id"] = "C99"
    _reseal(recs[index])
    report = verify_chain(recs)
    assert report.first_break is not None
    assert report.first_break.kind is BreakKind.EDITED
    assert report.first_break.seq == index + 1


@given(chains, st.data())
def test_a_dropped_entry_is_named(length: int, data: st.DataObject) -> None:
    recs = records(make_chain(length))
    index = data.draw(st.integers(0, length - 2))
    del recs[index]
    report = verify_chain(recs)
    assert report.first_break is not None
    assert report.first_break.kind is BreakKind.MISSING
    assert f"seq {index + 1} is missing" in report.first_break.detail


@given(chains, st.data())
def test_an_inserted_entry_is_named(length: int, data: st.DataObject) -> None:
    recs = records(make_chain(length))
    index = data.draw(st.integers(1, length - 1))
    template = recs[data.draw(st.integers(0, length - 1))]
    how = data.draw(st.sampled_from(["linked", "unlinked", "far_seq", "copy", "other_till"]))
    if how == "linked":  # a forger who recomputed the link and the hash
        intruder = _forged(index + 1, recs[index - 1]["hash"], template)
    elif how == "unlinked":
        intruder = _forged(index + 1, "f" * 64, template)
    elif how == "far_seq":
        intruder = _forged(10_000, "e" * 64, template)
    elif how == "copy":
        intruder = copy.deepcopy(recs[data.draw(st.integers(0, index - 1))])
    else:
        intruder = _forged(index + 1, recs[index - 1]["hash"], template)
        intruder["terminal_id"] = "T9"
        _reseal(intruder)
    recs.insert(index, intruder)
    report = verify_chain(recs)
    assert report.first_break is not None, how
    assert report.first_break.kind is BreakKind.INSERTED, (how, str(report.first_break))
    if how != "copy":
        assert report.first_break.entry_id == intruder["entry_id"]


@given(chains, st.data())
def test_swapped_entries_are_named(length: int, data: st.DataObject) -> None:
    recs = records(make_chain(length))
    first = data.draw(st.integers(0, length - 2))
    second = data.draw(st.integers(first + 1, min(length - 1, first + 5)))
    recs[first], recs[second] = recs[second], recs[first]
    report = verify_chain(recs)
    assert report.first_break is not None
    assert report.first_break.kind is BreakKind.REORDERED
    assert report.first_break.seq == second + 1
    assert report.checked == first


def test_malformed_records_are_named() -> None:
    recs = records(make_chain(3))
    recs[1]["seq"] = "2"
    report = verify_chain(recs)
    assert report.first_break is not None
    assert report.first_break.kind is BreakKind.MALFORMED
    assert "seq must be a positive integer" in str(report.first_break)


def test_a_sale_carries_the_engines_breakdown_and_hashes_it() -> None:
    """The earn result is embedded verbatim: integers and strings only, so it hashes."""
    import importlib.resources

    from shared.journal import MemberRef, PointsRedeemed
    from shared.rules import BasketLine, EarnContext, ProgramRules, compute_earn, plan_redemption
    from shared.rules.redeem import RedemptionQuote

    text = importlib.resources.files("shared.rules.examples").joinpath("demo_program.json")
    rules = ProgramRules.from_json(text.read_bytes())
    base = sample_sale(2000)  # 2 x 21.00, enough to redeem
    lines = [
        BasketLine(
            line_no=line.line_no,
            sku=line.sku,
            category=line.category,
            quantity=line.quantity,
            net_minor=line.net_minor,
        )
        for line in base.lines
    ]
    quote = plan_redemption(
        rules, balance=10_000, basket_total_minor=base.subtotal_minor, requested_points=None
    )
    assert isinstance(quote, RedemptionQuote)
    earned = compute_earn(
        rules,
        lines,
        EarnContext(store_id="S001", local_time=datetime(2026, 11, 23, 10, 31)),
        order_discount_minor=quote.discount_minor,
    )
    total = base.subtotal_minor - quote.discount_minor
    sale = base.model_copy(
        update={
            "member": MemberRef(card_number=base.member.card_number if base.member else ""),
            "earned": earned,
            "redeemed": PointsRedeemed(
                points=quote.points,
                discount_minor=quote.discount_minor,
                rules_version=rules.version,
            ),
            "total_minor": total,
            "tenders": (Tender(method=TenderMethod.CARD, amount_minor=total),) if total else (),
            "change_minor": 0,
        }
    )
    sale = Sale.model_validate(sale.model_dump())  # re-run the invariant checks
    entry = JournalEntry.create(
        previous=None,
        terminal_id="T1",
        entry_id=entry_uuid(1),
        occurred_at=T0,
        utc_offset_min=60,
        cashier_id="C07",
        payload=sale,
    )
    record = entry.to_record()
    assert JournalEntry.model_validate(record) == entry
    assert record["payload"]["earned"]["total_points"] == earned.total_points
    assert record["payload"]["redeemed"]["points"] == quote.points
    assert verify_chain([record]).ok
