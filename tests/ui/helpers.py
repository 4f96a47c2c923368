"""Driving the till UI from tests: typing, scanning and waiting for the app to settle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from textual import events
from textual.keys import _character_to_key, key_to_character
from textual.message_pump import MessagePump
from textual.pilot import Pilot, WaitForScreenTimeout
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


SETTLE_DEADLINE_S = 120.0
"""How long the app may take to settle: a busy machine is slow, not wrong."""


def _quiet(app: TillApp) -> bool:
    """No key held by the wedge detector, no worker running, and no message or callback
    waiting anywhere: the app, and every widget of every screen on the stack (a dismissed
    dialog's result callback runs on the screen below, a worker's result lands on the app)."""
    if app.wedge.detector.next_deadline() is not None:
        return False
    if not all(worker.is_finished for worker in app.workers):
        return False
    nodes: list[MessagePump] = [app]
    for screen in app.screen_stack:
        nodes += screen.walk_children(with_self=True)
    return all(node.message_queue_size == 0 and not node._next_callbacks for node in nodes)


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the keys posted so far and everything they set off are done: keys taken
    from the wedge detector, screens pushed and popped, result callbacks run, workers
    (status, printing) finished and their results shown. A condition with a generous
    deadline, not a number of rounds: on a busy machine all this may take many rounds."""
    app = pilot.app
    assert isinstance(app, TillApp)
    deadline = time.monotonic() + SETTLE_DEADLINE_S
    while True:
        # Held keys are released now rather than by the app's real-time timer.
        await app.settle_keys()
        with contextlib.suppress(WaitForScreenTimeout):  # Textual's 30 s; ours is below
            await pilot.pause()
        if app.return_code is not None or _quiet(app):
            return  # settled (or the app stopped: the test's next step says why)
        if time.monotonic() > deadline:
            raise AssertionError(f"the till did not settle in {SETTLE_DEADLINE_S:.0f} s")
        busy = [worker for worker in app.workers if not worker.is_finished]
        if busy:
            with contextlib.suppress(TimeoutError):  # then the deadline above says so
                await asyncio.wait_for(
                    app.workers.wait_for_complete(busy), max(0.0, deadline - time.monotonic())
                )


async def wait_until(
    pilot: Pilot[None], predicate: Callable[[], bool], what: str, timeout_s: float = 60.0
) -> None:
    """Let the app run until ``predicate()`` holds (something outside the app's queues: a
    serial port, a real-time timer); fail naming ``what`` after a generous deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await pilot.pause(0.01)


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
