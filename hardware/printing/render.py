"""Print operations onto a python-escpos printer object, and a receipt into ESC/POS bytes.

:func:`render_receipt` renders into python-escpos's ``Dummy`` printer: pure computation, no
device. The bytes it returns are exactly what :class:`~hardware.printing.ReceiptPrinter` sends
and what the golden tests freeze, and the till can keep them in its print queue to reprint the
very same receipt.

Text goes through ``Escpos.text``, whose MagicEncode picks, character by character, a code page
the profile says the printer has and emits ``ESC t n`` when it must switch: "€" and "ü" may
come from different tables, and characters no table has print as "?".

What the profile decides:

- barcodes: CODE128 by the printer (``GS k``, function B) when it has hardware barcodes, else
  the same bars as an image with the text printed below; a code too wide for the paper at two
  dots per module (a long voucher code on 58 mm) prints as a QR code instead;
- the cut: a partial cut when the printer has a cutter, else a feed to the tear bar.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any, Final

from hardware.printing.layout import (
    Align,
    Barcode,
    Cut,
    Feed,
    KickDrawer,
    PrintOp,
    Rule,
    TextLine,
    layout_lines,
    layout_receipt,
)
from hardware.printing.url import profile_columns, resolve_profile
from shared.receipt import Receipt

__all__ = ["render_lines", "render_ops", "render_receipt"]

_BARCODE_HEIGHT: Final = 64
"""Dots: 8 mm at 203 dpi, tall enough for a hand scanner at an angle."""
_MAX_MODULE: Final = 3
_MIN_MODULE: Final = 2
"""Dots per narrow bar; one dot (0.125 mm) is below what most scanners read reliably."""
_QUIET_MODULES: Final = 20
"""Ten modules of white on each side, which scanners need to find the code."""
_QR_MODULE: Final = 4
_DOTS_PER_COLUMN: Final = 12
"""Font A is 12 dots wide: the printable width when the profile does not say."""
_TEAR_OFF_FEED: Final = 4
"""Lines between the print head and the tear bar on printers without a cutter."""
_CASH_DRAWER_PIN: Final = 2

_Style = tuple[Align, bool, bool]
_PLAIN: Final[_Style] = (Align.LEFT, False, False)


def render_receipt(
    receipt: Receipt, profile: str | None = None, columns: int | None = None
) -> bytes:
    """The ESC/POS bytes for ``receipt`` on a printer of ``profile`` (python-escpos name)."""
    profile = resolve_profile(profile)
    columns = columns or profile_columns(profile)
    return _render(layout_receipt(receipt, columns), profile, columns)


def render_lines(
    title: str, lines: Sequence[str], profile: str | None = None, columns: int | None = None
) -> bytes:
    """The ESC/POS bytes for a plain document such as a Z report."""
    profile = resolve_profile(profile)
    columns = columns or profile_columns(profile)
    return _render(layout_lines(title, lines, columns), profile, columns)


def _render(ops: Sequence[PrintOp], profile: str, columns: int) -> bytes:
    from escpos.printer import Dummy  # lazy: see hardware.printing.url

    printer = Dummy(profile=profile)
    render_ops(ops, printer, columns)
    return bytes(printer.output)


def render_ops(ops: Sequence[PrintOp], printer: Any, columns: int) -> None:
    """Drive ``printer`` (any python-escpos ``Escpos``) through ``ops``."""
    printer.hw("INIT")
    # ESC @ put the printer back on code page 0; make MagicEncode select a page again
    # instead of trusting what it last sent (matters when a printer object is reused).
    printer.magic.encoding = None
    style: _Style | None = _PLAIN
    for op in ops:
        if isinstance(op, TextLine | Rule):
            wanted = (op.align, op.bold, op.double) if isinstance(op, TextLine) else _PLAIN
            if wanted != style:
                _set_style(printer, wanted, style)
                style = wanted
            printer.text(op.text + "\n")
        elif isinstance(op, Barcode):
            _barcode(printer, op, columns)
            style = None  # the barcode commands changed the alignment
        elif isinstance(op, Feed):
            printer.print_and_feed(op.lines)
        elif isinstance(op, KickDrawer):
            printer.cashdraw(_CASH_DRAWER_PIN)
        elif isinstance(op, Cut):
            _cut(printer)


def _set_style(printer: Any, wanted: _Style, current: _Style | None) -> None:
    """Send only what changes (``current`` None: the printer's state is unknown, send all)."""
    align, bold, double = wanted
    changes: dict[str, Any] = {}
    if current is None or current[0] != align:
        changes["align"] = align.value
    if current is None or current[2] != double:
        changes.update(double_width=double, double_height=double, normal_textsize=not double)
    # The size command (ESC !) also clears emphasis, so bold is re-sent with every size change.
    if current is None or current[1] != bold or "double_width" in changes:
        changes["bold"] = bold
    printer.set(**changes)


def _cut(printer: Any) -> None:
    profile = printer.profile
    if profile.supports("paperPartCut") or profile.supports("paperFullCut"):
        # A partial cut leaves a hinge, so the receipt does not drop on the floor.
        printer.cut(mode="PART")
    else:
        printer.print_and_feed(_TEAR_OFF_FEED)


def _printable_dots(printer: Any, columns: int) -> tuple[int, bool]:
    """Printable width in dots, and whether the profile actually knows it."""
    pixels = printer.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    if isinstance(pixels, int):
        return pixels, True
    return columns * _DOTS_PER_COLUMN, False


def _code128_modules(data: str) -> int:
    """Width of ``data`` in code set B: start, 11 per character, check, stop, quiet zones."""
    return 11 * len(data) + 35 + _QUIET_MODULES


def _barcode(printer: Any, op: Barcode, columns: int) -> None:
    dots, width_known = _printable_dots(printer, columns)
    module = min(_MAX_MODULE, dots // _code128_modules(op.data))
    printable_ascii = all(" " <= ch <= "~" for ch in op.data)
    printer.set(align="center")
    if module < _MIN_MODULE or not printable_ascii:
        _qr(printer, op.data, width_known)
    elif printer.profile.supports("barcodeB"):
        # python-escpos announces its renderer choice with print(); keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            printer.barcode(
                "{B" + op.data.replace("{", "{{"),
                "CODE128",
                height=_BARCODE_HEIGHT,
                width=module,
                pos="BELOW",
                align_ct=True,
                function_type="B",
            )
    else:
        printer.image(_code128_image(op.data, module), center=width_known)
        printer.text(op.data + "\n")


def _code128_image(data: str, module: int) -> Any:
    """The bars alone, as a 1-bit image; drawn here (not by python-escpos's software
    renderer) because that one also rasterises the text with a TrueType font, and the bytes
    would then change with every Pillow release."""
    import barcode  # type: ignore[import-untyped]  # python-escpos's own dependency
    from PIL import Image, ImageDraw

    bars = "".join(barcode.get_barcode_class("code128")(data).build())
    quiet = _QUIET_MODULES // 2
    image = Image.new("1", ((len(bars) + 2 * quiet) * module, _BARCODE_HEIGHT), 1)
    draw = ImageDraw.Draw(image)
    for index, bar in enumerate(bars):
        if bar == "1":
            left = (quiet + index) * module
            draw.rectangle((left, 0, left + module - 1, _BARCODE_HEIGHT - 1), fill=0)
    return image


def _qr(printer: Any, data: str, width_known: bool) -> None:
    native = bool(printer.profile.supports("qrCode"))
    with contextlib.redirect_stdout(io.StringIO()):
        printer.qr(data, size=_QR_MODULE, native=native, center=width_known and not native)
    printer.text(data + "\n")
