"""ESC/POS rendering: golden bytes, code pages that round-trip, drawer, cut and barcodes.

The golden files freeze the exact bytes of the reference receipt for an 80 mm Epson
(TM-T88V, 42 columns) and a 58 mm clone (POS-5890, 32 columns), plus their decoded text for
people to read in review. ``LOYALTILL_UPDATE_GOLDEN=1`` rewrites them; read the .txt diff
before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hardware.printing.decode import EscPosParser, Kind, decode_escpos
from hardware.printing.layout import Rule, TextLine, layout_receipt
from hardware.printing.render import render_lines, render_receipt
from shared.receipt import REFERENCE_CARD_NUMBER, reference_receipt

GOLDEN = Path(__file__).parent / "golden"
PROFILES = {"TM-T88V": 42, "POS-5890": 32}
UPDATE = os.environ.get("LOYALTILL_UPDATE_GOLDEN") == "1"


def kinds(data: bytes) -> list[Kind]:
    parser = EscPosParser()
    return [token.kind for token in parser.feed(data) + parser.finish()]


@pytest.mark.parametrize("profile", PROFILES)
def test_reference_receipt_matches_the_golden_files(profile: str) -> None:
    data = render_receipt(reference_receipt(), profile)
    text = decode_escpos(data, profile=profile, columns=PROFILES[profile])
    golden_bin = GOLDEN / f"reference_{profile}.bin"
    golden_txt = GOLDEN / f"reference_{profile}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden_bin.write_bytes(data)
        golden_txt.write_text(text, encoding="utf-8")
    assert data == golden_bin.read_bytes(), "bytes changed: see the module docstring"
    assert text == golden_txt.read_text(encoding="utf-8")


@pytest.mark.parametrize("profile", PROFILES)
def test_decoded_receipt_shows_points_balance_masked_card_and_non_ascii(profile: str) -> None:
    data = render_receipt(reference_receipt(), profile)
    text = decode_escpos(data, profile=profile)
    for expected in (
        "Points earned",
        "+28 pts",
        "Base 1 pt per €1",
        "Silver tier ×1.25",
        "Double points: café",
        "-500 pts",
        "New balance",
        "1,262 pts",
        "•••• •••• •••• 6785",
        "Café Lindenhof",
        "Hauptstraße 12",
        "Cashier Zoë",
        "Mug “Grüße aus Berlin”",
        "€5 off your next visit",
        "Vielen Dank & liebe Grüße!",
        "TOTAL",
        "€18.89",
        "RT01-123-76",
        "V-K4PV-HZ7J-2DEP",
    ):
        assert expected in text, expected
    assert REFERENCE_CARD_NUMBER not in text
    assert REFERENCE_CARD_NUMBER.encode() not in data
    assert "?" not in text  # every character found a code page


@pytest.mark.parametrize("profile", PROFILES)
def test_every_laid_out_line_comes_back_exactly(profile: str) -> None:
    """The strongest code page check: decode(render(line)) == line, for every line."""
    receipt = reference_receipt()
    sent = [
        op.text
        for op in layout_receipt(receipt, PROFILES[profile])
        if isinstance(op, TextLine | Rule)
    ]
    decoded = decode_escpos(render_receipt(receipt, profile), profile=profile).splitlines()
    assert [line for line in sent if line.rstrip() not in decoded] == []


def test_code_pages_switch_mid_line_where_needed() -> None:
    data = render_receipt(reference_receipt(), "TM-T88V")
    # CP437 has ü and ß but not the curly quotes: the mug line switches to CP1252 (ESC t 16).
    assert b"Mug \x1bt\x10\x93Gr\xfc\xdfe aus Berlin\x94" in data


@pytest.mark.parametrize("profile", PROFILES)
def test_drawer_kick_only_for_cash(profile: str) -> None:
    cash = render_receipt(reference_receipt(cash=True), profile)
    card = render_receipt(reference_receipt(cash=False), profile)
    reprint = render_receipt(reference_receipt(cash=True, reprint=True), profile)
    assert kinds(cash).count(Kind.DRAWER) == 1
    assert b"\x1bp\x00" in cash  # ESC p 0: pin 2, as python-escpos cashdraw(2) sends it
    assert Kind.DRAWER not in kinds(card)
    assert Kind.DRAWER not in kinds(reprint)
    assert "REPRINT" in decode_escpos(reprint, profile=profile)


def test_cut_only_where_the_profile_has_a_cutter() -> None:
    with_cutter = render_receipt(reference_receipt(), "TM-T88V")
    without = render_receipt(reference_receipt(), "POS-5890")
    assert with_cutter.endswith(b"\x1dV\x01")  # partial cut
    assert Kind.CUT not in kinds(without)
    assert without.endswith(b"\x1bd\x04")  # fed to the tear bar instead


def test_barcodes_by_printer_or_as_images() -> None:
    epson = decode_escpos(render_receipt(reference_receipt(), "TM-T88V"), profile="TM-T88V")
    assert "[BARCODE CODE128 RT01-123-76]" in epson
    assert "[BARCODE CODE128 V-K4PV-HZ7J-2DEP]" in epson
    clone = decode_escpos(render_receipt(reference_receipt(), "POS-5890"), profile="POS-5890")
    # No hardware barcodes on the clone: bars as an image, text below. The voucher code is
    # too wide for 58 mm at two dots per bar, so it becomes a QR code (also an image here).
    assert "BARCODE" not in clone
    assert clone.count("[IMAGE ") == 2
    assert "\nRT01-123-76\n" in clone


def test_plain_documents_render_and_decode() -> None:
    data = render_lines("Z REPORT", ["Sales: 3", "  Cash: €12.00"], "TM-T88V")
    assert decode_escpos(data, profile="TM-T88V", columns=42).splitlines() == [
        " " * 13 + "Z REPORT",  # double width: 16 of 42 columns, centred
        "-" * 42,
        "Sales: 3",
        "  Cash: €12.00",
        "-" * 42,
        "[CUT]",
    ]
