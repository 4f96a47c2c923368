"""Cut the byte stream of a serial scanner into frames, one per scan. Pure and incremental.

A serial scanner sends ``[prefix][AIM id]data[suffix]<terminator>`` for each code. Bytes
arrive in arbitrary chunks, so :class:`Framer` keeps the unfinished tail between calls. It
never raises on input: whatever arrives becomes a :class:`Frame` or a :class:`Rejected` with a
reason, and a broken frame never swallows the good one after it (the framer resynchronises
at the next terminator).

Control characters inside a frame are kept: GS1 codes use GS (0x1D) as a field separator, and
deciding what a code means is the parser's job. Blank lines (e.g. the LF of a CR LF pair in
"any" mode) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from shared.codes import safe_preview

__all__ = [
    "Frame",
    "FrameResult",
    "Framer",
    "FramingConfig",
    "Rejected",
    "Terminator",
    "parse_escapes",
]


class Terminator(StrEnum):
    CR = "cr"
    LF = "lf"
    CRLF = "crlf"
    ANY = "any"
    """CR, LF or CR LF: works with every common scanner default."""


_TERMINATOR_PATTERNS: Final = {
    Terminator.CR: re.compile(rb"\r"),
    Terminator.LF: re.compile(rb"\n"),
    Terminator.CRLF: re.compile(rb"\r\n"),
    Terminator.ANY: re.compile(rb"[\r\n]"),
}

# AIM symbology identifier (ISO/IEC 15424): "]", a code character, a modifier character.
# e.g. ]E0 EAN-13, ]E4 EAN-8, ]C1 GS1-128, ]Q1 QR code, ]d2 GS1 DataMatrix.
_AIM_ID: Final = re.compile(r"\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True, slots=True)
class FramingConfig:
    terminator: Terminator = Terminator.ANY
    prefix: str = ""
    """Text the scanner puts before every code (e.g. STX); a frame without it is rejected."""
    suffix: str = ""
    """Text the scanner puts after every code, before the terminator."""
    strip_aim: bool = False
    """Remove a leading AIM symbology identifier such as ``]E0`` when present."""
    max_length: int = 512
    """Longest frame in bytes; a longer line is rejected and skipped to the next terminator."""
    frame_timeout_s: float = 0.5
    """Longest silence inside a frame before it counts as cut off."""

    def __post_init__(self) -> None:
        if self.max_length < 1:
            raise ValueError("max_length must be at least 1")
        if self.frame_timeout_s <= 0:
            raise ValueError("frame_timeout_s must be positive")


@dataclass(frozen=True, slots=True)
class Frame:
    text: str
    aim_id: str | None = None
    """The AIM identifier that was stripped, e.g. "]E0"; None if none was (or stripping is off)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    code: str
    """Short stable slug, for counting: not_text, incomplete, too_long, no_prefix, ..."""
    reason: str
    preview: str


FrameResult: TypeAlias = Frame | Rejected

REASON_NOT_TEXT: Final = (
    "scan is not readable text — check that the scanner's baud rate matches the till's"
)
REASON_INCOMPLETE: Final = (
    "scan stopped before its end-of-line — scan again; if it keeps happening, check the "
    "scanner's terminator setting and the cable"
)
REASON_NO_PREFIX: Final = (
    "scan does not start with the configured prefix — scan again; if it keeps happening, "
    "check the scanner's prefix setting"
)
REASON_NO_SUFFIX: Final = (
    "scan does not end with the configured suffix — scan again; if it keeps happening, "
    "check the scanner's suffix setting"
)
REASON_EMPTY: Final = "scan held no data after its prefix and symbology id — scan again"


def reason_too_long(max_length: int) -> str:
    return (
        f"scan is longer than {max_length} bytes — scan again; if it keeps happening, check "
        "the scanner's terminator setting"
    )


class Framer:
    """Incremental framer: :meth:`feed` chunks as they arrive, :meth:`expire` when idle."""

    def __init__(self, config: FramingConfig | None = None) -> None:
        self.config = config if config is not None else FramingConfig()
        self._terminator = _TERMINATOR_PATTERNS[self.config.terminator]
        self._pending = bytearray()
        self._last_byte_at = 0.0
        # After an over-long line: skip everything up to the next terminator.
        self._skipping = False

    def feed(self, chunk: bytes, now: float) -> list[FrameResult]:
        results = self.expire(now)
        if not chunk:
            return results
        self._pending += chunk
        self._last_byte_at = now
        start = 0
        for match in self._terminator.finditer(self._pending):
            result = self._finish(bytes(self._pending[start : match.start()]))
            start = match.end()
            if result is not None:
                results.append(result)
        del self._pending[:start]
        if not self._skipping and len(self._pending) > self.config.max_length + 1:  # +1: CR
            results.append(self._reject_too_long(bytes(self._pending)))
            self._skipping = True
        if self._skipping:
            # Keep a lone CR: it may be the first half of a CR LF that ends the skipped line.
            del self._pending[: -1 if self._pending.endswith(b"\r") else None]
        return results

    def expire(self, now: float) -> list[FrameResult]:
        """Reject an unfinished frame once the line has been silent for ``frame_timeout_s``."""
        if now - self._last_byte_at <= self.config.frame_timeout_s:
            return []
        return self.flush()

    def flush(self) -> list[FrameResult]:
        """End of input (timeout, disconnect): an unfinished frame is rejected as incomplete."""
        pending = bytes(self._pending)
        self._pending.clear()
        was_skipping, self._skipping = self._skipping, False
        if was_skipping or not pending.strip(b"\r\n"):
            return []
        return [Rejected("incomplete", REASON_INCOMPLETE, _preview(pending))]

    def _finish(self, raw: bytes) -> FrameResult | None:
        if self._skipping:
            self._skipping = False  # the tail of an over-long line, already rejected
            return None
        if len(raw) > self.config.max_length:
            return self._reject_too_long(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected("not_text", REASON_NOT_TEXT, _preview(raw))
        # A CR LF scanner read in CR (or LF) mode leaves the other half at the frame's edge.
        text = text.strip("\r\n")
        if not text:
            return None
        return self._unwrap(text)

    def _unwrap(self, text: str) -> FrameResult:
        prefix, suffix = self.config.prefix, self.config.suffix
        if prefix:
            if not text.startswith(prefix):
                return Rejected("no_prefix", REASON_NO_PREFIX, safe_preview(text))
            text = text[len(prefix) :]
        if suffix:
            if not text.endswith(suffix):
                return Rejected("no_suffix", REASON_NO_SUFFIX, safe_preview(text))
            text = text[: -len(suffix)]
        aim_id = None
        if self.config.strip_aim and (match := _AIM_ID.match(text)):
            aim_id = match.group()
            text = text[match.end() :]
        if not text:
            return Rejected("empty", REASON_EMPTY, safe_preview(prefix + (aim_id or "") + suffix))
        return Frame(text, aim_id)

    def _reject_too_long(self, raw: bytes) -> Rejected:
        return Rejected("too_long", reason_too_long(self.config.max_length), _preview(raw))


def _preview(raw: bytes) -> str:
    # U+FFFD for undecodable bytes, then the parser's preview (masks card-number-like runs).
    return safe_preview(raw.decode("utf-8", errors="replace"))


_ESCAPE: Final = re.compile(r"\\(x[0-9A-Fa-f]{2}|[\\rnt0])")
_NAMED: Final = {"\\": "\\", "r": "\r", "n": "\n", "t": "\t", "0": "\0"}


def parse_escapes(text: str) -> str:
    """``\\x02``, ``\\r``, ``\\n``, ``\\t``, ``\\0`` and ``\\\\`` in a setting, as characters.

    Scanner prefixes and suffixes are often control characters (STX, ETX), which a command
    line or a config file can only spell as escapes. Any other backslash stays as it is.
    """

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        return chr(int(body[1:], 16)) if body[0] == "x" else _NAMED[body]

    return _ESCAPE.sub(replace, text)
