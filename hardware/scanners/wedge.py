"""Tell a keyboard-wedge scanner from a person typing, by the timing of the keys.

A USB HID ("keyboard wedge") scanner types its data as key presses. Scanners send them 2-15 ms
apart and end with Enter; people, even fast typists, rarely press keys less than 50 ms apart,
and never keep that up for several keys. So a burst of at least ``min_length`` keys, each at
most ``max_gap_s`` after the previous one, starting with a printable key and ending in the
terminator key, is a scan. Keys with a control character (GS1's GS, typed as Ctrl+]) belong to
a burst already under way.

The detector must hold printable keys back until it knows which it is. Keys that turn out to be
typing are released as :class:`PassThrough` (in order, so nothing a person types is lost); a
scan comes out as :class:`ScanDetected` and never reaches the focused field. A fast burst that
stops without its terminator is a scan cut off mid-way: it is dropped as :class:`BurstDropped`
and counted as rejected, rather than typed into whatever field has focus.

Pure logic with no clock and no UI import: the till feeds it Textual key events with their
arrival times and calls :meth:`WedgeDetector.poll` from a timer (see
:meth:`WedgeDetector.next_deadline`). Times are monotonic seconds; floats are fine for time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from hardware.scanners.stats import ScanStats
from shared.codes import safe_preview
from shared.scan import RejectedScan, ScanSource, SourceKind

__all__ = [
    "DEFAULT_MAX_GAP_S",
    "DEFAULT_MIN_LENGTH",
    "BurstDropped",
    "KeyPress",
    "PassThrough",
    "ScanDetected",
    "WedgeDetector",
    "WedgeEvent",
]

DEFAULT_MAX_GAP_S: Final = 0.035
"""Above the 2-15 ms of common USB HID scanners (with room for a busy event loop), below the
50 ms and more between a person's key presses."""
DEFAULT_MIN_LENGTH: Final = 4
"""Fast typists do produce two or three keys under 35 ms (rolling over "th"), never four in a
row; the shortest code the till reads (EAN-8) has 8 characters."""
DEFAULT_MAX_LENGTH: Final = 256
"""Longer than any code the till knows (a member QR is under 80 characters)."""

REASON_INCOMPLETE: Final = (
    "scan was cut off before its end (no Enter from the scanner) — scan again; "
    "if it keeps happening, set the scanner to send Enter after each code"
)
REASON_WRONG_END: Final = (
    "scan ended with another key instead of Enter — set the scanner to send Enter after each code"
)
REASON_TOO_LONG: Final = (
    "scan is far longer than any code the till knows — scan again; "
    "if it keeps happening, check the scanner's settings"
)


@dataclass(frozen=True, slots=True)
class KeyPress:
    key: str
    """The UI's key name, e.g. "a", "A", "enter", "tab"."""
    character: str | None
    """The character the key types, if any."""
    at: float
    """Arrival time, monotonic seconds."""


@dataclass(frozen=True, slots=True)
class ScanDetected:
    data: str
    keys: tuple[KeyPress, ...]
    """The keys the scan consumed, terminator included (the UI must not see them)."""


@dataclass(frozen=True, slots=True)
class PassThrough:
    """Keys a person typed, held back while deciding; the UI handles them now, in order."""

    keys: tuple[KeyPress, ...]


@dataclass(frozen=True, slots=True)
class BurstDropped:
    """A scanner burst that was not a complete scan; the till may show ``reason``."""

    keys: tuple[KeyPress, ...]
    reason: str
    continuation: bool = False
    """True for the rest of an over-long burst whose first part was already counted."""


WedgeEvent: TypeAlias = ScanDetected | PassThrough | BurstDropped

_WEDGE_SOURCE: Final = ScanSource(SourceKind.WEDGE, "keyboard")


class WedgeDetector:
    """Splits a stream of key presses into scans and typing; see the module docstring."""

    def __init__(
        self,
        max_gap_s: float = DEFAULT_MAX_GAP_S,
        min_length: int = DEFAULT_MIN_LENGTH,
        terminator: str = "enter",
        max_length: int = DEFAULT_MAX_LENGTH,
        *,
        stats: ScanStats | None = None,
        source: ScanSource = _WEDGE_SOURCE,
    ) -> None:
        if max_gap_s <= 0:
            raise ValueError("max_gap_s must be positive")
        if not 1 <= min_length <= max_length:
            raise ValueError("need 1 <= min_length <= max_length")
        self.max_gap_s = max_gap_s
        self.min_length = min_length
        self.terminator = terminator
        self.max_length = max_length
        self.stats = stats if stats is not None else ScanStats()
        self.source = source
        self._held: list[KeyPress] = []
        # Set once an over-long burst was dropped: the rest of it is dropped too, until the
        # keys stop or the terminator comes.
        self._discarding = False
        self._last_at = 0.0

    def feed(self, key: str, character: str | None, at: float) -> list[WedgeEvent]:
        """Take one key press; returns what the UI should do now (often nothing yet)."""
        press = KeyPress(key, character, at)
        events = self.poll(at)
        if self._holds(press):
            self._held.append(press)
            self._last_at = at
            if len(self._held) > self.max_length:
                # Held keys stay bounded: drop what is held now, and the rest of it later.
                if self._discarding:
                    events.append(BurstDropped(self._take(), REASON_TOO_LONG, continuation=True))
                else:
                    events.append(self._drop(self._take(), REASON_TOO_LONG, "too_long"))
                self._discarding = True
            return events
        if not self._burst_active():
            events.append(PassThrough((press,)))
            return events
        keys = (*self._take(), press)
        if self._discarding:
            self._discarding = False
            events.append(BurstDropped(keys, REASON_TOO_LONG, continuation=True))
        elif len(keys) - 1 < self.min_length:
            events.append(PassThrough(keys))
        elif key == self.terminator:
            self.stats.record_accepted()
            events.append(ScanDetected(_text(keys[:-1]), keys))
        elif _is_autorepeat(keys[:-1]):
            events.append(PassThrough(keys))
        else:
            events.append(self._drop(keys, REASON_WRONG_END, "wrong_end"))
        return events

    def poll(self, now: float) -> list[WedgeEvent]:
        """Settle held keys once ``max_gap_s`` has passed without another key."""
        if not self._burst_active() or now - self._last_at <= self.max_gap_s:
            return []
        keys = self._take()
        if self._discarding:
            self._discarding = False
            return [BurstDropped(keys, REASON_TOO_LONG, continuation=True)] if keys else []
        if len(keys) < self.min_length or _is_autorepeat(keys):
            return [PassThrough(keys)]
        return [self._drop(keys, REASON_INCOMPLETE, "incomplete")]

    def next_deadline(self) -> float | None:
        """When :meth:`poll` may have something to release; None if nothing is held."""
        return self._last_at + self.max_gap_s if self._burst_active() else None

    def _holds(self, press: KeyPress) -> bool:
        """Whether the key joins the held burst (instead of ending it, or passing through)."""
        character = press.character
        if character is None or len(character) != 1 or press.key == self.terminator:
            return False
        # Only a printable key starts a burst; within one, a control character is part of the
        # code (scanners type the GS that separates GS1 fields as Ctrl+]).
        return character.isprintable() or self._burst_active()

    def _burst_active(self) -> bool:
        return bool(self._held) or self._discarding

    def _take(self) -> tuple[KeyPress, ...]:
        keys = tuple(self._held)
        self._held.clear()
        return keys

    def _drop(self, keys: tuple[KeyPress, ...], reason: str, code: str) -> BurstDropped:
        preview = safe_preview(_text(keys))
        self.stats.record_rejected(RejectedScan(self.source, code, reason, preview))
        return BurstDropped(keys, reason)


def _text(keys: tuple[KeyPress, ...]) -> str:
    return "".join(press.character or "" for press in keys)


def _is_autorepeat(keys: tuple[KeyPress, ...]) -> bool:
    """A held-down key repeats one character; a person's, not a scan (autorepeat can be fast).

    A barcode of one repeated character ending in Enter is still a scan: this only decides
    what to do with a fast burst that did *not* end in Enter.
    """
    return len({(press.key, press.character) for press in keys}) == 1
