"""The keyboard-wedge interceptor: scanner bursts become scans, typing reaches its field.

A USB "keyboard wedge" scanner types its code as key presses, so every key event passes
through :class:`hardware.scanners.wedge.WedgeDetector` before Textual routes it to the
focused widget. The detector holds printable keys back until it can tell a scanner burst
from a person typing; held keys that turn out to be typing are delivered later, in order,
as the very same event objects, so nothing a person types is lost or reordered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

from textual import events

from hardware.scanners.wedge import (
    BurstDropped,
    KeyPress,
    PassThrough,
    ScanDetected,
    WedgeDetector,
    WedgeEvent,
)

__all__ = ["KeyboardWedge"]

DeliverKey = Callable[[events.Key], Awaitable[None]]
OnScan = Callable[[str], Awaitable[None] | None]
OnDropped = Callable[[str], None]


class KeyboardWedge:
    """Feeds Textual key events to a :class:`WedgeDetector` and acts on what it decides."""

    def __init__(
        self,
        detector: WedgeDetector,
        monotonic: Callable[[], float],
        *,
        deliver_key: DeliverKey,
        on_scan: OnScan,
        on_dropped: OnDropped,
    ) -> None:
        self.detector = detector
        self._monotonic = monotonic
        self._deliver_key = deliver_key
        self._on_scan = on_scan
        self._on_dropped = on_dropped
        # Every key fed in comes out of the detector exactly once and in order, so a FIFO
        # pairs each KeyPress the detector returns with the original Textual event.
        self._pending: deque[events.Key] = deque()

    async def key(self, event: events.Key) -> None:
        """Take one key event from the terminal (not yet routed to any widget)."""
        self._pending.append(event)
        await self._act(self.detector.feed(event.key, event.character, self._monotonic()))

    async def poll(self) -> None:
        """Release held keys once the scanner's gap has passed (call on a short timer)."""
        if self.detector.next_deadline() is None:
            return
        await self._act(self.detector.poll(self._monotonic()))

    async def flush(self) -> None:
        """Settle held keys now, as if the gap had passed (tests, and before a screen swaps)."""
        deadline = self.detector.next_deadline()
        if deadline is not None:
            await self._act(self.detector.poll(deadline + self.detector.max_gap_s))

    async def _act(self, decisions: list[WedgeEvent]) -> None:
        for decision in decisions:
            originals = self._take(decision.keys)
            match decision:
                case PassThrough():
                    for event in originals:
                        await self._deliver_key(event)
                case ScanDetected(data=data):
                    result = self._on_scan(data)
                    if result is not None:
                        await result
                case BurstDropped(reason=reason, continuation=continuation):
                    if not continuation:
                        self._on_dropped(reason)

    def _take(self, keys: tuple[KeyPress, ...]) -> list[events.Key]:
        return [self._pending.popleft() for _ in keys]
