"""The ESC/POS decoder: every command it knows, python-escpos's own output, and garbage."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from hardware.printing.decode import EscPosParser, Kind, decode_escpos, decode_receipts

ESC_AT = b"\x1b@"


def test_plain_text_lines_and_feeds() -> None:
    assert decode_escpos(ESC_AT + b"one\ntwo\n\x1bd\x02three") == "one\ntwo\n\n\nthree\n"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x1bt\x00Gr\x81\xe1e", "Grüße"),  # CP437
        (b"\x1bt\x10\x805 caf\xe9", "€5 café"),  # CP1252 at slot 16
        (b"\x1bt\x13\xd5", "€"),  # CP858 at slot 19
        (b"\x1bt\x00\x89\x1bt\x10\x80", "ë€"),  # switching mid-line
    ],
)
def test_code_pages_decode_as_the_profile_numbers_them(data: bytes, text: str) -> None:
    assert decode_escpos(data, profile="TM-T88V") == text + "\n"


def test_the_same_slot_means_different_tables_on_different_profiles() -> None:
    # Slot 25 is CP1257 on the POS-5890 (where python-escpos finds "€" first) and unknown
    # on a TM-T88V, whose decode says so with "?" rather than guessing.
    assert decode_escpos(b"\x1bt\x19\x80", profile="POS-5890") == "€\n"
    assert decode_escpos(b"\x1bt\x19\x80", profile="TM-T88V") == "?\n"


def test_init_resets_the_code_page() -> None:
    assert decode_escpos(b"\x1bt\x10\x80\n\x1b@\x80") == "€\nÇ\n"


def test_alignment_and_double_width_with_known_columns() -> None:
    data = b"\x1ba\x01abc\n\x1ba\x02abc\n\x1b!\x30\x1ba\x01ab\n\x1b!\x00\x1ba\x00abc\n"
    assert decode_escpos(data, columns=10).splitlines() == ["   abc", "       abc", "   ab", "abc"]
    assert decode_escpos(data).splitlines() == ["abc", "abc", "ab", "abc"]


def test_barcodes_function_a_and_b() -> None:
    data = b"\x1dk\x02400638133393\x00\x1dkI\x0d{BRT01-123-76\x1dkI\x05{C\x0c\x22\x38"
    assert decode_escpos(data).splitlines() == [
        "[BARCODE EAN13 400638133393]",
        "[BARCODE CODE128 RT01-123-76]",
        "[BARCODE CODE128 123456]",
    ]


def test_python_escpos_native_qr_code() -> None:
    printer = Dummy(profile="TM-T88V")
    printer.qr("https://example.com/m/42", native=True)
    assert decode_escpos(printer.output) == "[QR https://example.com/m/42]\n"


def test_images_in_every_format_python_escpos_sends() -> None:
    image = Image.new("1", (64, 40), 0)
    for impl, expected in [
        ("bitImageRaster", "[IMAGE 64x40]"),
        ("graphics", "[IMAGE 64x40]"),
        ("bitImageColumn", "[IMAGE 64x48]"),  # column stripes are 24 dots tall
    ]:
        printer = Dummy(profile="TM-T88V")
        printer.text("above\n")
        printer.image(image, impl=impl)
        printer.text("below\n")
        assert decode_escpos(printer.output).splitlines() == ["above", expected, "below"], impl


def test_drawer_kicks_cuts_and_status_queries() -> None:
    data = b"\x1bp\x00\x19\x19one\n\x10\x04\x01\x1dVA\x03\x10\x14\x01\x00\x05two\n\x1dV\x01"
    assert decode_receipts(data) == ["[DRAWER]\none\n[CUT]\n", "[DRAWER]\ntwo\n[CUT]\n"]


def test_styles_are_dropped() -> None:
    data = b"\x1bE\x01bold\x1bE\x00 \x1b-\x01under\x1b-\x00 \x1d!\x11big\x1d!\x00\n"
    assert decode_escpos(data) == "bold under big\n"


def test_every_setting_python_escpos_sends_is_understood_not_printed() -> None:
    printer = Dummy(profile="TM-T88V")
    printer.line_spacing(30, divisor=360)
    printer.line_spacing(20, divisor=60)
    printer.text("x\n")
    printer.panel_buttons(False)
    printer.buzzer()
    printer.target("ROLL")
    printer.set(density=3, invert=True, smooth=True, flip=False, font="b", underline=2)
    printer.text("y\n")
    printer.control("HT")
    printer.text("z\n")
    assert decode_escpos(printer.output) == "x\ny\nz\n"


def test_a_command_cut_off_by_the_end_of_the_data() -> None:
    assert decode_escpos(b"text\n\x1dv0\x00\x10\x00\x10\x00abc") == "text\n[TRUNCATED 11 bytes]\n"


def test_absurd_lengths_are_skipped_not_waited_for() -> None:
    # A raster header claiming 4 GB of image: treated as garbage, the text after it survives.
    assert decode_escpos(b"\x1dv0\x00\xff\xff\xff\xffafter\n") == "after\n"


@given(st.binary(max_size=400))
def test_any_bytes_decode_without_raising(data: bytes) -> None:
    assert isinstance(decode_escpos(data), str)


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=20))
def test_parsing_in_chunks_gives_the_same_tokens(data: bytes, cuts: list[int]) -> None:
    whole = EscPosParser()
    expected = whole.feed(data) + whole.finish()
    chunked = EscPosParser()
    tokens = []
    position = 0
    for size in cuts:
        tokens += chunked.feed(data[position : position + size])
        position += size
    tokens += chunked.feed(data[position:]) + chunked.finish()
    # Text runs may split at chunk boundaries; everything else must match exactly.
    assert b"".join(t.raw for t in tokens) == data
    assert [t for t in tokens if t.kind is not Kind.TEXT] == [
        t for t in expected if t.kind is not Kind.TEXT
    ]
