"""evdev key translation: the table, Shift/Caps Lock/Ctrl, and lines per Enter.

A real device needs the evdev package and /dev/input, neither of which exists here; the reader
loop runs against a fake evdev module whose "device" is a pipe.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import queue
import re
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from hardware.scanners.evdev_scanner import (
    EV_KEY,
    US_LAYOUT,
    EvdevScanner,
    EvdevUnavailableError,
    KeyDecoder,
    key_to_char,
)
from hardware.scanners.framing import Frame, FrameResult, Rejected
from hardware.scanners.reader import ScannerState
from shared.scan import RejectedScan, Scan, SourceKind

HEADER = Path("/usr/include/linux/input-event-codes.h")
WAIT_S = 60.0
"""Waits for the reader thread: a condition with a generous deadline (a busy machine is slow)."""

KEY_A, KEY_1, KEY_0, KEY_SLASH, KEY_SPACE = 30, 2, 11, 53, 57
KEY_ENTER, KEY_KPENTER, KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 28, 96, 42, 54
KEY_LEFTCTRL, KEY_CAPSLOCK, KEY_RIGHTBRACE, KEY_F1, KEY_KP5 = 29, 58, 27, 59, 76

# Character -> keys to press on a US keyboard (what a HID scanner does).
_TYPING = {plain: (code, False) for _, code, plain, _ in reversed(US_LAYOUT)} | {
    shifted: (code, True) for _, code, plain, shifted in reversed(US_LAYOUT) if shifted != plain
}


def type_line(decoder: KeyDecoder, text: str) -> FrameResult | None:
    """Press and release the keys for ``text`` and then Enter, as a scanner does."""
    for char in text:
        code, shift = _TYPING[char]
        if shift:
            assert decoder.feed(KEY_LEFTSHIFT, 1) is None
        assert decoder.feed(code, 1) is None
        assert decoder.feed(code, 0) is None
        if shift:
            assert decoder.feed(KEY_LEFTSHIFT, 0) is None
    result = decoder.feed(KEY_ENTER, 1)
    assert decoder.feed(KEY_ENTER, 0) is None
    return result


@pytest.mark.skipif(not HEADER.exists(), reason="kernel headers not installed")
def test_the_table_matches_the_kernel_header() -> None:
    defines = {
        name: int(value, 0)
        for name, value in re.findall(
            r"#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\b", HEADER.read_text()
        )
    }
    assert defines["EV_KEY"] == EV_KEY
    for name, code, _, _ in US_LAYOUT:
        assert defines[name] == code, name
    named = {
        "KEY_ENTER": KEY_ENTER,
        "KEY_KPENTER": KEY_KPENTER,
        "KEY_LEFTSHIFT": KEY_LEFTSHIFT,
        "KEY_RIGHTSHIFT": KEY_RIGHTSHIFT,
        "KEY_LEFTCTRL": KEY_LEFTCTRL,
        "KEY_CAPSLOCK": KEY_CAPSLOCK,
    }
    assert {name: defines[name] for name in named} == named


def test_the_table_covers_printable_ascii_once() -> None:
    codes = [code for _, code, _, _ in US_LAYOUT]
    assert len(codes) == len(set(codes))
    typed = {char for _, _, plain, shifted in US_LAYOUT for char in (plain, shifted)}
    assert typed == {chr(value) for value in range(0x20, 0x7F)}


@pytest.mark.parametrize(
    ("code", "shift", "caps", "expected"),
    [
        (KEY_A, False, False, "a"),
        (KEY_A, True, False, "A"),
        (KEY_A, False, True, "A"),  # Caps Lock makes capitals ...
        (KEY_A, True, True, "a"),  # ... and Shift undoes it, for letters only
        (KEY_1, False, True, "1"),
        (KEY_1, True, False, "!"),
        (KEY_0, True, False, ")"),
        (KEY_SLASH, True, False, "?"),
        (KEY_SPACE, True, False, " "),
        (KEY_KP5, True, False, "5"),
        (KEY_F1, False, False, None),
        (KEY_ENTER, False, False, None),
    ],
)
def test_key_to_char(code: int, shift: bool, caps: bool, expected: str | None) -> None:
    assert key_to_char(code, shift=shift, caps_lock=caps) == expected


def test_ctrl_gives_control_characters_for_gs1_separators() -> None:
    assert key_to_char(KEY_RIGHTBRACE, ctrl=True) == "\x1d"  # GS
    assert key_to_char(KEY_A, ctrl=True) == "\x01"
    assert key_to_char(KEY_1, ctrl=True) is None


def test_a_scanned_line_per_enter() -> None:
    decoder = KeyDecoder()
    assert type_line(decoder, "4006381333931") == Frame("4006381333931")
    assert type_line(decoder, "V-ABCD-EFGH-JK2M") == Frame("V-ABCD-EFGH-JK2M")
    assert type_line(decoder, 'LT1.k_1.98~|"?') == Frame('LT1.k_1.98~|"?')
    assert type_line(decoder, "") is None  # a lone Enter is no scan


def test_gs1_line_with_ctrl_and_keypad_enter() -> None:
    decoder = KeyDecoder()
    events = [(KEY_0, 1), (KEY_0, 0), (KEY_LEFTCTRL, 1), (KEY_RIGHTBRACE, 1)]
    events += [(KEY_RIGHTBRACE, 0), (KEY_LEFTCTRL, 0), (KEY_1, 1), (KEY_1, 0)]
    assert [decoder.feed(code, value) for code, value in events] == [None] * len(events)
    assert decoder.feed(KEY_KPENTER, 1) == Frame("0\x1d1")


def test_caps_lock_toggles_and_autorepeat_is_ignored() -> None:
    decoder = KeyDecoder()
    for code, value in [(KEY_CAPSLOCK, 1), (KEY_CAPSLOCK, 0), (KEY_A, 1), (KEY_A, 2), (KEY_A, 0)]:
        decoder.feed(code, value)
    assert decoder.feed(KEY_ENTER, 1) == Frame("A")


def test_both_shift_keys_must_be_released() -> None:
    decoder = KeyDecoder()
    for code, value in [(KEY_LEFTSHIFT, 1), (KEY_RIGHTSHIFT, 1), (KEY_LEFTSHIFT, 0), (KEY_A, 1)]:
        decoder.feed(code, value)
    assert decoder.feed(KEY_ENTER, 1) == Frame("A")


def test_untranslatable_keys_and_over_long_lines_are_rejected_then_reset() -> None:
    decoder = KeyDecoder(max_length=5)
    decoder.feed(KEY_1, 1)
    decoder.feed(KEY_F1, 1)
    result = decoder.feed(KEY_ENTER, 1)
    assert isinstance(result, Rejected)
    assert result.code == "unknown_key"
    assert "US keyboard" in result.reason
    result = type_line(decoder, "1234567")
    assert isinstance(result, Rejected)
    assert result.code == "too_long"
    assert type_line(decoder, "12") == Frame("12")


@pytest.mark.skipif(importlib.util.find_spec("evdev") is not None, reason="evdev is installed here")
def test_without_the_package_the_error_says_what_to_install() -> None:
    with pytest.raises(EvdevUnavailableError, match=r"loyaltill\[evdev\]"):
        EvdevScanner("/dev/input/by-id/usb-scanner-event-kbd", lambda scan: None)


# ------------------------------------------------------------------------------------------
# The reader loop against a fake evdev module (a real input device cannot exist here)
# ------------------------------------------------------------------------------------------


class FakeEvent(NamedTuple):
    type: int
    code: int
    value: int


class FakeInputDevice:
    """Stands in for evdev.InputDevice: a pipe's read end as ``fd``, events queued by the test."""

    def __init__(self, module: FakeEvdev, path: str) -> None:
        if path not in module.plugged:
            raise FileNotFoundError(errno.ENOENT, "No such device", path)
        self._read_fd, self._write_fd = os.pipe()
        self.fd = self._read_fd
        self.grabbed = False
        self.unplugged = False
        self._events: queue.SimpleQueue[FakeEvent] = queue.SimpleQueue()
        module.opened.put(self)

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def read(self) -> Iterator[FakeEvent]:
        os.read(self._read_fd, 4096)
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if self._events.empty():
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        while not self._events.empty():
            yield self._events.get()

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    # test side
    def press(self, *keys: tuple[int, int]) -> None:
        for code, value in keys:
            self._events.put(FakeEvent(EV_KEY, code, value))
        os.write(self._write_fd, b"!")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._write_fd, b"!")


class FakeEvdev(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("evdev")
        self.plugged: set[str] = set()
        self.opened: queue.Queue[FakeInputDevice] = queue.Queue()

    def InputDevice(self, path: str) -> FakeInputDevice:
        return FakeInputDevice(self, path)


def key_events(text: str) -> list[tuple[int, int]]:
    events: list[tuple[int, int]] = []
    for char in text:
        code, shift = _TYPING[char]
        press = [(code, 1), (code, 0)]
        events += [(KEY_LEFTSHIFT, 1), *press, (KEY_LEFTSHIFT, 0)] if shift else press
    return [*events, (KEY_ENTER, 1), (KEY_ENTER, 0)]


def wait_until(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.005)
    return predicate()


def test_the_reader_loop_grabs_reads_and_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEvdev()
    monkeypatch.setitem(sys.modules, "evdev", fake)
    path = "/dev/input/by-id/usb-fake-scanner-event-kbd"
    scans: queue.Queue[Scan] = queue.Queue()
    rejected: queue.Queue[RejectedScan] = queue.Queue()
    scanner = EvdevScanner(
        path, scans.put, on_reject=rejected.put, backoff_initial_s=0.02, backoff_max_s=0.1
    )
    with scanner:
        assert wait_until(lambda: scanner.status().state is ScannerState.RECONNECTING)
        fake.plugged.add(path)
        device = fake.opened.get(timeout=WAIT_S)
        assert wait_until(lambda: scanner.status().state is ScannerState.CONNECTED)
        assert device.grabbed
        device.press(*key_events("4006381333931"))
        device.press((KEY_F1, 1), (KEY_ENTER, 1))
        scan = scans.get(timeout=WAIT_S)
        assert (scan.data, scan.code.kind) == ("4006381333931", "product")
        assert scan.source.kind is SourceKind.EVDEV
        assert rejected.get(timeout=WAIT_S).code == "unknown_key"

        device.unplug()
        assert wait_until(lambda: scanner.status().state is ScannerState.RECONNECTING)
        assert "disconnected" in (scanner.status().last_error or "")
        replugged = fake.opened.get(timeout=WAIT_S)
        replugged.press(*key_events("V-ABC"))
        assert scans.get(timeout=WAIT_S).data == "V-ABC"
    assert not scanner.is_alive()
    assert not replugged.grabbed  # released on stop
