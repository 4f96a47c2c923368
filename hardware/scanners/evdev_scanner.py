"""USB HID scanners read straight from a Linux input device, with an exclusive grab.

A keyboard-wedge scanner read through the terminal types into whatever has focus; reading its
``/dev/input/event*`` device with ``device.grab()`` instead means its keys never reach the UI
at all, and no timing guesswork is needed. Optional and Linux-only: the ``evdev`` package
(``pip install 'loyaltill[evdev]'``) is imported only when an :class:`EvdevScanner` is made.

The key-code to character translation (US layout, Shift, Caps Lock, Ctrl for GS1 separators)
is pure (:class:`KeyDecoder`) and carries its own table of Linux input-event codes, so it is
tested without the package or a device. Use a stable path such as
``/dev/input/by-id/usb-<vendor>_<model>-event-kbd``: the ``eventN`` number can change when the
scanner is plugged back in, the by-id link does not.
"""

from __future__ import annotations

import contextlib
import importlib
import select
from types import ModuleType
from typing import Any, Final

from hardware.scanners.framing import Frame, FrameResult, Rejected
from hardware.scanners.reader import RejectCallback, ScanCallback, ScannerReader
from hardware.scanners.stats import ScanStats
from shared.codes import CodeConfig, safe_preview
from shared.scan import ScanSource, SourceKind

__all__ = [
    "EV_KEY",
    "EvdevScanner",
    "EvdevUnavailableError",
    "KeyDecoder",
    "import_evdev",
    "key_to_char",
]

# ------------------------------------------------------------------------------------------
# Linux input-event codes (linux/input-event-codes.h) and the US layout
# ------------------------------------------------------------------------------------------

EV_KEY: Final = 0x01
KEY_UP: Final = 0
KEY_DOWN: Final = 1  # (2 is autorepeat, which a scanner never sends)

KEY_ENTER: Final = 28
KEY_KPENTER: Final = 96
KEY_LEFTSHIFT: Final = 42
KEY_RIGHTSHIFT: Final = 54
KEY_LEFTCTRL: Final = 29
KEY_RIGHTCTRL: Final = 97
KEY_CAPSLOCK: Final = 58

# (kernel name, code, character, character with Shift)
US_LAYOUT: Final[tuple[tuple[str, int, str, str], ...]] = (
    ("KEY_1", 2, "1", "!"),
    ("KEY_2", 3, "2", "@"),
    ("KEY_3", 4, "3", "#"),
    ("KEY_4", 5, "4", "$"),
    ("KEY_5", 6, "5", "%"),
    ("KEY_6", 7, "6", "^"),
    ("KEY_7", 8, "7", "&"),
    ("KEY_8", 9, "8", "*"),
    ("KEY_9", 10, "9", "("),
    ("KEY_0", 11, "0", ")"),
    ("KEY_MINUS", 12, "-", "_"),
    ("KEY_EQUAL", 13, "=", "+"),
    ("KEY_Q", 16, "q", "Q"),
    ("KEY_W", 17, "w", "W"),
    ("KEY_E", 18, "e", "E"),
    ("KEY_R", 19, "r", "R"),
    ("KEY_T", 20, "t", "T"),
    ("KEY_Y", 21, "y", "Y"),
    ("KEY_U", 22, "u", "U"),
    ("KEY_I", 23, "i", "I"),
    ("KEY_O", 24, "o", "O"),
    ("KEY_P", 25, "p", "P"),
    ("KEY_LEFTBRACE", 26, "[", "{"),
    ("KEY_RIGHTBRACE", 27, "]", "}"),
    ("KEY_A", 30, "a", "A"),
    ("KEY_S", 31, "s", "S"),
    ("KEY_D", 32, "d", "D"),
    ("KEY_F", 33, "f", "F"),
    ("KEY_G", 34, "g", "G"),
    ("KEY_H", 35, "h", "H"),
    ("KEY_J", 36, "j", "J"),
    ("KEY_K", 37, "k", "K"),
    ("KEY_L", 38, "l", "L"),
    ("KEY_SEMICOLON", 39, ";", ":"),
    ("KEY_APOSTROPHE", 40, "'", '"'),
    ("KEY_GRAVE", 41, "`", "~"),
    ("KEY_BACKSLASH", 43, "\\", "|"),
    ("KEY_Z", 44, "z", "Z"),
    ("KEY_X", 45, "x", "X"),
    ("KEY_C", 46, "c", "C"),
    ("KEY_V", 47, "v", "V"),
    ("KEY_B", 48, "b", "B"),
    ("KEY_N", 49, "n", "N"),
    ("KEY_M", 50, "m", "M"),
    ("KEY_COMMA", 51, ",", "<"),
    ("KEY_DOT", 52, ".", ">"),
    ("KEY_SLASH", 53, "/", "?"),
    ("KEY_KPASTERISK", 55, "*", "*"),
    ("KEY_SPACE", 57, " ", " "),
    # Keypad keys: some scanners type digits there (they assume Num Lock is on).
    ("KEY_KP7", 71, "7", "7"),
    ("KEY_KP8", 72, "8", "8"),
    ("KEY_KP9", 73, "9", "9"),
    ("KEY_KPMINUS", 74, "-", "-"),
    ("KEY_KP4", 75, "4", "4"),
    ("KEY_KP5", 76, "5", "5"),
    ("KEY_KP6", 77, "6", "6"),
    ("KEY_KPPLUS", 78, "+", "+"),
    ("KEY_KP1", 79, "1", "1"),
    ("KEY_KP2", 80, "2", "2"),
    ("KEY_KP3", 81, "3", "3"),
    ("KEY_KP0", 82, "0", "0"),
    ("KEY_KPDOT", 83, ".", "."),
    ("KEY_KPSLASH", 98, "/", "/"),
)

_CHARACTERS: Final = {code: (plain, shifted) for _, code, plain, shifted in US_LAYOUT}
_SHIFTS: Final = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
_CTRLS: Final = frozenset({KEY_LEFTCTRL, KEY_RIGHTCTRL})
_ENTERS: Final = frozenset({KEY_ENTER, KEY_KPENTER})


def key_to_char(
    code: int, *, shift: bool = False, caps_lock: bool = False, ctrl: bool = False
) -> str | None:
    """The character a key types on a US layout; None for keys that type nothing.

    Caps Lock affects letters only, as on a real keyboard. Ctrl+letter and Ctrl+[ \\ ] give
    the C0 control characters: scanners send GS (Ctrl+]) between GS1 fields this way.
    """
    pair = _CHARACTERS.get(code)
    if pair is None:
        return None
    plain, shifted = pair
    if ctrl:
        base = plain.upper()
        return chr(ord(base) - 0x40) if "@" <= base <= "_" else None
    if plain.isalpha():
        return shifted if shift != caps_lock else plain
    return shifted if shift else plain


REASON_UNKNOWN_KEY: Final = (
    "scan contained a key the till cannot translate — set the scanner to a US keyboard layout"
)


def _reason_too_long(max_length: int) -> str:
    return f"scan is longer than {max_length} characters — scan again"


class KeyDecoder:
    """Turns EV_KEY events into lines, one per Enter. Pure; the result types are the framer's."""

    def __init__(self, max_length: int = 256) -> None:
        self.max_length = max_length
        self._chars: list[str] = []
        self._shifts_down: set[int] = set()
        self._ctrls_down: set[int] = set()
        self._caps_lock = False
        self._untranslatable = False
        self._overflow = False

    def feed(self, code: int, value: int) -> FrameResult | None:
        """One key event (``value``: 1 down, 0 up, 2 repeat); a result when a line ends."""
        if code in _SHIFTS or code in _CTRLS:
            held = self._shifts_down if code in _SHIFTS else self._ctrls_down
            if value == KEY_UP:
                held.discard(code)
            else:
                held.add(code)
            return None
        if value != KEY_DOWN:
            return None
        if code == KEY_CAPSLOCK:
            self._caps_lock = not self._caps_lock
            return None
        if code in _ENTERS:
            return self._end_line()
        char = key_to_char(
            code,
            shift=bool(self._shifts_down),
            caps_lock=self._caps_lock,
            ctrl=bool(self._ctrls_down),
        )
        if char is None:
            self._untranslatable = True
        elif len(self._chars) < self.max_length:
            self._chars.append(char)
        else:
            self._overflow = True
        return None

    def _end_line(self) -> FrameResult | None:
        text = "".join(self._chars)
        untranslatable, overflow = self._untranslatable, self._overflow
        self._chars.clear()
        self._untranslatable = self._overflow = False
        if overflow:
            return Rejected("too_long", _reason_too_long(self.max_length), safe_preview(text))
        if untranslatable:
            return Rejected("unknown_key", REASON_UNKNOWN_KEY, safe_preview(text))
        return Frame(text) if text else None


# ------------------------------------------------------------------------------------------
# The device reader (needs the evdev package and a real device: not run by the tests)
# ------------------------------------------------------------------------------------------


class EvdevUnavailableError(RuntimeError):
    pass


def import_evdev() -> ModuleType:
    try:
        return importlib.import_module("evdev")
    except ImportError as error:
        raise EvdevUnavailableError(
            "reading scanners from /dev/input needs the evdev package — "
            "install it with: pip install 'loyaltill[evdev]'"
        ) from error


class EvdevScanner(ScannerReader):
    """Reads one input device with an exclusive grab; reconnects like the serial scanner."""

    def __init__(
        self,
        device_path: str,
        on_scan: ScanCallback,
        *,
        on_reject: RejectCallback | None = None,
        code_config: CodeConfig | None = None,
        stats: ScanStats | None = None,
        grab: bool = True,
        max_length: int = 256,
        read_timeout_s: float = 0.05,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 2.0,
    ) -> None:
        super().__init__(
            ScanSource(SourceKind.EVDEV, device_path),
            on_scan,
            on_reject=on_reject,
            code_config=code_config,
            stats=stats,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self._evdev = import_evdev()  # fail at start-up, with the install hint, not mid-shift
        self.device_path = device_path
        self.grab = grab
        self.max_length = max_length
        self.read_timeout_s = read_timeout_s
        self._device: Any = None
        self._decoder = KeyDecoder(max_length)

    def _open(self) -> None:
        device = self._evdev.InputDevice(self.device_path)
        try:
            if self.grab:
                device.grab()  # EBUSY if another program grabbed it: an OSError, retried
        except OSError:
            device.close()
            raise
        self._device = device
        # Modifier state from before an unplug means nothing for the device plugged back in.
        self._decoder = KeyDecoder(self.max_length)

    def _read_once(self) -> None:
        ready, _, _ = select.select([self._device.fd], [], [], self.read_timeout_s)
        if not ready:
            return
        try:
            events = list(self._device.read())
        except BlockingIOError:
            return  # woken without an event; not an unplug
        for event in events:
            if event.type != EV_KEY:
                continue
            result = self._decoder.feed(event.code, event.value)
            if isinstance(result, Frame):
                self._deliver(result.text)
            elif isinstance(result, Rejected):
                self._reject(result.code, result.reason, result.preview)

    def _close(self) -> None:
        device, self._device = self._device, None
        if device is None:
            return
        # An unplugged device can fail both calls; nothing is left to release then.
        if self.grab:
            with contextlib.suppress(OSError):
                device.ungrab()
        with contextlib.suppress(OSError):
            device.close()
