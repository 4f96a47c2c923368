"""ESC/POS bytes back to readable text: what the paper would say.

Two layers, both used by the printer simulator and by ``till hw decode``:

- :class:`EscPosParser` splits a byte stream into :class:`Token` s. It knows the length of
  every command it names, including the ones carrying binary payloads (raster images, barcode
  data, 2D codes), so a stray ``0x10 0x04`` inside an image is never mistaken for a status
  query. It is incremental: bytes can arrive in any chunks, as they do over TCP.
- :class:`TextRenderer` turns tokens into lines. Text is decoded with the code page the
  stream selected (``ESC t n``), looked up in the printer profile's table from python-escpos,
  so "€", "ü" and "é" come back as they were sent. Styles are dropped; alignment is applied
  when the column count is known. Non-text content becomes a marker line: ``[BARCODE CODE128
  data]``, ``[QR data]``, ``[IMAGE WxH]``, ``[DRAWER]``, and a cut ends a receipt with
  ``[CUT]``. Status queries print nothing.

Nothing here raises on bad input: unknown commands are skipped, and a command cut off by the
end of the data becomes ``[TRUNCATED n bytes]``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from hardware.printing.layout import cells
from hardware.printing.url import DEFAULT_PROFILE, resolve_profile

__all__ = [
    "EscPosParser",
    "Kind",
    "TextRenderer",
    "Token",
    "decode_escpos",
    "decode_receipts",
]

LF: Final = 0x0A
DLE: Final = 0x10
ESC: Final = 0x1B
FS: Final = 0x1C
GS: Final = 0x1D
_MAX_PAYLOAD: Final = 1 << 20
"""A command claiming more payload than this is garbage, not a real image: skip its header."""
_MAX_NUL_SEARCH: Final = 255


class Kind(StrEnum):
    TEXT = "text"
    NEWLINE = "newline"
    FEED = "feed"
    INIT = "init"
    CODE_PAGE = "code_page"
    PRINT_MODE = "print_mode"
    CHAR_SIZE = "char_size"
    ALIGN = "align"
    CUT = "cut"
    BARCODE = "barcode"
    CODE_2D_DATA = "code_2d_data"
    CODE_2D_PRINT = "code_2d_print"
    DRAWER = "drawer"
    STATUS_QUERY = "status_query"
    RASTER_IMAGE = "raster_image"
    COLUMN_IMAGE = "column_image"
    GRAPHICS_DATA = "graphics_data"
    GRAPHICS_PRINT = "graphics_print"
    IGNORED = "ignored"
    """A known command with no effect on the text (bold, barcode height, line spacing...)."""
    UNKNOWN = "unknown"
    TRUNCATED = "truncated"


@dataclass(frozen=True, slots=True)
class Token:
    """One command or run of text; ``raw`` is exactly the bytes it came from."""

    kind: Kind
    raw: bytes
    value: int = 0
    data: bytes = b""
    name: str = ""
    width: int = 0
    height: int = 0


# Commands of fixed length: the byte after the prefix -> (number of argument bytes, kind).
_ESC_FIXED: Final[dict[int, tuple[int, Kind]]] = {
    **{ord(c): (0, Kind.IGNORED) for c in "2<LS"},
    **{ord(c): (1, Kind.IGNORED) for c in "EG-M3+AJeV{r=R U%KTu"},
    **{ord(c): (2, Kind.IGNORED) for c in "$\\Bcf?"},
    ord("W"): (8, Kind.IGNORED),
    ord("@"): (0, Kind.INIT),
    ord("t"): (1, Kind.CODE_PAGE),
    ord("!"): (1, Kind.PRINT_MODE),
    ord("a"): (1, Kind.ALIGN),
    ord("d"): (1, Kind.FEED),
    ord("p"): (3, Kind.DRAWER),
    ord("i"): (0, Kind.CUT),
    ord("m"): (0, Kind.CUT),
}
_GS_FIXED: Final[dict[int, tuple[int, Kind]]] = {
    **{ord(c): (0, Kind.IGNORED) for c in ":"},
    **{ord(c): (1, Kind.IGNORED) for c in "Bb|hwHfarITE"},
    **{ord(c): (2, Kind.IGNORED) for c in "LWP$\\"},
    ord("^"): (3, Kind.IGNORED),
    ord("!"): (1, Kind.CHAR_SIZE),
    ord("/"): (1, Kind.GRAPHICS_PRINT),
}
_FS_FIXED: Final[dict[int, int]] = {
    **{ord(c): 0 for c in "&."},
    **{ord(c): 1 for c in "!-CW"},
    **{ord(c): 2 for c in "S"},
}
_BARCODES: Final[dict[int, str]] = {
    **dict(enumerate(("UPC-A", "UPC-E", "EAN13", "EAN8", "CODE39", "ITF", "CODABAR"))),
    **dict(
        enumerate(
            (
                "UPC-A",
                "UPC-E",
                "EAN13",
                "EAN8",
                "CODE39",
                "ITF",
                "CODABAR",
                "CODE93",
                "CODE128",
                "GS1-128",
                "GS1 DATABAR OMNIDIRECTIONAL",
                "GS1 DATABAR TRUNCATED",
                "GS1 DATABAR LIMITED",
                "GS1 DATABAR EXPANDED",
            ),
            start=65,
        )
    ),
}
_CODES_2D: Final = {
    48: "PDF417",
    49: "QR",
    50: "MAXICODE",
    51: "DATABAR",
    53: "AZTEC",
    54: "DATAMATRIX",
}


def _token(
    kind: Kind,
    buf: bytes,
    start: int,
    end: int,
    *,
    value: int = 0,
    data: bytes = b"",
    name: str = "",
    width: int = 0,
    height: int = 0,
) -> Token:
    return Token(kind, bytes(buf[start:end]), value, data, name, width, height)


def next_token(buf: bytes, i: int) -> Token | None:
    """The token starting at ``buf[i]``, or ``None`` if more bytes are needed to finish it."""
    byte = buf[i]
    if byte == LF or byte == 0x0C:  # line feed; form feed ends the line as well
        return _token(Kind.NEWLINE, buf, i, i + 1)
    if byte == 0x09:
        return _token(Kind.TEXT, buf, i, i + 1, data=b" ")
    if byte == DLE:
        return _dle(buf, i)
    if byte == ESC:
        return _esc(buf, i)
    if byte == GS:
        return _gs(buf, i)
    if byte == FS:
        return _fs(buf, i)
    if byte < 0x20 or byte == 0x7F:
        return _token(Kind.IGNORED, buf, i, i + 1)
    end = i
    while end < len(buf) and buf[end] >= 0x20 and buf[end] != 0x7F:
        end += 1
    return _token(Kind.TEXT, buf, i, end, data=bytes(buf[i:end]))


def _fixed(buf: bytes, i: int, prefix: int, args: int, kind: Kind) -> Token | None:
    end = i + prefix + args
    if end > len(buf):
        return None
    value = buf[i + prefix] if args else 0
    return _token(kind, buf, i, end, value=value)


def _dle(buf: bytes, i: int) -> Token | None:
    if i + 1 >= len(buf):
        return None
    second = buf[i + 1]
    if second == 0x04:  # DLE EOT n: real-time status query
        return _fixed(buf, i, 2, 1, Kind.STATUS_QUERY)
    if second == 0x05:  # DLE ENQ n: real-time request
        return _fixed(buf, i, 2, 1, Kind.IGNORED)
    if second == 0x14:  # DLE DC4 fn ...: fn 1 pulses the drawer in real time
        if i + 2 >= len(buf):
            return None
        fn = buf[i + 2]
        if fn == 1:
            return _fixed(buf, i, 3, 2, Kind.DRAWER)
        return _fixed(buf, i, 3, 6 if fn == 8 else 2, Kind.IGNORED)
    return _token(Kind.IGNORED, buf, i, i + 1)


def _esc(buf: bytes, i: int) -> Token | None:
    if i + 1 >= len(buf):
        return None
    command = buf[i + 1]
    if command in _ESC_FIXED:
        args, kind = _ESC_FIXED[command]
        return _fixed(buf, i, 2, args, kind)
    if command == ord("*"):  # ESC * m nL nH d...: one stripe of a column-format image
        if i + 5 > len(buf):
            return None
        mode, width = buf[i + 2], buf[i + 3] + 256 * buf[i + 4]
        stripe = 8 if mode in (0, 1) else 24
        end = i + 5 + width * stripe // 8
        if end > len(buf):
            return None
        return _token(Kind.COLUMN_IMAGE, buf, i, end, width=width, height=stripe)
    if command == ord("D"):  # ESC D n1 ... NUL: tab stops
        nul = buf.find(b"\x00", i + 2, i + 2 + 33)
        if nul < 0:
            return None if len(buf) < i + 2 + 33 else _token(Kind.UNKNOWN, buf, i, i + 2)
        return _token(Kind.IGNORED, buf, i, nul + 1)
    return _token(Kind.UNKNOWN, buf, i, i + 2, value=command)


def _gs(buf: bytes, i: int) -> Token | None:
    if i + 1 >= len(buf):
        return None
    command = buf[i + 1]
    if command in _GS_FIXED:
        args, kind = _GS_FIXED[command]
        return _fixed(buf, i, 2, args, kind)
    if command == ord("V"):
        return _cut(buf, i)
    if command == ord("k"):
        return _barcode(buf, i)
    if command == ord("v"):
        return _raster(buf, i)
    if command == ord("("):
        return _extended(buf, i, length_bytes=2)
    if command == ord("8") and i + 2 < len(buf) and buf[i + 2] == ord("L"):
        return _extended(buf, i, length_bytes=4)
    if command == ord("*"):  # GS * x y d...: define a downloaded bit image, x by y bytes
        if i + 4 > len(buf):
            return None
        width, height = buf[i + 2] * 8, buf[i + 3] * 8
        end = i + 4 + width * height // 8
        if end > len(buf):
            return None
        return _token(Kind.GRAPHICS_DATA, buf, i, end, width=width, height=height)
    if command == ord("8") and i + 2 >= len(buf):
        return None
    return _token(Kind.UNKNOWN, buf, i, i + 2, value=command)


def _fs(buf: bytes, i: int) -> Token | None:
    if i + 1 >= len(buf):
        return None
    command = buf[i + 1]
    if command == ord("p"):  # FS p n m: print an image stored in the printer
        token = _fixed(buf, i, 2, 2, Kind.GRAPHICS_PRINT)
        return None if token is None else Token(Kind.GRAPHICS_PRINT, token.raw, name="stored")
    if command in _FS_FIXED:
        return _fixed(buf, i, 2, _FS_FIXED[command], Kind.IGNORED)
    return _token(Kind.UNKNOWN, buf, i, i + 2, value=command)


def _cut(buf: bytes, i: int) -> Token | None:
    if i + 2 >= len(buf):
        return None
    # GS V m (m = 0, 1, 48, 49) or GS V m n (feed then cut: m = 65, 66, 97, 98, 103, 104).
    args = 2 if buf[i + 2] in (65, 66, 97, 98, 103, 104) else 1
    return _fixed(buf, i, 2, args, Kind.CUT)


def _barcode(buf: bytes, i: int) -> Token | None:
    if i + 2 >= len(buf):
        return None
    symbology = buf[i + 2]
    name = _BARCODES.get(symbology, f"TYPE{symbology}")
    if symbology <= 6:  # function A: data ends with NUL
        nul = buf.find(b"\x00", i + 3, i + 3 + _MAX_NUL_SEARCH + 1)
        if nul < 0:
            if len(buf) <= i + 3 + _MAX_NUL_SEARCH:
                return None
            return _token(Kind.UNKNOWN, buf, i, i + 3)
        return _token(Kind.BARCODE, buf, i, nul + 1, data=bytes(buf[i + 3 : nul]), name=name)
    if i + 3 >= len(buf):  # function B: a length byte, then the data
        return None
    end = i + 4 + buf[i + 3]
    if end > len(buf):
        return None
    return _token(Kind.BARCODE, buf, i, end, data=bytes(buf[i + 4 : end]), name=name)


def _raster(buf: bytes, i: int) -> Token | None:
    # GS v 0 m xL xH yL yH d...: x bytes (8 dots each) by y rows.
    if i + 8 > len(buf):
        return None
    if buf[i + 2] != ord("0"):
        return _token(Kind.UNKNOWN, buf, i, i + 3)
    width_bytes = buf[i + 4] + 256 * buf[i + 5]
    height = buf[i + 6] + 256 * buf[i + 7]
    size = width_bytes * height
    if size > _MAX_PAYLOAD:
        return _token(Kind.UNKNOWN, buf, i, i + 8)
    end = i + 8 + size
    if end > len(buf):
        return None
    return _token(Kind.RASTER_IMAGE, buf, i, end, width=width_bytes * 8, height=height)


def _extended(buf: bytes, i: int, length_bytes: int) -> Token | None:
    """``GS ( fn pL pH ...`` and ``GS 8 L p1 p2 p3 p4 ...``: a function with a length."""
    header = 3 + length_bytes
    if i + header > len(buf):
        return None
    function = buf[i + 2]
    length = int.from_bytes(buf[i + 3 : i + header], "little")
    if length > _MAX_PAYLOAD:
        return _token(Kind.UNKNOWN, buf, i, i + header)
    end = i + header + length
    if end > len(buf):
        return None
    payload = bytes(buf[i + header : end])
    if function == ord("k") and len(payload) >= 2:  # 2D codes: cn fn [m] data
        name = _CODES_2D.get(payload[0], f"2D{payload[0]}")
        if payload[1] == 80:  # store the data: cn 80 m d...
            return _token(Kind.CODE_2D_DATA, buf, i, end, data=payload[3:], name=name)
        if payload[1] == 81:  # print the stored symbol
            return _token(Kind.CODE_2D_PRINT, buf, i, end, name=name)
    if function == ord("L") and len(payload) >= 2:  # graphics: m fn ...
        if payload[1] in (112, 113) and len(payload) >= 10:  # store raster: a bx by c x y
            width = payload[6] + 256 * payload[7]
            height = payload[8] + 256 * payload[9]
            return _token(Kind.GRAPHICS_DATA, buf, i, end, width=width, height=height)
        if payload[1] in (50, 2):  # print the stored graphics
            return _token(Kind.GRAPHICS_PRINT, buf, i, end)
    return _token(Kind.IGNORED, buf, i, end)


class EscPosParser:
    """Incremental tokenizer: feed bytes as they arrive, get the complete tokens back."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Token]:
        buf = self._pending + data
        tokens: list[Token] = []
        position = 0
        while position < len(buf):
            token = next_token(buf, position)
            if token is None:
                break
            tokens.append(token)
            position += len(token.raw)
        self._pending = buf[position:]
        return tokens

    def finish(self) -> list[Token]:
        """The end of the stream: a command still waiting for bytes is truncated."""
        rest, self._pending = self._pending, b""
        return [Token(Kind.TRUNCATED, rest)] if rest else []

    @property
    def pending(self) -> int:
        return len(self._pending)


@functools.cache
def _code_page(profile: str, number: int) -> tuple[str, ...] | None:
    """Characters 0x80-0xFF of code page ``number`` as the profile numbers its tables."""
    from escpos.capabilities import CAPABILITIES  # lazy: see hardware.printing.url

    name = CAPABILITIES["profiles"][profile]["codePages"].get(str(number))
    encoding = CAPABILITIES["encodings"].get(name or "", {})
    if "data" in encoding:
        table = "".join(encoding["data"])
        return tuple(table) if len(table) == 128 else None
    codec = encoding.get("python_encode")
    if not codec:
        return None
    chars = []
    for byte in range(128, 256):
        try:
            chars.append(bytes([byte]).decode(codec))
        except UnicodeDecodeError:
            chars.append("?")
    return tuple(chars)


def _code128_text(data: bytes) -> str:
    """CODE128 data as ESC/POS sends it ("{B" selects code set B) back to its characters."""
    out: list[str] = []
    code_set_c = False
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == ord("{") and index + 1 < len(data):
            selector = chr(data[index + 1])
            index += 2
            if selector in "AB":
                code_set_c = False
            elif selector == "C":
                code_set_c = True
            elif selector == "{":
                out.append("{")
            continue
        out.append(f"{byte:02d}" if code_set_c else chr(byte))
        index += 1
    return "".join(out)


class TextRenderer:
    """Tokens to text lines, one text per receipt (a cut ends a receipt)."""

    def __init__(self, profile: str | None = None, columns: int | None = None) -> None:
        self.profile = resolve_profile(profile or DEFAULT_PROFILE)
        self.columns = columns
        self.receipts: list[str] = []
        self._lines: list[str] = []
        self._chunks: list[tuple[str, int]] = []
        self._stored_2d: tuple[str, bytes] | None = None
        self._stored_graphics = (0, 0)
        self._column_image: list[int] | None = None
        self._reset_modes()

    def _reset_modes(self) -> None:
        self._code_page = 0
        self._align = 0
        self._width_factor = 1

    @property
    def has_content(self) -> bool:
        """Whether the receipt in progress has anything on it yet."""
        return bool(self._column_image or any(line.strip() for line in self._lines)) or any(
            text.strip() for text, _ in self._chunks
        )

    def feed(self, tokens: Iterable[Token]) -> None:
        for token in tokens:
            self.add(token)

    def add(self, token: Token) -> None:
        kind = token.kind
        if kind in (Kind.IGNORED, Kind.UNKNOWN, Kind.STATUS_QUERY):
            return
        if kind is Kind.COLUMN_IMAGE:
            self._add_column_stripe(token)
            return
        if kind is Kind.NEWLINE and self._column_image is not None and not self._chunks:
            return  # the line feed that follows each image stripe
        self._flush_image()
        if kind is Kind.TEXT:
            self._chunks.append((self._decode(token.data), self._width_factor))
        elif kind is Kind.NEWLINE:
            self._flush_line(force=True)
        elif kind is Kind.FEED:
            self._flush_line(force=token.value > 0)
            self._lines.extend([""] * max(token.value - 1, 0))
        elif kind is Kind.INIT:
            self._flush_line()
            self._reset_modes()
        elif kind is Kind.CODE_PAGE:
            self._code_page = token.value
        elif kind is Kind.ALIGN:
            self._align = token.value % 48
        elif kind is Kind.PRINT_MODE:
            self._width_factor = 2 if token.value & 0x20 else 1
        elif kind is Kind.CHAR_SIZE:
            self._width_factor = (token.value >> 4) + 1
        else:
            self._add_marker(token)

    def _add_marker(self, token: Token) -> None:
        kind = token.kind
        if kind is Kind.CODE_2D_DATA:
            self._stored_2d = (token.name, token.data)
            return
        if kind is Kind.GRAPHICS_DATA:
            self._stored_graphics = (token.width, token.height)
            return
        self._flush_line()
        if kind is Kind.BARCODE:
            data = (
                _code128_text(token.data) if "128" in token.name else token.data.decode("latin-1")
            )
            self._lines.append(f"[BARCODE {token.name} {data}]")
        elif kind is Kind.CODE_2D_PRINT and self._stored_2d is not None:
            name, payload = self._stored_2d
            self._lines.append(f"[{name} {payload.decode('utf-8', errors='replace')}]")
        elif kind is Kind.RASTER_IMAGE:
            self._lines.append(f"[IMAGE {token.width}x{token.height}]")
        elif kind is Kind.GRAPHICS_PRINT:
            width, height = self._stored_graphics
            self._lines.append(
                f"[IMAGE {token.name}]" if token.name else f"[IMAGE {width}x{height}]"
            )
        elif kind is Kind.DRAWER:
            self._lines.append("[DRAWER]")
        elif kind is Kind.TRUNCATED:
            self._lines.append(f"[TRUNCATED {len(token.raw)} bytes]")
        elif kind is Kind.CUT:
            while self._lines and not self._lines[-1].strip():
                self._lines.pop()  # the feed that moves the print past the cutter
            self._lines.append("[CUT]")
            self.end_receipt()

    def _decode(self, data: bytes) -> str:
        table = _code_page(self.profile, self._code_page)
        return "".join(
            chr(byte) if byte < 0x80 else (table[byte - 0x80] if table else "?") for byte in data
        )

    def _add_column_stripe(self, token: Token) -> None:
        if self._column_image is not None and self._column_image[0] == token.width:
            self._column_image[1] += token.height
            return
        self._flush_image()
        self._flush_line()
        self._column_image = [token.width, token.height]

    def _flush_image(self) -> None:
        if self._column_image is not None:
            width, height = self._column_image
            self._column_image = None
            self._lines.append(f"[IMAGE {width}x{height}]")

    def _flush_line(self, *, force: bool = False) -> None:
        if not self._chunks and not force:
            return
        text = "".join(chunk for chunk, _ in self._chunks)
        printed_width = sum(cells(chunk) * factor for chunk, factor in self._chunks)
        self._chunks = []
        if self.columns and text and self._align in (1, 2):
            room = max(self.columns - printed_width, 0)
            text = " " * (room // 2 if self._align == 1 else room) + text
        self._lines.append(text.rstrip())

    def end_receipt(self) -> str | None:
        """Close the receipt in progress; return its text, or ``None`` if it was blank."""
        self._flush_image()
        self._flush_line()
        lines, self._lines = self._lines, []
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            return None
        text = "\n".join(lines) + "\n"
        self.receipts.append(text)
        return text


def decode_receipts(
    data: bytes, *, profile: str | None = None, columns: int | None = None
) -> list[str]:
    """The text of each receipt in ``data``; a receipt ends at a cut or at the end."""
    parser = EscPosParser()
    renderer = TextRenderer(profile, columns)
    renderer.feed(parser.feed(data))
    renderer.feed(parser.finish())
    renderer.end_receipt()
    return renderer.receipts


def decode_escpos(data: bytes, *, profile: str | None = None, columns: int | None = None) -> str:
    """All of ``data`` as text; receipts follow each other, each cut marked ``[CUT]``."""
    return "".join(decode_receipts(data, profile=profile, columns=columns))
