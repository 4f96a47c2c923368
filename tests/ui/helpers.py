"""Driving the till UI from tests: typing, scanning and waiting for the app to settle."""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.keys import _character_to_key, key_to_character
from textual.pilot import Pilot
from textual.widget import Widget

from shared.money import Money
from shared.receipt import Receipt
from terminal.ui import TillApp
from terminal.ui.widgets.message_line import MessageLine

W = TypeVar("W", bound=Widget)

TYPING_GAP_S = 0.2
"""Far slower than a scanner (the detector's limit is 35 ms): keys count as typing."""
SCAN_GAP_S = 0.004
"""A USB scanner's pace."""


class KeyClock:
    """The monotonic clock the app times key events with: each reading moves on by ``step``.

    So the timing the wedge detector sees is decided by the test, not by how fast the test
    machine happens to be: ``step = TYPING_GAP_S`` types, ``scan()`` switches to a burst.
    """

    def __init__(self) -> None:
        self.now = 1_000.0
        self.step = TYPING_GAP_S

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def keys_for(text: str) -> list[str]:
    return ["space" if char == " " else char for char in text]


def key_event(name: str) -> events.Key:
    """The event a terminal sends for a key name ("f12") or a character ("7", ".")."""
    if len(name) == 1:
        key = name if name.isalnum() else _character_to_key(name)
        return events.Key(key, name)
    return events.Key(name, key_to_character(name))


async def press(pilot: Pilot[None], *keys: str) -> None:
    """Queue key events the way the terminal driver does, without Pilot's idle wait after
    each one (that costs ~60 ms a key). The app takes them in order through ``on_event``,
    so the wedge detector still sees every key at the time the KeyClock gives it."""
    app = pilot.app
    for name in keys:
        event = key_event(name)
        event.set_sender(app)
        app.post_message(event)
    await settle(pilot)


async def settle(pilot: Pilot[None]) -> None:
    """Deliver held keys, let workers (status, printing) finish and their results land."""
    app = pilot.app
    assert isinstance(app, TillApp)
    await app.settle_keys()
    await pilot.pause()
    # A finished worker may start another (a print job refreshes the status bar), so wait
    # until a round starts none; bounded, in case something keeps starting workers.
    for _ in range(5):
        if all(worker.is_finished for worker in app.workers):
            break
        await app.workers.wait_for_complete()
        await pilot.pause()


async def type_text(pilot: Pilot[None], text: str, *then: str) -> None:
    """Type like a person (the key clock's default pace), then press ``then`` keys.

    ``then`` should end the input (Enter, a function key): keys after a key that opens a
    screen may arrive before that screen has focus.
    """
    await press(pilot, *keys_for(text), *then)


async def scan(pilot: Pilot[None], clock: KeyClock, data: str) -> None:
    """A keyboard-wedge scanner burst: the characters fast, then Enter."""
    clock.step = SCAN_GAP_S
    try:
        await press(pilot, *keys_for(data), "enter")
    finally:
        clock.step = TYPING_GAP_S


def euro(minor: int) -> str:
    return Money(minor, "EUR").format()


def message(pilot: Pilot[None]) -> str:
    """The text of the message line on the screen on top."""
    return pilot.app.screen.query_one(MessageLine).text


class RecordingPrinter:
    """A receipt sink that keeps what it was asked to print (a stand-in for paper)."""

    def __init__(self, fail_with: str | None = None) -> None:
        self.fail_with = fail_with
        self.receipts: list[Receipt] = []
        self.reports: list[tuple[str, list[str]]] = []

    def __call__(self) -> RecordingPrinter:
        return self

    def print_receipt(self, receipt: Receipt) -> None:
        if self.fail_with:
            raise OSError(self.fail_with)
        self.receipts.append(receipt)

    def print_lines(self, lines: list[str], *, title: str) -> None:
        if self.fail_with:
            raise OSError(self.fail_with)
        self.reports.append((title, lines))
