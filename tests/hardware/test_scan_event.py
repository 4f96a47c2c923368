"""shared/scan.py: one Scan event, classified by the one parser, with a JSON form per kind."""

from __future__ import annotations

import json
import random
import threading

import pytest

from hardware.scanners.stats import ScanStats
from shared.codes import (
    CodeConfig,
    card_number_from_serial,
    format_receipt_barcode,
    generate_gift_card_number,
    generate_voucher_code,
    make_member_qr,
)
from shared.scan import JsonValue, RejectedScan, ScanSource, SourceKind, classify

SOURCE = ScanSource(SourceKind.SERIAL, "socket://127.0.0.1:9")
QR_KEY = b"k" * 16
CONFIG = CodeConfig(qr_keys={"k1": QR_KEY})
CARD = card_number_from_serial(CONFIG, 42)
NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("data", "kind", "value"),
    [
        (CARD, "loyalty_card", CARD),
        (gift := generate_gift_card_number(CONFIG, random.Random(1)), "gift_card", gift),
        ("4006381333931", "product", "4006381333931"),
        (voucher := generate_voucher_code(random.Random(2)), "voucher", voucher),
        (format_receipt_barcode("T1", 42), "receipt", {"terminal": "T1", "seq": 42}),
        (make_member_qr(CARD, "k1", QR_KEY, NOW - 10), "member_qr", CARD),
    ],
)
def test_each_kind_has_a_json_value(data: str, kind: str, value: JsonValue) -> None:
    scan = classify(data, SOURCE, CONFIG, NOW)
    assert scan.recognised
    assert scan.to_json_dict() == {
        "source": {"kind": "serial", "name": "socket://127.0.0.1:9"},
        "raw": data,
        "kind": kind,
        "value": value,
    }
    json.dumps(scan.to_json_dict())  # plain JSON types only


def test_unrecognised_shows_the_reason_and_a_masked_preview() -> None:
    bank_card_swipe = ";4111111111111111=29121010000000000000?"
    scan = classify(bank_card_swipe, SOURCE, CONFIG, NOW)
    document = scan.to_json_dict()
    assert not scan.recognised
    assert document["kind"] == "unrecognised"
    assert "loyalty" in str(document["reason"])
    assert "4111111111111111" not in json.dumps(document)
    assert "1111" in str(document["raw"])  # the last four stay, to tell cards apart


def test_classify_passes_the_clock_to_member_codes() -> None:
    code = make_member_qr(CARD, "k1", QR_KEY, NOW)
    assert classify(code, SOURCE, CONFIG, NOW + 60).code.kind == "member_qr"
    assert classify(code, SOURCE, CONFIG, NOW + 3600).code.kind == "unrecognised"
    assert classify(code, SOURCE, CONFIG, None).code.kind == "unrecognised"


def test_rejected_scan_json() -> None:
    rejected = RejectedScan(SOURCE, "incomplete", "scan stopped — scan again", "12345")
    assert rejected.to_json_dict() == {
        "source": {"kind": "serial", "name": "socket://127.0.0.1:9"},
        "raw": "12345",
        "kind": "rejected",
        "reason": "scan stopped — scan again",
    }


def test_stats_count_from_many_threads_and_log_every_drop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = ScanStats()
    rejection = RejectedScan(SOURCE, "not_text", "scan is not readable text", "\\xff")

    def work() -> None:
        for _ in range(200):
            stats.record_accepted()
        for _ in range(3):
            stats.record_rejected(rejection)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    snapshot = stats.snapshot()
    assert (snapshot.accepted, snapshot.rejected) == (1600, 24)
    assert dict(snapshot.rejected_by_code) == {"not_text": 24}
    assert snapshot.last_rejected_reason == "scan is not readable text"
    drops = [record for record in caplog.records if "scan dropped" in record.getMessage()]
    assert len(drops) == 24
    assert "scan is not readable text" in drops[0].getMessage()
